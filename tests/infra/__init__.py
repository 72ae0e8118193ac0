"""Offline checks of the azd template (azure.yaml, infra/)."""
