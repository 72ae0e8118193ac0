"""resolve_run: the facts a run starts from, gathered once and recorded in history."""

from __future__ import annotations

from typing import Any

from activities import bp
from activities._common import azure, azure_activity
from bluegreen.planning import resolve_run_plan


@bp.activity_trigger(input_name="payload")
@azure_activity
def resolve_run(payload: dict[str, Any]) -> dict[str, Any]:
    return resolve_run_plan(azure(), payload)
