"""Front Door activities: read the origins, and change one origin (never more than one per call)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from activities import bp
from activities._common import azure, azure_activity, front_door
from bluegreen.metrics import origin_error_rate
from bluegreen.traffic import FrontDoorRef


@bp.activity_trigger(input_name="payload")
@azure_activity
def read_traffic(payload: dict[str, Any]) -> dict[str, Any]:
    return front_door(payload).read().as_dict()


@bp.activity_trigger(input_name="payload")
@azure_activity
def set_origin_enabled(payload: dict[str, Any]) -> dict[str, Any]:
    provider = front_door(payload)
    origin = provider.read().origin(payload["origin"])
    if origin is not None and origin.enabled == payload["enabled"]:
        return {"changed": False}
    provider.set_enabled(payload["origin"], payload["enabled"])
    return {"changed": True}


@bp.activity_trigger(input_name="payload")
@azure_activity
def measure_error_rate(payload: dict[str, Any]) -> dict[str, Any]:
    """Green's 5xx share over the last interval, ending at the orchestrator's (deterministic) now."""
    fd = payload["front_door"]
    rate = origin_error_rate(
        azure().metrics(),
        FrontDoorRef(fd["kind"], fd["id"], fd["group"]),
        payload["origin_host"],
        datetime.fromisoformat(payload["end"]),
        timedelta(minutes=payload["window_minutes"]),
    )
    return rate.as_dict()
