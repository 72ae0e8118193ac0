"""Orchestrators: deterministic code only (activities, timers, events, sub-orchestrations). One blueprint."""

import azure.durable_functions as df

bp = df.Blueprint()

from orchestrators import bluegreen_upgrade, children, retention  # noqa: E402  (registers on bp)

__all__ = ["bluegreen_upgrade", "bp", "children", "retention"]
