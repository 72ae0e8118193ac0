"""retention_sweep: delete the retained clusters whose time is up (started by the timer in triggers/retention.py).

The sweep's "now" is its orchestration's time, so on the offline stack it follows the virtual clock, and
one sweep is one history: what it deleted and why it left the rest is its output.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities.retention import sweep_retained
from bluegreen.lazy import contract
from orchestrators import bp
from orchestrators.run import Step, StepFailed, call, iso

RETENTION_SWEEP = "retention_sweep"


@bp.function_name(RETENTION_SWEEP)
@bp.orchestration_trigger(context_name="context")
def retention_sweep(context: df.DurableOrchestrationContext) -> Step:
    skip = list((context.get_input() or {}).get("skip_environments") or [])
    request = contract.SweepInput(now=iso(context.current_utc_datetime), skip_environments=skip)
    try:
        result = yield from call(context, sweep_retained, request)
    except StepFailed as failure:
        result = contract.SweepResult(failed=[failure.reason])
    return contract.wire(result)
