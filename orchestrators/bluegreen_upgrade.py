"""bluegreen_upgrade: the runbook. Resolve, clone, populate, upgrade, verify, approve, switch, bake, retire.

A run of kind `revert` goes back to the cluster an earlier run retained instead (orchestrators/revert.py).

Before the switch any failure leaves blue live and removes green (outcome `failed`); an Abort does
the same (`aborted`). From the first Front Door write on, any trouble (a failed switch, a Rollback,
an error spike) routes traffic back to blue, retried until it succeeds.
"""

from __future__ import annotations

import azure.durable_functions as df

from activities.planning import resolve_run
from bluegreen.lazy import contract
from orchestrators import bp, cleanup, populate, revert, steps, traffic
from orchestrators.run import Aborted, Run, Step, StepFailed


@bp.orchestration_trigger(context_name="context")
def bluegreen_upgrade(context: df.DurableOrchestrationContext) -> Step:
    run = Run(context)
    if run.request.kind == "revert":
        return (yield from revert.revert(run))
    run.enter(contract.Phase.CLONE, f"resolving {run.request.environment}: live cluster, target version, path")
    try:
        plan = yield from run.call(resolve_run, contract.ResolveInput(run_id=context.instance_id, request=run.request))
    except StepFailed as failure:
        return (yield from run.finish(None, contract.Outcome.FAILED, failure.reason))
    run.adopt(plan)
    run.note(
        f"live: {plan.blue.name} at {plan.blue.version}; target {plan.target_version}; green will be {plan.green.name}"
    )

    try:
        yield from cleanup.reclaim_slot(run, plan)
        yield from steps.clone(run, plan)
        yield from populate.populate(run, plan)
        yield from steps.upgrade(run, plan)
        report, origins = yield from steps.verify(run, plan)
        decision = run.approval = yield from steps.approval(run, plan, report)
    except (Aborted, StepFailed) as stopped:
        outcome, reason = steps.stopped_before_the_switch(run, stopped)
        if run.green_created:
            yield from cleanup.remove_green(run, plan)
        return (yield from run.finish(plan, outcome, reason))
    if not decision.approved:
        run.abortable = False
        run.note(f"rejected by {decision.by or 'nobody'}: {decision.comment or 'no comment'}")
        yield from cleanup.remove_green(run, plan)
        return (
            yield from run.finish(plan, contract.Outcome.REJECTED, decision.comment or f"rejected by {decision.by}")
        )
    run.note(f"approved by {decision.by}")

    # From here on traffic moves: any trouble means "back to blue".
    trouble = yield from traffic.switch(run, plan)
    if trouble is None:
        trouble = yield from traffic.bake(run, plan, origins.hosts)
    if trouble is not None:
        resolved = yield from traffic.route_back(run, plan, trouble)
        if resolved is not None:  # an operator took over while Front Door refused: green stays as it is
            cleanup.leave(run, plan.green.cluster_id, "green", "running", f"left as it is: resolved by {resolved.by}")
            reason = f"{trouble.reason}; resolved by hand by {resolved.by}: {resolved.reason}"
            return (yield from run.finish(plan, trouble.outcome, reason, live_known=False))
        yield from cleanup.green_after_turn_back(run, plan, rolled_back=trouble.outcome == contract.Outcome.ROLLED_BACK)
        return (yield from run.finish(plan, trouble.outcome, trouble.reason))

    yield from cleanup.retire(run, plan)
    return (yield from run.finish(plan, contract.Outcome.COMPLETED, None))
