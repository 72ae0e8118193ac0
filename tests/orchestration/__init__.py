"""The runbook's branches, driven through the real Durable replay against a scripted Azure."""
