"""Traffic steps: the switch to green (all at once, or gradual with analysis), the bake, the route back.

One rule moves traffic either way (make-before-break in every origin group, `bluegreen.routing`); a
gradual switch first moves origin weights step by step (`bluegreen.gradual`), each step analysed,
green against blue. After each change the run measures when the edge really carried it (edge
convergence), because Front Door reports a change deployed before every edge serves it.
From the switch to the end of the bake a Rollback is honoured; once traffic has moved, the route
back to blue never gives up: it retries on durable timers until Front Door takes it, and only an
operator's `resolve-manually` ends that wait otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from activities.traffic import read_traffic, set_origin_enabled, set_origin_weights
from bluegreen.lazy import contract, errors, gradual, routing
from orchestrators.children import BAKE_WATCH, EDGE_CONVERGENCE, FRONT_DOOR_DEPLOYMENT, STEP_ANALYSIS
from orchestrators.events import ABORT_EVENT, RESOLVE_EVENT, ROLLBACK_EVENT
from orchestrators.run import Run, Step, StepFailed, iso

R = TypeVar("R")

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
            steps.append((pair.group, target, other, _rule(routing.next_switch_step, state, target, other)))
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
            if not (yield from _deployed(run, plan, interruptible=interruptible)):
                return False
            continue
        for group, origin in disable:
            yield from _set(run, plan, group, origin, False)


def _rule(rule: Callable[..., R], *args: Any) -> R:
    """A pure routing rule; what it refuses (an origin gone from Front Door) ends the step, never the run."""
    try:
        return rule(*args)
    except errors.PermanentError as refused:
        raise StepFailed(refused.code, refused.message) from None


def _deployed(run: Run, plan: contract.Plan, *, interruptible: bool) -> Step:
    """Wait until Front Door reports every change deployed. False: a Rollback or Abort came first.

    Raises StepFailed when it does not within the switch timeout.
    """
    deadline = run.now + timedelta(minutes=plan.settings.switch_timeout_minutes)
    task = run.start_child(FRONT_DOOR_DEPLOYMENT, contract.DeploymentWait(traffic=plan.traffic, deadline=deadline))
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
    return True


def weigh(run: Run, plan: contract.Plan, percent: int) -> Step:
    """Every group to `percent` of requests on green by origin weights, until Front Door reports it deployed.

    Returns True when done, False when a Rollback or Abort came first. Nothing here disables an origin.
    """
    read = contract.TrafficRead(traffic=plan.traffic)
    while True:
        if turn_back_from_events(run) is not None:
            return False
        snapshot = yield from run.call(read_traffic, read)
        written = False
        for pair in plan.traffic.groups:
            state = snapshot.group(pair.group)
            if state is None:
                raise StepFailed("OriginGroupNotFound", f"Front Door has no origin group {pair.group!r}")
            changes = _rule(gradual.step_changes, state, pair, percent)
            if changes:
                change = contract.WeightChange(traffic=plan.traffic, group=pair.group, origins=changes)
                yield from run.call(set_origin_weights, change)
                run.traffic_changed_at = run.now
                written = True
        if written:
            blue_weight, green_weight = gradual.step_weights(percent)
            run.note(f"{percent}% to green: weights {green_weight} green / {blue_weight} blue in every group")
            continue
        if all(group.deployed for group in snapshot.groups):
            return True
        if not (yield from _deployed(run, plan, interruptible=True)):
            return False


def converge(
    run: Run,
    plan: contract.Plan,
    intended: float,
    changed_at: datetime,
    *,
    interruptible: bool,
    alongside: Any | None = None,
    since: str = "the change",
) -> Step:
    """Measure until the edge carries the change (or the deadline, reported); record it as a TrafficMove.

    Returns the move, or None when a Rollback or Abort came first (only with `interruptible`), or when
    the `alongside` task (a step's analysis, which runs meanwhile) ended with anything but a pass.
    """
    settings = plan.settings.switch.convergence
    toward: Literal["green", "blue"] = "blue" if intended == 0 else "green"
    if not settings.enabled:
        if interruptible and turn_back_from_events(run) is not None:
            return None
        return _unmeasured(intended, changed_at, "edge convergence not measured (switch.convergence.enabled = false)")
    wait = contract.ConvergenceWait(
        traffic=plan.traffic,
        green_share=intended,
        tolerance=settings.tolerance,
        min_requests=settings.min_requests,
        changed_at=changed_at,
        deadline=changed_at + timedelta(minutes=settings.timeout_minutes),
    )
    task = run.start_child(EDGE_CONVERGENCE, wait)
    if interruptible:
        racing = [task] if alongside is None else [task, alongside]
        while True:
            winner = yield run.context.task_any([*racing, run.listener(ROLLBACK_EVENT), run.listener(ABORT_EVENT)])
            if winner is task:
                break
            if winner is alongside and _passed(winner):
                racing = [task]  # the step passed before the edge converged: the move is still measured
                continue
            run.outstanding.append(task)  # read-only: it ends by itself at its deadline at the latest
            return None
    else:
        yield task
    try:
        result = run.child_result(task, contract.ConvergenceResult)
    except StepFailed as failure:
        move = _unmeasured(intended, changed_at, f"edge convergence not measured ({failure.reason})")
        run.traffic_moves.append(move)
        run.note(move.detail)
        return move
    observed = result.observed
    side_share = observed if toward == "green" else (None if observed is None else 1 - observed)
    seen = "no requests measured" if side_share is None else f"{side_share:.0%} on {toward}"
    if result.converged:
        detail = f"{seen} {result.minutes:g} min after {since} (intended {_share(intended, toward)})"
    elif result.superseded:
        detail = (
            f"Front Door was changed again {result.minutes:g} min after {since}, before the edge carried it: {seen}"
        )
    else:
        detail = (
            f"the edge had not converged {result.minutes:g} min after {since}: {seen} "
            f"(intended {_share(intended, toward)}); going on"
        )
    move = contract.TrafficMove(
        at=iso(changed_at),
        toward=toward,
        intended_green=intended,
        observed_green=observed,
        converged=result.converged,
        minutes=result.minutes if result.converged else None,
        detail=detail,
    )
    run.traffic_moves.append(move)
    run.note(detail)
    return move


def _passed(task: Any) -> bool:
    try:
        return contract.StepResult.model_validate(task.result).verdict == "pass"
    except Exception:  # a failed child (its result an exception): not a pass
        return False


def _share(intended: float, toward: str) -> str:
    return f"{(intended if toward == 'green' else 1 - intended):.0%} on {toward}"


def _unmeasured(intended: float, changed_at: datetime, detail: str) -> contract.TrafficMove:
    toward: Literal["green", "blue"] = "blue" if intended == 0 else "green"
    return contract.TrafficMove(
        at=iso(changed_at),
        toward=toward,
        intended_green=intended,
        observed_green=None,
        converged=False,
        minutes=None,
        detail=detail,
    )


def _set(run: Run, plan: contract.Plan, group: str, origin: str, enabled: bool) -> Step:
    change = contract.OriginChange(traffic=plan.traffic, group=group, origin=origin, enabled=enabled)
    yield from run.call(set_origin_enabled, change)
    run.traffic_changed_at = run.now
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
    settings = plan.settings.switch
    run.abortable, run.can_roll_back = False, True
    if settings.mode == "gradual":
        how = f"in steps of {', '.join(f'{p}%' for p in settings.steps)}, each analysed for {settings.step_minutes} min"
    else:
        how = "make-before-break"
    run.enter(contract.Phase.SWITCH, f"routing traffic to {plan.green.name} ({how})")
    yield from run.notify("switch")  # a Rollback or an Abort meanwhile waits in its listener: route() sees it
    steps = settings.steps if settings.mode == "gradual" else [100]
    try:
        for percent in steps:
            if len(steps) > 1:
                run.progress = contract.StepProgress(percent=percent, steps=steps)
            if percent < 100:
                done = yield from weigh(run, plan, percent)
            else:
                done = yield from route(run, plan, toward_green=True, interruptible=True)
            if not done:
                return turn_back_from_events(run)
            run.note(
                f"Front Door reports {percent}% to green deployed"
                if percent < 100
                else "Front Door reports the switch deployed"
            )
            changed_at = run.traffic_changed_at or run.now  # the last write (none: Front Door already had it)
            # A step is analysed from the moment Front Door deployed it, while the edge converges too:
            # errors on the share green already has end the step at once.
            analysis = start_analysis(run, plan, percent, steps) if percent < 100 else None
            move = yield from converge(run, plan, percent / 100, changed_at, interruptible=True, alongside=analysis)
            if move is None and (why := turn_back_from_events(run)) is not None:
                if analysis is not None and not analysis.is_completed:
                    run.outstanding.append(analysis)
                return why
            if analysis is not None:
                verdict = yield from analyse(run, analysis, percent, steps)
                if verdict is not None:
                    return verdict
    except StepFailed as failure:
        return TurnBack(contract.Outcome.FAILED, f"switch failed: {failure.reason}")
    return None


def start_analysis(run: Run, plan: contract.Plan, percent: int, steps: list[int]) -> Any:
    settings = plan.settings.switch
    step = contract.StepAnalysis(
        traffic=plan.traffic,
        percent=percent,
        steps=steps,
        step_minutes=settings.step_minutes,
        analysis=settings.analysis,
    )
    return run.start_child(STEP_ANALYSIS, step)


def analyse(run: Run, task: Any, percent: int, steps: list[int]) -> Step:
    """A gradual step's analysis, to its end. Returns why traffic must go back, or None when the step passed."""
    if not task.is_completed:
        winner = yield from run.race(task, ROLLBACK_EVENT, ABORT_EVENT)
        if winner is not task:
            run.outstanding.append(task)  # it ends by itself at the step's end, or once green takes no traffic
            return turn_back_from_events(run)
    try:
        result = run.child_result(task, contract.StepResult)
    except StepFailed as failure:
        detail = f"the analysis at {percent}% failed ({failure.reason}); treating it as a failed step"
        record = contract.RollbackRecord(trigger=contract.RollbackTrigger.ANALYSIS, at=run.now_iso(), detail=detail)
        return TurnBack(contract.Outcome.ROLLED_BACK, detail, record)
    run.progress = contract.StepProgress(
        percent=percent, steps=steps, elapsed_minutes=result.elapsed_minutes, green=result.green, blue=result.blue
    )
    if result.verdict == "pass":
        run.note(f"analysis passed: {result.detail}")
        return None
    if result.verdict == "stopped":
        return turn_back_from_events(run) or TurnBack(contract.Outcome.FAILED, f"switch stopped: {result.detail}")
    record = contract.RollbackRecord(trigger=contract.RollbackTrigger.ANALYSIS, at=run.now_iso(), detail=result.detail)
    return TurnBack(contract.Outcome.ROLLED_BACK, f"analysis failed {result.detail}", record)


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
    yield from _restore_blue_weight(run, plan)
    # Minutes until blue carried the traffic again count from the decision to roll back.
    since = _parse_iso(why.rollback.at) if why.rollback is not None else run.now
    after = "the rollback" if why.rollback is not None else "the change"
    move = yield from converge(run, plan, 0.0, since, interruptible=False, since=after)
    if why.rollback is not None and move is not None:
        run.rollback = why.rollback.model_copy(
            update={
                "blue_back_after_minutes": move.minutes,
                "blue_share": None if move.observed_green is None else round(1 - move.observed_green, 4),
            }
        )
    return None


def _restore_blue_weight(run: Run, plan: contract.Plan) -> Step:
    """After a gradual switch went back, blue alone takes traffic: its weight goes back to full, so the next
    run starts from the weights an all-at-once switch would have (green's origin is disabled by now)."""
    if plan.settings.switch.mode != "gradual":
        return
    try:
        for pair in plan.traffic.groups:
            change = contract.WeightChange(
                traffic=plan.traffic,
                group=pair.group,
                origins=[(pair.blue, contract.OriginSettings(weight=gradual.FULL_WEIGHT))],
            )
            yield from run.call(set_origin_weights, change)
    except StepFailed as failure:
        run.note(f"blue's origin weight not restored ({failure.reason}); traffic is on blue regardless")


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _notify_rollback(run: Run, why: TurnBack, message: str) -> Step:
    assert why.rollback is not None
    yield from run.notify("rollback", message, trigger=why.rollback.trigger, reason=why.reason)
