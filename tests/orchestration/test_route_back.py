"""Routing back to blue never gives up (`orchestrators/traffic.py: route_back`).

Once traffic has moved, trouble routes it back to blue, and a Front Door that refuses is retried on
durable timers (1, 2, 4 ... 15 min) for as long as it takes. Meanwhile the status says what the run
waits on (`waiting_for`) and that an operator may end the wait (`can_resolve_manually`); a
`ResolveManually` event does, leaving green as it is.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from bluegreen import contract
from bluegreen.config import Bake
from orchestrators.traffic import ROUTE_BACK_MAX_WAIT_SECONDS
from tests.orchestration.conftest import (
    BLUE_NAME,
    BLUE_ORIGIN,
    GREEN_ID,
    GREEN_NAME,
    GREEN_ORIGIN,
    GROUP,
    OPERATOR,
    RUN_ID,
    Kind,
    UpgradeRun,
    abort,
    assert_serving_only,
    children_named,
    during_bake,
    left,
    notes,
    resolve,
    rollback,
    straight_to_the_switch,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome, Phase = contract.Outcome, contract.Phase
MINUTE = timedelta(minutes=1)
MAX_WAIT = timedelta(seconds=ROUTE_BACK_MAX_WAIT_SECONDS)
LOCKED = contract.ErrorInfo(code="ScopeLocked", message="a read-only lock is set on the profile")


def refused_back_attempts(upgrade: UpgradeRun, since: datetime) -> list[datetime]:
    """When the run asked Front Door to change an origin from `since` on (the route back's attempts)."""
    return [at for at in upgrade.times("set_origin_enabled") if at >= since]


def failures(status: contract.RunStatus | contract.RunOutput) -> list[str]:
    return [note for note in notes(status) if note.startswith("routing back failed (")]


# ---- refused for two hours, then taken


def test_route_back_refused_for_two_hours_is_retried_with_capped_waits_until_front_door_takes_it(upgrade):
    straight_to_the_switch(upgrade)
    statuses = upgrade.at_every_timer()
    began: list[datetime] = []

    def rollback_into_a_locked_front_door() -> None:
        began.append(upgrade.now())
        upgrade.azure.outage("set_origin_enabled", LOCKED, until=upgrade.now() + timedelta(hours=2))
        upgrade.raise_event("Rollback", rollback())

    during_bake(upgrade, 3, rollback_into_a_locked_front_door)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "checkout errors")

    (start,) = began
    attempts = refused_back_attempts(upgrade, start)
    taken = next(at for at in attempts if at >= start + timedelta(hours=2))  # the first try after the lock went
    refused = [at for at in attempts if at < taken]
    waits = [b - a for a, b in itertools.pairwise([*refused, taken])]
    assert waits[:5] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, MAX_WAIT]  # growing ...
    assert set(waits[4:]) == {MAX_WAIT}  # ... and capped at 15 minutes
    assert taken - (start + timedelta(hours=2)) < MAX_WAIT  # no later than one wait after Front Door took writes again
    assert len(failures(output)) == len(refused)
    assert [note.rsplit(" in ", 1)[1] for note in failures(output)][:6] == [
        "1 min",
        "2 min",
        "4 min",
        "8 min",
        "15 min",
        "15 min",
    ]

    # While it waited, the status said on what, and that an operator may resolve it by hand.
    meanwhile = [s for at, s in statuses if refused[0] <= at < taken]
    assert len(meanwhile) >= len(refused)
    assert all(s.phase == Phase.ROLLBACK and s.can_resolve_manually for s in meanwhile)
    assert all((s.waiting_for or "").startswith("Front Door, to route back to blue (ScopeLocked: ") for s in meanwhile)
    assert all(not s.can_roll_back and not s.abortable for s in meanwhile)
    end = upgrade.status()
    assert (end.can_resolve_manually, end.waiting_for, end.outcome) == (False, None, Outcome.ROLLED_BACK)

    assert f"traffic is back on blue ({BLUE_NAME})" in notes(output)
    assert left(output) == [("green", GREEN_NAME, "stopped")]  # then green is stopped, as after any rollback
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- refused for ever, until an operator resolves it by hand


def rolled_back(upgrade: UpgradeRun) -> str:
    straight_to_the_switch(upgrade)

    def rollback_into_a_locked_front_door() -> None:
        upgrade.azure.outage("set_origin_enabled", LOCKED)
        upgrade.raise_event("Rollback", rollback())

    during_bake(upgrade, 3, rollback_into_a_locked_front_door)
    return "checkout errors"


def lock_after_the_first_write(upgrade: UpgradeRun) -> None:
    upgrade.azure.outage("set_origin_enabled", LOCKED, start=upgrade.now() + timedelta(seconds=1))


def failed(upgrade: UpgradeRun) -> str:
    """The switch's Front Door deadline passes (green enabled, not deployed); then Front Door locks."""
    straight_to_the_switch(upgrade)
    upgrade.azure.front_door.deploy_delay = timedelta(minutes=40)
    upgrade.during("set_origin_enabled", lambda: lock_after_the_first_write(upgrade))
    return "switch failed: FrontDoorNotDeployed: Front Door did not report the change deployed within 30 min"


def aborted(upgrade: UpgradeRun) -> str:
    """An Abort that arrives as the switch starts; then Front Door locks."""
    straight_to_the_switch(upgrade)

    def abort_then_lock() -> None:
        upgrade.raise_event("Abort", abort())
        lock_after_the_first_write(upgrade)

    upgrade.during("set_origin_enabled", abort_then_lock)
    return f"aborted by {OPERATOR} during the switch: change freeze"


TURN_BACKS: dict[str, tuple[Callable[[UpgradeRun], str], contract.Outcome]] = {
    "rolled back": (rolled_back, Outcome.ROLLED_BACK),
    "failed switch": (failed, Outcome.FAILED),
    "aborted switch": (aborted, Outcome.ABORTED),
}


def resolve_after(upgrade: UpgradeRun, tries: int) -> list[tuple[datetime, contract.RunStatus]]:
    """Raise ResolveManually while the run waits, once it has failed to route back `tries` times."""
    seen: list[tuple[datetime, contract.RunStatus]] = []

    def ready(status: contract.RunStatus) -> bool:
        return status.can_resolve_manually and len(failures(status)) >= tries

    def act() -> None:
        seen.append((upgrade.now(), upgrade.status()))
        upgrade.raise_event("ResolveManually", resolve(id="resolve-1"))

    upgrade.once_waiting(ready, act)
    return seen


@pytest.mark.parametrize("turn_back", TURN_BACKS.values(), ids=TURN_BACKS.keys())
def test_route_back_refused_for_ever_ends_when_an_operator_resolves_it_by_hand(upgrade, turn_back):
    setup, outcome = turn_back
    why = setup(upgrade)
    at_resolve = resolve_after(upgrade, tries=5)
    output = upgrade.run()

    (resolved_at, waiting), *_ = at_resolve
    assert waiting.phase == Phase.ROLLBACK and waiting.can_resolve_manually
    assert (waiting.waiting_for or "").startswith("Front Door, to route back to blue (ScopeLocked: ")
    # The outcome stays the turn-back's; the reason says who took over and why.
    assert output.outcome == outcome
    assert output.reason == f"{why}; resolved by hand by {OPERATOR}: Front Door fixed by hand"
    assert f"resolved by hand by {OPERATOR}: Front Door fixed by hand; traffic left as Front Door has it" in notes(
        output
    )
    # Green is left as it is: no stop, no delete, named in left_behind as running.
    assert upgrade.payloads("start_cluster_stop") == upgrade.payloads("start_cluster_delete") == []
    assert upgrade.azure.started(Kind.STOP) == upgrade.azure.started(Kind.DELETE) == []
    (green,) = output.left_behind
    assert (green.role, green.cluster_id, green.state) == ("green", GREEN_ID, "running")
    assert green.why == f"left as it is: resolved by {OPERATOR}"
    # ... and the run ends at once: no try after the event (the last refused one was at that very moment,
    # just before the run armed its retry timer), no timer waited.
    assert [at for at in upgrade.times("set_origin_enabled") if at > resolved_at] == []
    assert upgrade.ended_at() == resolved_at
    assert len(failures(output)) == 5
    end = upgrade.status()
    assert (end.outcome, end.can_resolve_manually, end.waiting_for) == (outcome, False, None)


def test_output_after_a_resolve_by_hand_does_not_claim_blue_is_live(upgrade):
    rolled_back(upgrade)
    resolve_after(upgrade, tries=2)
    output = upgrade.run()
    assert upgrade.azure.front_door.live(GROUP) == [GREEN_ORIGIN]  # what users are served at the end
    assert output.live != BLUE_NAME


# ---- Front Door deadlines: the switch's, then the route back's own


@pytest.mark.parametrize("timeout, delay", [(30, 40), (10, 12)], ids=["default 30 min", "10 min"])
def test_switch_deadline_routes_back_and_the_route_backs_own_deadline_is_retried_and_reported(upgrade, timeout, delay):
    straight_to_the_switch(upgrade, switch_timeout_minutes=timeout)
    upgrade.azure.front_door.deploy_delay = timedelta(minutes=delay)  # every change takes longer than the timeout
    statuses = upgrade.at_every_timer()
    output = upgrade.run()
    not_deployed = f"FrontDoorNotDeployed: Front Door did not report the change deployed within {timeout} min"
    assert (output.outcome, output.reason) == (Outcome.FAILED, f"switch failed: {not_deployed}")

    def at(detail: str) -> datetime:
        return datetime.fromisoformat(next(e.at for e in output.timeline if e.detail.startswith(detail)))

    switched, back = at("routing traffic to "), at("routing back to ")
    assert back - switched == timedelta(minutes=timeout)  # the switch's deadline
    # Routing back waits for Front Door too, within its own deadline: it passes (disabling green takes
    # `delay` minutes to deploy), and the route back is retried, which the timeline reports.
    assert failures(output) == [f"routing back failed ({not_deployed}); trying again in 1 min"]
    # Each change has the whole timeout: the route back's break (green disabled) did not deploy in time.
    assert at("routing back failed") - at(f"origin {GREEN_ORIGIN} disabled") == timedelta(minutes=timeout)
    retry = [s for t, s in statuses if at("routing back failed") <= t < at("traffic is back on blue")]
    assert retry and all(s.can_resolve_manually for s in retry)
    assert all((s.waiting_for or "").startswith(f"Front Door, to route back to blue ({not_deployed})") for s in retry)
    assert at("traffic is back on blue") > at("routing back failed")
    # Blue never stopped serving: make-before-break never got past "wait until deployed" towards green.
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (GREEN_ORIGIN, False)]
    # A failed switch removes green once traffic is back.
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert output.left_behind == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_resolve_while_the_bake_watch_still_runs_ends_the_run_when_the_watch_does(upgrade):
    # A 30-minute bake, a rollback at minute 3 into a locked Front Door, resolved at the first wait: the
    # run still awaits its bake watch (green takes traffic, so it watches to the window's end), no longer.
    straight_to_the_switch(upgrade, bake=Bake(window_minutes=30))

    def rollback_into_a_locked_front_door() -> None:
        upgrade.azure.outage("set_origin_enabled", LOCKED)
        upgrade.raise_event("Rollback", rollback())

    during_bake(upgrade, 3, rollback_into_a_locked_front_door)
    at_resolve = resolve_after(upgrade, tries=1)
    output = upgrade.run()
    (resolved_at, _), *_ = at_resolve
    assert output.outcome == Outcome.ROLLED_BACK
    baking = datetime.fromisoformat(next(e.at for e in output.timeline if e.phase == Phase.BAKE))
    window_end = baking + timedelta(minutes=30)
    assert resolved_at < window_end <= upgrade.ended_at() <= window_end + MINUTE
    (watch,) = children_named(upgrade, "bake_watch")
    assert watch["output"]["verdict"] == "clean"
