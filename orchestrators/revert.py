"""A run of kind `revert`: back to the cluster an earlier run retained. Start, verify, approve, switch, bake, retire.

The retained cluster ("green" here) still has its applications, grants and wiring: a retired cluster is
only stopped, never stripped. So nothing is created or upgraded; the rest is the upgrade's own steps, with
the same safety: before the switch a failure leaves blue live and puts the retained cluster back as it
was (stopped again if it was); after traffic moved, any trouble routes back to blue. On success the
cluster reverted from is retired under the same retention rules, and the one reverted to is no longer
retained.
"""

from __future__ import annotations

from activities.planning import resolve_run
from bluegreen.lazy import contract
from orchestrators import cleanup, steps, traffic
from orchestrators.run import Aborted, Run, Step, StepFailed
from orchestrators.waits import operation, until_done


def revert(run: Run) -> Step:
    run.enter(contract.Phase.START, f"resolving {run.request.environment}: the live cluster and the retained one")
    try:
        plan = yield from run.call(
            resolve_run, contract.ResolveInput(run_id=run.context.instance_id, request=run.request)
        )
    except StepFailed as failure:
        return (yield from run.finish(None, contract.Outcome.FAILED, failure.reason))
    target = plan.revert_to
    assert target is not None  # a revert's plan always names it
    run.adopt(plan)
    run.green_created = True  # in a revert, "green" is the retained cluster: the output names it
    run.note(
        f"live: {plan.blue.name} at {plan.blue.version}; reverting to {target.name} at {target.version} "
        f"({target.retired_as} by {target.retired_by}, retained until {target.retained_until})"
    )
    try:
        yield from start_retained(run, plan, target)
        report, origins = yield from steps.verify(run, plan)
        decision = run.approval = yield from steps.approval(run, plan, report)
    except (Aborted, StepFailed) as stopped:
        outcome, reason = steps.stopped_before_the_switch(run, stopped)
        yield from cleanup.restore_retained(run, plan)
        return (yield from run.finish(plan, outcome, reason))
    if not decision.approved:
        run.abortable = False
        run.note(f"rejected by {decision.by or 'nobody'}: {decision.comment or 'no comment'}")
        yield from cleanup.restore_retained(run, plan)
        reason = decision.comment or f"rejected by {decision.by}"
        return (yield from run.finish(plan, contract.Outcome.REJECTED, reason))
    run.note(f"approved by {decision.by}")

    trouble = yield from traffic.switch(run, plan)
    if trouble is None:
        trouble = yield from traffic.bake(run, plan, origins.hosts)
    if trouble is not None:
        resolved = yield from traffic.route_back(run, plan, trouble)
        if resolved is not None:
            cleanup.leave(run, plan.green.cluster_id, "green", "running", f"left as it is: resolved by {resolved.by}")
            reason = f"{trouble.reason}; resolved by hand by {resolved.by}: {resolved.reason}"
            return (yield from run.finish(plan, trouble.outcome, reason, live_known=False))
        yield from cleanup.restore_retained(run, plan)
        return (yield from run.finish(plan, trouble.outcome, trouble.reason))

    yield from cleanup.retire(run, plan)
    yield from cleanup.release(run, plan)
    return (yield from run.finish(plan, contract.Outcome.COMPLETED, None))


def start_retained(run: Run, plan: contract.Plan, target: contract.RetainedCluster) -> Step:
    if target.power_state != "Stopped":
        run.enter(contract.Phase.START, f"{target.name} is running: nothing to start")
        return
    run.enter(contract.Phase.START, f"starting {target.name}")
    task = operation(
        run,
        plan,
        contract.OperationKind.START,
        f"start {target.name}",
        cluster_id=target.cluster_id,
        only_if_retired_by=target.retired_by,
    )
    yield from until_done(run, task)
    run.note(f"{target.name} started")
