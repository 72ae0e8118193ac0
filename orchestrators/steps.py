"""The runbook's steps as generator functions over a Run and the plan resolve produced.

Long Azure operations run as sub-orchestrations (orchestrators/children.py); the steps here decide,
record and route. Before the switch an Abort is honoured during every wait; from the switch to the
end of the bake a Rollback is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from activities.traffic import read_traffic, set_origin_enabled
from activities.verify import prepare_green_origins, verify_green
from bluegreen.lazy import contract, routing
from orchestrators.children import BAKE_WATCH, CLUSTER_OPERATION, FRONT_DOOR_DEPLOYMENT
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT, ROLLBACK_EVENT
from orchestrators.run import Aborted, Run, Step, StepFailed, iso

# After a clean bake, Rollback is still honoured this long before blue is retired: a door that read
# "can roll back" just before the bake ended has written to Front Door and raised its event by then.
ROLLBACK_GRACE_SECONDS = 60
# A create refused before it began: the slot holds someone else's cluster, or blue is gone.
REFUSED_CREATES = frozenset({"GreenSlotOccupied", "BlueNotFound"})
# Routing back to blue never gives up; between attempts it waits longer and longer, up to this.
ROUTE_BACK_MAX_WAIT_SECONDS = 15 * 60


@dataclass(frozen=True)
class TurnBack:
    """Why traffic must go back to blue: the outcome it leads to and what the timeline and output say."""

    outcome: contract.Outcome
    reason: str
    rollback: contract.RollbackRecord | None = None


def operation(run: Run, plan: contract.Plan, kind: contract.OperationKind, what: str, **fields: Any) -> Any:
    """The task of a `cluster_operation` sub-orchestration on green (or blue, for retire)."""
    request = contract.ClusterOperation(
        kind=kind,
        cluster_id=fields.pop("cluster_id", plan.green.cluster_id),
        what=what,
        poll_seconds=plan.settings.poll_seconds,
        **fields,
    )
    return run.start_child(CLUSTER_OPERATION, request)


def until_done(run: Run, task: Any, *, abortable: bool = True) -> Step:
    """Wait for an operation; an Abort meanwhile is raised once the operation has ended (AKS cannot be
    interrupted half way, and removing green must not race its own upgrade)."""
    if abortable:
        winner = yield from run.race(task, ABORT_EVENT)
        if winner is not task:
            run.note("abort requested: waiting for green's running operation to end first")
            yield task
    else:
        yield task
    result = run.child_result(task, contract.OperationResult)
    if abortable and (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
        raise Aborted(abort)
    if not result.succeeded:
        error = result.error or contract.ErrorInfo(code="OperationFailed", message="failed")
        raise StepFailed(error.code, error.message)
    return result


def best_effort(run: Run, task: Any, failed: str, what_to_do: str) -> Step:
    """Wait for a cleanup operation whose failure must not change the outcome: True if it succeeded,
    else the timeline says what is left and what to do about it."""
    try:
        yield from until_done(run, task, abortable=False)
    except StepFailed as failure:
        run.note(f"{failed} ({failure.reason}); {what_to_do}")
        return False
    return True


def pause(run: Run, seconds: float) -> Step:
    """A durable timer; before the switch an Abort cuts it short."""
    timer = run.timer(seconds)
    winner = yield from run.race(timer, ABORT_EVENT)
    if winner is not timer:
        timer.cancel()
        abort = run.received(ABORT_EVENT, contract.AbortEvent)
        if abort is not None:
            raise Aborted(abort)


# ---- before the switch


def clone(run: Run, plan: contract.Plan) -> Step:
    green, blue = plan.green, plan.blue
    run.enter(contract.Phase.CLONE, f"creating {green.name} from {blue.name} at {plan.clone_version} ({plan.strategy})")
    create = contract.CreateGreen(
        run_id=plan.run_id,
        environment=plan.environment,
        blue_id=blue.cluster_id,
        green_id=green.cluster_id,
        green_name=green.name,
        version=plan.clone_version,
        origin=plan.traffic.groups[0].green,
    )
    run.green_created = True  # from here on, a failure removes green (deleting a missing cluster is a no-op)
    try:
        yield from until_done(run, operation(run, plan, contract.OperationKind.CREATE, "creating green", create=create))
    except StepFailed as failure:
        if failure.code in REFUSED_CREATES:
            run.green_created = False  # nothing of this run's is in the slot: there is nothing to remove
        raise
    run.note(f"{green.name} created at {plan.clone_version}")


def upgrade(run: Run, plan: contract.Plan) -> Step:
    green, path = plan.green, plan.upgrade_path
    if not path:
        run.enter(contract.Phase.UPGRADE, f"nothing to upgrade: green was created at {plan.target_version}")
        return
    run.enter(contract.Phase.UPGRADE, f"upgrading {green.name} along {' -> '.join([plan.clone_version, *path])}")
    kind = contract.OperationKind
    for hop in path:
        run.progress = contract.UpgradeProgress(hop=hop, path=path)
        run.publish()
        what = f"control plane upgrade to {hop}"
        yield from until_done(run, operation(run, plan, kind.UPGRADE_CONTROL_PLANE, what, version=hop))
        run.note(f"control plane at {hop}")
        for pool in plan.blue.pools:
            what = f"node pool {pool} upgrade to {hop}"
            yield from until_done(run, operation(run, plan, kind.UPGRADE_POOL, what, version=hop, pool=pool))
            run.note(f"node pool {pool} at {hop}")


def verify(run: Run, plan: contract.Plan) -> Step:
    """Green's origins get their address, then green is checked until it passes or the time is up."""
    green = plan.green
    run.enter(contract.Phase.VERIFY, f"verifying {green.name} at {plan.target_version}")
    origins = yield from run.call(
        prepare_green_origins, contract.GreenOriginsInput(cluster_id=green.cluster_id, traffic=plan.traffic)
    )
    for group in origins.changed:
        run.note(f"green's origin in {group} now points at {origins.hosts[group]}")
    deadline = run.now + timedelta(minutes=plan.settings.verify_timeout_minutes)
    request = contract.VerifyInput(
        cluster_id=green.cluster_id, target_version=plan.target_version, traffic=plan.traffic, smoke=plan.settings.smoke
    )
    while True:
        report = yield from run.call(verify_green, request)
        run.verification = report
        if report.passed:
            run.note("green verified: nodes Ready, workloads available, smoke probe passed")
            return report, origins
        if run.now >= deadline:
            raise StepFailed("VerificationFailed", "; ".join(report.problems))
        run.publish()
        yield from pause(run, plan.settings.poll_seconds)


def approval(run: Run, plan: contract.Plan, report: contract.VerificationReport) -> Step:
    """The decision (a timeout is a rejection); an Abort while waiting is raised."""
    settings = plan.settings.approval
    if settings.mode == "auto":
        # An Abort that arrived during the last verification is honoured before anything moves.
        if (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
            raise Aborted(abort)
        run.enter(contract.Phase.APPROVAL, "auto-approved (approval mode is auto in the configuration)")
        return contract.Decision(approved=True, by="auto", comment=None, at=run.now_iso())
    deadline = run.now + timedelta(hours=settings.timeout_hours)
    run.awaiting, run.deadline = contract.Awaiting.APPROVAL, iso(deadline)
    run.enter(contract.Phase.APPROVAL, f"waiting for approval until {iso(deadline)}")
    run.progress = contract.ApprovalWait(deadline=iso(deadline), passed=report.passed)
    run.publish()
    timer = run.context.create_timer(deadline)
    winner = yield from run.race(timer, APPROVAL_EVENT, ABORT_EVENT)
    # Decided: the status stops advertising the wait in this same episode, before the run acts on it.
    run.awaiting, run.deadline, run.progress = None, None, None
    if winner is timer:
        return contract.Decision(approved=False, by=None, comment="approval timed out", at=run.now_iso())
    timer.cancel()
    if (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
        raise Aborted(abort)
    event = run.received(APPROVAL_EVENT, contract.ApprovalEvent)
    assert event is not None  # the approval listener won the race
    by = None if event.by == "unknown" else event.by
    return contract.Decision(approved=event.approved, by=by, comment=event.comment, at=run.now_iso())


def remove_green(run: Run, plan: contract.Plan) -> Step:
    """After a failure before the switch: delete green unless the configuration keeps it for study.

    Best effort: the run's outcome is already decided, and blue was never touched, so a failed
    delete is reported in the timeline rather than turning the outcome into a crash.
    """
    green = plan.green
    if plan.settings.keep_failed_green:
        run.note(f"{green.name} kept for investigation (keep_failed_green)")
        return
    task = operation(run, plan, contract.OperationKind.DELETE, "deleting green", only_if_run=plan.run_id)
    if (yield from best_effort(run, task, f"could not delete {green.name}", "delete it by hand")):
        run.note(f"{green.name} deleted; {plan.blue.name} stayed live throughout")


# ---- traffic


def route(run: Run, plan: contract.Plan, toward_green: bool, *, interruptible: bool) -> Step:
    """Make-before-break in every origin group toward green (the switch) or blue (back), until deployed.

    Returns True when done. With `interruptible`, a Rollback or Abort stops it and it returns False.
    Raises StepFailed when Front Door cannot be changed or does not deploy within the switch timeout.
    """
    deadline = run.now + timedelta(minutes=plan.settings.switch_timeout_minutes)
    read = contract.TrafficRead(traffic=plan.traffic)
    while True:
        if interruptible and _turn_back_requested(run):
            return False
        snapshot = yield from run.call(read_traffic, read)
        steps = []
        for pair in plan.traffic.groups:
            state = snapshot.group(pair.group)
            if state is None:
                raise StepFailed("OriginGroupNotFound", f"Front Door has no origin group {pair.group!r}")
            target, other = (pair.green, pair.blue) if toward_green else (pair.blue, pair.green)
            steps.append((pair.group, target, other, routing.next_switch_step(state, target, other)))
        if all(step == routing.SwitchStep.DONE for *_, step in steps):
            return True
        # Make in every group first, then wait once for all, then break in every group.
        enable = [(g, t) for g, t, _, step in steps if step == routing.SwitchStep.ENABLE_TARGET]
        disable = [(g, o) for g, _, o, step in steps if step == routing.SwitchStep.DISABLE_OTHER]
        if enable:
            for group, origin in enable:
                yield from _set(run, plan, group, origin, True)
            continue
        if any(step == routing.SwitchStep.WAIT_FOR_DEPLOYMENT for *_, step in steps):
            wait = contract.DeploymentWait(traffic=plan.traffic, deadline=deadline)
            task = run.start_child(FRONT_DOOR_DEPLOYMENT, wait)
            if interruptible:
                winner = yield from run.race(task, ROLLBACK_EVENT, ABORT_EVENT)
                if winner is not task:
                    run.outstanding.append(task)
                    return False
            else:
                yield task
            result = run.child_result(task, contract.DeploymentResult)
            if not result.deployed:
                raise StepFailed(
                    "FrontDoorNotDeployed",
                    f"Front Door did not report the change deployed within {plan.settings.switch_timeout_minutes} min",
                )
            continue
        for group, origin in disable:
            yield from _set(run, plan, group, origin, False)


def _set(run: Run, plan: contract.Plan, group: str, origin: str, enabled: bool) -> Step:
    change = contract.OriginChange(traffic=plan.traffic, group=group, origin=origin, enabled=enabled)
    yield from run.call(set_origin_enabled, change)
    run.note(f"origin {origin} {'enabled' if enabled else 'disabled'} in {group}")


def _turn_back_requested(run: Run) -> bool:
    return run.received(ROLLBACK_EVENT, contract.RollbackEvent) is not None or (
        run.received(ABORT_EVENT, contract.AbortEvent) is not None
    )


def turn_back_from_events(run: Run) -> TurnBack | None:
    """A Rollback (or, in the switch, a late Abort) that has arrived, as the reason to route back."""
    rollback = run.received(ROLLBACK_EVENT, contract.RollbackEvent)
    if rollback is not None:
        trigger = contract.RollbackTrigger(rollback.trigger)
        record = contract.RollbackRecord(trigger=trigger, at=run.now_iso(), detail=rollback.reason, by=rollback.by)
        return TurnBack(contract.Outcome.ROLLED_BACK, rollback.reason, record)
    abort = run.received(ABORT_EVENT, contract.AbortEvent)
    if abort is not None:
        return TurnBack(contract.Outcome.ABORTED, f"aborted by {abort.by} during the switch: {abort.reason}")
    return None


def switch(run: Run, plan: contract.Plan) -> Step:
    """Traffic to green. Returns why it must go back (a failure, a rollback or abort meanwhile), or None."""
    run.abortable, run.can_roll_back = False, True
    run.enter(contract.Phase.SWITCH, f"routing traffic to {plan.green.name} (make-before-break)")
    try:
        done = yield from route(run, plan, toward_green=True, interruptible=True)
    except StepFailed as failure:
        return TurnBack(contract.Outcome.FAILED, f"switch failed: {failure.reason}")
    if not done:
        return turn_back_from_events(run)
    run.note("Front Door reports the switch deployed")
    return None


def bake(run: Run, plan: contract.Plan, hosts: dict[str, str]) -> Step:
    """Watch green for the window; a spike, a Rollback, or one in the grace period after, turns back."""
    settings = plan.settings.bake
    run.enter(
        contract.Phase.BAKE,
        f"watching {', '.join(hosts.values())} for {settings.window_minutes} min "
        f"(5xx above {settings.max_error_rate:.1%} rolls back)",
    )
    watch = run.start_child(BAKE_WATCH, contract.BakeWatch(traffic=plan.traffic, hosts=hosts, bake=settings))
    winner = yield from run.race(watch, ROLLBACK_EVENT)
    if winner is not watch:
        run.outstanding.append(watch)  # it ends by itself once green no longer takes traffic
        return turn_back_from_events(run)
    try:
        result = run.child_result(watch, contract.BakeResult)
    except StepFailed as failure:
        run.note(f"the bake watch failed ({failure.reason}); treating it as a spike")
        detail = f"bake watch failed: {failure.reason}"
        record = contract.RollbackRecord(trigger=contract.RollbackTrigger.METRICS, at=run.now_iso(), detail=detail)
        return TurnBack(contract.Outcome.ROLLED_BACK, detail, record)
    if result.verdict == "spike":
        record = contract.RollbackRecord(
            trigger=contract.RollbackTrigger.METRICS, at=run.now_iso(), detail=result.detail
        )
        return TurnBack(contract.Outcome.ROLLED_BACK, result.detail, record)
    # The doors stop offering rollback now; one that read the status a moment ago is still honoured.
    run.can_roll_back = False
    run.note(result.detail)
    grace = run.timer(ROLLBACK_GRACE_SECONDS)
    winner = yield from run.race(grace, ROLLBACK_EVENT)
    if winner is not grace:
        grace.cancel()
        return turn_back_from_events(run)
    return None


def route_back(run: Run, plan: contract.Plan, why: TurnBack) -> Step:
    """Traffic back to blue, make-before-break, retried until it succeeds: users must end on a healthy side."""
    run.can_roll_back = False
    run.rollback = why.rollback
    run.enter(contract.Phase.ROLLBACK, f"routing back to {plan.blue.name}: {why.reason}")
    wait = 60.0
    while True:
        try:
            yield from route(run, plan, toward_green=False, interruptible=False)
        except StepFailed as failure:
            run.note(f"routing back failed ({failure.reason}); trying again in {wait / 60:.0f} min")
            yield run.timer(wait)
            wait = min(wait * 2, ROUTE_BACK_MAX_WAIT_SECONDS)
            continue
        run.note(f"traffic is back on blue ({plan.blue.name})")
        return


def retire(run: Run, plan: contract.Plan) -> Step:
    run.can_roll_back = False
    mode, blue = plan.settings.retire, plan.blue
    run.enter(contract.Phase.RETIRE, f"retiring {blue.name}: {mode}")
    if mode == "keep":
        run.note(f"{blue.name} kept running as a hot standby")
        return
    kind = contract.OperationKind.STOP if mode == "stop" else contract.OperationKind.DELETE
    task = operation(run, plan, kind, f"{mode} blue", cluster_id=blue.cluster_id)
    if (yield from best_effort(run, task, f"could not {mode} {blue.name}", f"it still runs: {mode} it by hand")):
        run.note(f"{blue.name} {'stopped' if mode == 'stop' else 'deleted'}")
