"""Traffic steps: the switch to green, the bake, and the route back to blue.

One rule moves traffic either way (make-before-break in every origin group, `bluegreen.routing`).
From the switch to the end of the bake a Rollback is honoured; once traffic has moved, the route
back to blue never gives up: it retries on durable timers until Front Door takes it, and only an
operator's `resolve-manually` ends that wait otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from activities.traffic import read_traffic, set_origin_enabled
from bluegreen.lazy import contract, routing
from orchestrators.children import BAKE_WATCH, FRONT_DOOR_DEPLOYMENT
from orchestrators.events import ABORT_EVENT, RESOLVE_EVENT, ROLLBACK_EVENT
from orchestrators.run import Run, Step, StepFailed, iso

# After a clean bake, Rollback is still honoured this long before blue is retired: a door that read
# "can roll back" just before the bake ended has written to Front Door and raised its event by then.
ROLLBACK_GRACE_SECONDS = 60
# Between attempts to route back, the run waits longer and longer: 1, 2, 4 ... up to 15 minutes.
ROUTE_BACK_FIRST_WAIT_SECONDS = 60
ROUTE_BACK_MAX_WAIT_SECONDS = 15 * 60


@dataclass(frozen=True)
class TurnBack:
    """Why traffic must go back to blue: the outcome it leads to and what the timeline and output say."""

    outcome: contract.Outcome
    reason: str
    rollback: contract.RollbackRecord | None = None


def route(run: Run, plan: contract.Plan, toward_green: bool, *, interruptible: bool) -> Step:
    """Make-before-break in every origin group toward green (the switch) or blue (back), until deployed.

    Returns True when done. With `interruptible`, a Rollback or Abort stops it and it returns False.
    Raises StepFailed when Front Door cannot be changed, or does not report a change deployed within
    the switch timeout (each change: the make, then the break, may take that long).
    """
    read = contract.TrafficRead(traffic=plan.traffic)
    while True:
        if interruptible and turn_back_from_events(run) is not None:
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
            deadline = run.now + timedelta(minutes=plan.settings.switch_timeout_minutes)
            task = run.start_child(
                FRONT_DOOR_DEPLOYMENT, contract.DeploymentWait(traffic=plan.traffic, deadline=deadline)
            )
            if interruptible:
                winner = yield from run.race(task, ROLLBACK_EVENT, ABORT_EVENT)
                if winner is not task:
                    run.outstanding.append(task)  # read-only: it ends by itself at the deadline at the latest
                    return False
            else:
                yield task
            if not run.child_result(task, contract.DeploymentResult).deployed:
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


def turn_back_from_events(run: Run) -> TurnBack | None:
    """A Rollback (or, in the switch, a late Abort) that has arrived, as the reason to route back."""
    rollback = run.received(ROLLBACK_EVENT, contract.RollbackEvent)
    if rollback is not None:
        record = contract.RollbackRecord(
            trigger=contract.RollbackTrigger(rollback.trigger),
            at=run.now_iso(),
            detail=rollback.reason,
            by=rollback.by,
            event_id=rollback.id,
        )
        return TurnBack(contract.Outcome.ROLLED_BACK, rollback.reason, record)
    abort = run.received(ABORT_EVENT, contract.AbortEvent)
    if abort is not None:
        run.abort = abort
        return TurnBack(contract.Outcome.ABORTED, f"aborted by {abort.by} during the switch: {abort.reason}")
    return None


def switch(run: Run, plan: contract.Plan) -> Step:
    """Traffic to green. Returns why it must go back (a failure, a rollback or abort meanwhile), or None."""
    run.abortable, run.can_roll_back = False, True
    run.enter(contract.Phase.SWITCH, f"routing traffic to {plan.green.name} (make-before-break)")
    yield from run.notify("switch")  # a Rollback or an Abort meanwhile waits in its listener: route() sees it
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
    """Traffic back to blue, make-before-break, retried until Front Door takes it.

    Returns None once traffic is back, or the operator's ResolveEvent if someone resolved the run
    by hand while it waited (they take it from there: green is then left as it is).
    """
    run.can_roll_back = False
    run.rollback = why.rollback
    run.enter(contract.Phase.ROLLBACK, f"routing back to {plan.blue.name}: {why.reason}")
    wait = float(ROUTE_BACK_FIRST_WAIT_SECONDS)
    # A rollback's notice goes once traffic is back, or as soon as Front Door refuses: never before the first
    # write, which a metrics rollback makes here (users first, then the channel).
    notified = why.rollback is None
    while True:
        try:
            yield from route(run, plan, toward_green=False, interruptible=False)
            break
        except StepFailed as failure:
            retry_at = run.now + timedelta(seconds=wait)
            run.waiting_for = f"Front Door, to route back to blue ({failure.reason}); next try at {iso(retry_at)}"
            run.can_resolve_manually = True
            run.note(f"routing back failed ({failure.reason}); trying again in {wait / 60:.0f} min")
            if not notified:
                notified = True
                yield from _notify_rollback(run, why, f"Front Door has not taken the route back yet: {run.waiting_for}")
            timer = run.timer(wait)
            winner = yield from run.race(timer, RESOLVE_EVENT)
            if winner is not timer:
                timer.cancel()
                resolved = run.received(RESOLVE_EVENT, contract.ResolveEvent)
                assert resolved is not None
                run.waiting_for, run.can_resolve_manually = None, False
                run.note(f"resolved by hand by {resolved.by}: {resolved.reason}; traffic left as Front Door has it")
                return resolved
            wait = min(wait * 2, ROUTE_BACK_MAX_WAIT_SECONDS)
    run.waiting_for, run.can_resolve_manually = None, False
    run.note(f"traffic is back on blue ({plan.blue.name})")
    if not notified:
        yield from _notify_rollback(run, why, f"traffic is back on {plan.blue.name}: {why.reason}")
    return None


def _notify_rollback(run: Run, why: TurnBack, message: str) -> Step:
    assert why.rollback is not None
    yield from run.notify("rollback", message, trigger=why.rollback.trigger, reason=why.reason)
