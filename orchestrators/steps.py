"""The runbook's steps before traffic moves: clone, upgrade, verify, approval.

Long Azure operations run as sub-orchestrations (orchestrators/children.py); the steps here decide,
record and route. An Abort is honoured during every wait (orchestrators/waits.py). The traffic steps
are in orchestrators/traffic.py, what becomes of the clusters in orchestrators/cleanup.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from activities.inherit import wire_green
from activities.verify import prepare_green_origins, verify_green
from bluegreen.lazy import contract
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT
from orchestrators.run import Aborted, Run, Step, StepFailed, iso
from orchestrators.waits import abort_now, check_abort, operation, pause, until_done

# A create refused before it began: the slot holds someone else's cluster, or blue is gone.
REFUSED_CREATES = frozenset({"GreenSlotOccupied", "BlueNotFound"})
# The approvers are reminded this long before the approval's deadline (when the wait is longer than that).
APPROVAL_REMINDER = timedelta(hours=1)


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
        overrides=plan.green.overrides,
    )
    run.green_created = True  # from here on, a failure removes green (deleting a missing cluster is a no-op)
    try:
        yield from until_done(run, operation(run, plan, contract.OperationKind.CREATE, "creating green", create=create))
    except StepFailed as failure:
        if failure.code in REFUSED_CREATES:
            run.green_created = False  # nothing of this run's is in the slot: there is nothing to remove
        raise
    run.note(f"{green.name} created at {plan.clone_version}")
    yield from wire(run, plan)


def wire(run: Run, plan: contract.Plan) -> Step:
    """Green gets what blue's identities and wiring have: grants, federated credentials, Event Grid, alerts."""
    inheritance = plan.inheritance
    if not (inheritance.grants or inheritance.federations or inheritance.wiring):
        return
    request = contract.WireGreen(
        blue_id=plan.blue.cluster_id, green_id=plan.green.cluster_id, run_id=plan.run_id, inheritance=inheritance
    )
    wired = yield from run.call(wire_green, request)
    run.inherited = list(wired.created)
    counts = Counter(item.kind.replace("_", " ") for item in wired.created)
    run.note("green inherits " + ", ".join(f"{n} {kind}(s)" for kind, n in sorted(counts.items())))


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
    workloads = plan.settings.workloads
    request = contract.VerifyInput(
        cluster_id=green.cluster_id,
        target_version=plan.target_version,
        traffic=plan.traffic,
        smoke=plan.settings.smoke,
        blue_id=plan.blue.cluster_id,
        system_namespaces=workloads.system_namespaces,
        flux_configurations=workloads.flux_configurations if workloads.mode == "gitops" else [],
    )
    while True:
        try:
            report = yield from run.call(verify_green, request)
        except StepFailed as failure:
            # The check itself failed (a run command that ended Failed, say): that is one more
            # problem to look at again, not a verdict on green, until the verify timeout.
            report = contract.VerificationReport(problems=[f"verification could not run: {failure.reason}"])
        run.verification = report
        if report.passed:
            compared = report.parity.compared if report.parity else 0
            run.note(f"green verified: nodes Ready, blue's {compared} workload(s) running on green, smoke probe passed")
            return report, origins
        if run.now >= deadline:
            raise StepFailed("VerificationFailed", "; ".join(report.problems))
        run.publish()
        yield from pause(run, plan.settings.poll_seconds)


def approval(run: Run, plan: contract.Plan, report: contract.VerificationReport) -> Step:
    """The decision (a timeout is a rejection); an Abort while waiting is raised."""
    settings = plan.settings.approval
    if settings.mode == "auto":
        check_abort(run)  # an Abort that arrived during the last verification, before anything moves
        run.enter(contract.Phase.APPROVAL, "auto-approved (approval mode is auto in the configuration)")
        return contract.Decision(approved=True, by="auto", comment=None, at=run.now_iso())
    deadline = run.now + timedelta(hours=settings.timeout_hours)
    run.awaiting, run.deadline = contract.Awaiting.APPROVAL, iso(deadline)
    run.enter(contract.Phase.APPROVAL, f"waiting for approval until {iso(deadline)}")
    run.progress = contract.ApprovalWait(deadline=iso(deadline), passed=report.passed)
    run.publish()
    yield from run.notify("awaiting-approval", deadline=iso(deadline))
    timed_out = yield from decision_or_deadline(run, deadline)
    # Decided: the status stops advertising the wait in this same episode, before the run acts on it.
    run.awaiting, run.deadline, run.progress = None, None, None
    if timed_out:
        return contract.Decision(approved=False, by=None, comment="approval timed out", at=run.now_iso())
    if (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
        abort_now(run, abort)
    event = run.received(APPROVAL_EVENT, contract.ApprovalEvent)
    assert event is not None  # the approval listener won the race
    if event.deadline is not None and event.deadline != iso(deadline):
        # Raised for another wait than this one: it decides nothing but a rejection.
        return contract.Decision(
            approved=False, by=None, comment="an approval for another wait", at=run.now_iso(), event_id=event.id
        )
    by = None if event.by == "unknown" else event.by
    return contract.Decision(approved=event.approved, by=by, comment=event.comment, at=run.now_iso(), event_id=event.id)


def decision_or_deadline(run: Run, deadline: datetime) -> Step:
    """Wait until an Approval or an Abort arrives (False) or the deadline passes (True).

    A wait longer than APPROVAL_REMINDER first races a timer at deadline - APPROVAL_REMINDER, then sends the
    approval-expiring notice and races the deadline's timer. One timer at a time, each cancelled once an
    event has won; both times come from the deadline, so a replay makes the same ones.
    """
    remind_at = deadline - APPROVAL_REMINDER
    if remind_at > run.now:
        reminder = run.context.create_timer(remind_at)
        winner = yield from run.race(reminder, APPROVAL_EVENT, ABORT_EVENT)
        if winner is not reminder:
            reminder.cancel()
            return False
        message = f"without a decision by {iso(deadline)} the run is rejected"
        yield from run.notify("approval-expiring", message, deadline=iso(deadline))
    timer = run.context.create_timer(deadline)
    winner = yield from run.race(timer, APPROVAL_EVENT, ABORT_EVENT)
    if winner is timer:
        return True
    timer.cancel()
    return False


def stopped_before_the_switch(run: Run, stopped: Aborted | StepFailed) -> tuple[contract.Outcome, str]:
    run.abortable = False
    if isinstance(stopped, Aborted):
        reason = f"aborted by {stopped.by}: {stopped.reason}"
        run.note(reason)
        return contract.Outcome.ABORTED, reason
    run.note(f"failed: {stopped.reason}")
    return contract.Outcome.FAILED, stopped.reason
