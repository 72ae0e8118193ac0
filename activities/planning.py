"""resolve_run: the facts a run starts from, gathered once and recorded in history."""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, contract, planning


@activity(bp)
def resolve_run(request: contract.ResolveInput) -> contract.Plan:
    return planning.resolve_run_plan(azure.clients(), request)
