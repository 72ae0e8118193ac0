"""Orchestrators: deterministic code only (activities, timers, events). Registered on one blueprint."""

import azure.durable_functions as df

bp = df.Blueprint()

from orchestrators import bluegreen_upgrade  # noqa: E402  (registers on bp)

__all__ = ["bluegreen_upgrade", "bp"]
