"""Triggers: the operator HTTP API, the AKS Event Grid handler, the Azure Monitor alert webhook and the
retention sweep's timer.

Each concern is one df.Blueprint; function_app.py registers them. Decisions live in
triggers/decisions.py (pure), durable-client bookkeeping in triggers/runs.py.
"""

from triggers import actions, environments, http_api, ui  # noqa: F401  (the operator API's routes register on http_bp)
from triggers.alerts import bp as alerts_bp
from triggers.eventgrid import bp as eventgrid_bp
from triggers.http_common import bp as http_bp
from triggers.retention import bp as retention_bp

BLUEPRINTS = (http_bp, alerts_bp, eventgrid_bp, retention_bp)

__all__ = ["BLUEPRINTS", "alerts_bp", "eventgrid_bp", "http_bp", "retention_bp"]
