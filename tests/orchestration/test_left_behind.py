"""Never stranded: what becomes of green and blue once the outcome is decided (`orchestrators/cleanup.py`).

Every cluster of the run that is still there at the end, other than the live one, is named in the
output's `left_behind` with its state, why, and an `az aks delete` command; nothing else is. Cleanups
(removing green, retiring blue) retry on durable timers for up to `CLEANUP_PATIENCE_MINUTES`, and a
green that is not this run's is never touched.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bluegreen import contract
from orchestrators.cleanup import CLEANUP_MAX_WAIT_SECONDS, CLEANUP_PATIENCE_MINUTES
from orchestrators.run import iso
from tests.orchestration.conftest import (
    BLUE_ID,
    BLUE_NAME,
    BLUE_ORIGIN,
    GREEN_ID,
    GREEN_NAME,
    GREEN_ORIGIN,
    RUN_ID,
    Kind,
    UpgradeRun,
    abort,
    assert_serving_only,
    awaiting_approval,
    left,
    notes,
    remove_with,
    straight_to_the_switch,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome = contract.Outcome
MINUTE = timedelta(minutes=1)
PATIENCE = timedelta(minutes=CLEANUP_PATIENCE_MINUTES)
NOT_OURS = f"{GREEN_ID} was not created by run {RUN_ID}"


def still_there(upgrade: UpgradeRun, output: contract.RunOutput) -> dict[str, str]:
    """What the scripted Azure says is left: each cluster of the run that still exists at the end, bar
    the live one, and whether it runs. Green is the run's once its create was started; blue once the
    run had a plan. Only an operation watched to a successful end changed anything."""
    azure = upgrade.azure

    def done(kind: contract.OperationKind, cluster_id: str) -> bool:
        return any(op.succeeded for op in azure.started(kind, cluster_id))

    clusters = {}
    if output.blue is not None:
        clusters[BLUE_NAME] = BLUE_ID
    if azure.started(Kind.CREATE):
        clusters[GREEN_NAME] = GREEN_ID
    return {
        name: "stopped" if done(Kind.STOP, cluster_id) else "running"
        for name, cluster_id in clusters.items()
        if name != output.live and not done(Kind.DELETE, cluster_id)
    }


def assert_left_behind_is_what_is_still_there(
    upgrade: UpgradeRun, output: contract.RunOutput, foreign: frozenset[str] = frozenset()
) -> None:
    """left_behind names exactly what is still there, in its state (or `unknown` where a cleanup failed).

    `foreign`: clusters in a slot that this run did not create; not this run's to name or to touch.
    """
    there = {name: state for name, state in still_there(upgrade, output).items() if name not in foreign}
    named = {entry.name: entry for entry in output.left_behind}
    assert set(named) == set(there), (named, there)
    for name, entry in named.items():
        assert entry.state in (there[name], "unknown"), entry
        assert entry.cluster_id == {BLUE_NAME: BLUE_ID, GREEN_NAME: GREEN_ID}[name]
        assert entry.role == ("blue" if name == BLUE_NAME else "green")
        assert entry.remove_with == remove_with(name)
        assert entry.why


def cleanup_calls(upgrade: UpgradeRun) -> list[tuple[str, str, str | None]]:
    """Every start of a stop or delete: (activity, cluster name, the run it was guarded by)."""
    return [
        (call.name, call.payload["cluster_id"].rsplit("/", 1)[1], call.payload["only_if_run"])
        for call in upgrade.harness.calls
        if call.name in ("start_cluster_stop", "start_cluster_delete")
    ]


# ---- retire.after_rollback: green once traffic is back on blue


@pytest.mark.parametrize(
    "mode, calls, left_as, note",
    [
        ("keep", [], [("green", GREEN_NAME, "running")], f"{GREEN_NAME} kept running"),
        (
            "stop",
            [("start_cluster_stop", GREEN_NAME, RUN_ID)],
            [("green", GREEN_NAME, "stopped")],
            f"{GREEN_NAME} stopped",
        ),
        ("delete", [("start_cluster_delete", GREEN_NAME, RUN_ID)], [], f"{GREEN_NAME} deleted"),
    ],
)
def test_after_rollback_decides_whether_green_is_kept_stopped_or_deleted(upgrade, mode, calls, left_as, note):
    straight_to_the_switch(upgrade, after_rollback=mode)
    upgrade.azure.spike_from_minute = 2
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert cleanup_calls(upgrade) == calls  # green only, guarded by this run's tag; blue untouched
    assert left(output) == left_as
    why = f"rolled back from (retire.after_rollback = {mode})"
    if mode == "delete":
        assert note in notes(output) and upgrade.azure.marked == {}  # nothing left to retain
    else:  # kept or stopped: tagged as retained first, with the run's retention
        until = upgrade.azure.marked[GREEN_ID.lower()].retained_until
        assert f"{note}: {why}; retained until {until}" in notes(output)
        assert output.left_behind[0].retained_until == until
    if left_as:
        assert output.left_behind[0].why == why
    assert_left_behind_is_what_is_still_there(upgrade, output)
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- left_behind, for every outcome


@dataclass(frozen=True)
class Case:
    setup: Callable[[UpgradeRun], None]
    outcome: contract.Outcome
    left: list[tuple[str, str, str]]
    why: list[str]  # each entry's why, in order
    serving: str = BLUE_ORIGIN
    foreign: frozenset[str] = frozenset()  # clusters in a slot that are not this run's


def approve(upgrade: UpgradeRun) -> None:
    upgrade.answer_approval()


def retire(mode: str) -> Callable[[UpgradeRun], None]:
    def setup(upgrade: UpgradeRun) -> None:
        straight_to_the_switch(upgrade, retire=mode)

    return setup


def spike(upgrade: UpgradeRun) -> None:
    straight_to_the_switch(upgrade)
    upgrade.azure.spike_from_minute = 3


def failed_upgrade(upgrade: UpgradeRun, **settings) -> None:
    upgrade.azure.settings(**settings)
    upgrade.azure.fail_operation(Kind.UPGRADE_CONTROL_PLANE, code="UpgradeFailed")


def failed_resolve(upgrade: UpgradeRun) -> None:
    upgrade.azure.fail_activity("resolve_run", contract.ErrorInfo(code="UnknownEnvironment", message="none"))


def slot_occupied(upgrade: UpgradeRun) -> None:
    upgrade.azure.fail_activity("start_green_create", contract.ErrorInfo(code="GreenSlotOccupied", message="taken"))


def failed_switch(upgrade: UpgradeRun, **settings) -> None:
    straight_to_the_switch(upgrade, **settings)
    upgrade.azure.front_door.deploy_delay = timedelta(minutes=40)  # past the 30-minute switch timeout


def aborted_before_the_switch(upgrade: UpgradeRun) -> None:
    upgrade.once_waiting(awaiting_approval, lambda: upgrade.raise_event("Abort", abort()))


def aborted_during_the_switch(upgrade: UpgradeRun) -> None:
    straight_to_the_switch(upgrade)
    upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Abort", abort()))


def rejected(upgrade: UpgradeRun, **settings) -> None:
    upgrade.azure.settings(**settings)
    upgrade.answer_approval(approved=False, comment="not now")


def green_delete_fails_for_ever(upgrade: UpgradeRun) -> None:
    failed_upgrade(upgrade)
    upgrade.azure.fail_operations_until(Kind.DELETE, None, code="ResourceLocked", message="a delete lock is set")


def green_is_not_this_runs(upgrade: UpgradeRun) -> None:
    failed_upgrade(upgrade)
    refused = contract.ErrorInfo(code="NotThisRunsCluster", message=NOT_OURS)
    upgrade.azure.fail_activity("start_cluster_delete", refused)


KEPT = "kept for investigation (keep_failed_green)"
CASES = {
    "completed, retire keep": Case(
        retire("keep"),
        Outcome.COMPLETED,
        [("blue", BLUE_NAME, "running")],
        ["hot standby (retire.mode = keep)"],
        GREEN_ORIGIN,
    ),
    "completed, retire stop": Case(
        retire("stop"),
        Outcome.COMPLETED,
        [("blue", BLUE_NAME, "stopped")],
        ["retired, restartable (retire.mode = stop)"],
        GREEN_ORIGIN,
    ),
    "completed, retire delete": Case(retire("delete"), Outcome.COMPLETED, [], [], GREEN_ORIGIN),
    "completed after a manual approval": Case(
        approve,
        Outcome.COMPLETED,
        [("blue", BLUE_NAME, "stopped")],
        ["retired, restartable (retire.mode = stop)"],
        GREEN_ORIGIN,
    ),
    "rolled back": Case(
        spike,
        Outcome.ROLLED_BACK,
        [("green", GREEN_NAME, "stopped")],
        ["rolled back from (retire.after_rollback = stop)"],
    ),
    "failed before the switch": Case(failed_upgrade, Outcome.FAILED, [], []),
    "failed resolve": Case(failed_resolve, Outcome.FAILED, [], []),
    "failed create, slot occupied": Case(slot_occupied, Outcome.FAILED, [], []),
    "failed switch": Case(failed_switch, Outcome.FAILED, [], []),
    "aborted before the switch": Case(aborted_before_the_switch, Outcome.ABORTED, [], []),
    "aborted during the switch": Case(aborted_during_the_switch, Outcome.ABORTED, [], []),
    "rejected": Case(rejected, Outcome.REJECTED, [], []),
    "keep_failed_green, failed before the switch": Case(
        lambda u: failed_upgrade(u, keep_failed_green=True), Outcome.FAILED, [("green", GREEN_NAME, "running")], [KEPT]
    ),
    "keep_failed_green, failed switch": Case(
        lambda u: failed_switch(u, keep_failed_green=True), Outcome.FAILED, [("green", GREEN_NAME, "running")], [KEPT]
    ),
    "keep_failed_green, rejected": Case(
        lambda u: rejected(u, keep_failed_green=True), Outcome.REJECTED, [("green", GREEN_NAME, "running")], [KEPT]
    ),
    "green's delete fails for more than an hour": Case(
        green_delete_fails_for_ever,
        Outcome.FAILED,
        [("green", GREEN_NAME, "unknown")],
        [f"could not delete it: ResourceLocked: delete green ({GREEN_NAME}): a delete lock is set"],
    ),
    "green is not this run's": Case(
        green_is_not_this_runs,
        Outcome.FAILED,
        [],  # not this run's: neither named as left behind by it, nor touched
        [],
        foreign=frozenset({GREEN_NAME}),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_left_behind_names_every_cluster_still_there_and_nothing_else(upgrade, case):
    case.setup(upgrade)
    output = upgrade.run()
    assert output.outcome == case.outcome
    assert left(output) == case.left
    assert [entry.why for entry in output.left_behind] == case.why
    assert_left_behind_is_what_is_still_there(upgrade, output, case.foreign)
    # Green is only ever stopped or deleted under this run's tag; blue only by retire (no tag: it is the live one).
    assert all(run == (RUN_ID if name == GREEN_NAME else None) for _, name, run in cleanup_calls(upgrade))
    assert_serving_only(upgrade, case.serving)


@pytest.mark.parametrize(
    "setup, outcome",
    [(failed_switch, Outcome.FAILED), (aborted_during_the_switch, Outcome.ABORTED)],
    ids=["failed switch", "aborted switch"],
)
def test_a_failed_or_aborted_switch_deletes_green_once_traffic_is_back(upgrade, setup, outcome):
    setup(upgrade)
    output = upgrade.run()
    assert output.outcome == outcome
    assert cleanup_calls(upgrade) == [("start_cluster_delete", GREEN_NAME, RUN_ID)]
    (delete,) = upgrade.azure.started(Kind.DELETE)
    assert delete.succeeded
    back = notes(output).index(f"traffic is back on blue ({BLUE_NAME})")
    assert notes(output)[back + 1].startswith("100% on blue")  # the edge carries it (edge convergence)
    assert notes(output)[back + 2 : back + 4] == [
        f"removed 3 grant(s), credential(s) and wiring bound to green ({GREEN_NAME})",  # before green goes
        f"{GREEN_NAME} deleted; {BLUE_NAME} stayed live throughout",
    ]
    assert output.left_behind == []


# ---- cleanups retry on durable timers, for up to an hour


def test_cleanup_that_fails_for_a_while_is_retried_with_growing_waits_and_says_what_it_waits_for(upgrade):
    failed_upgrade(upgrade)
    statuses = upgrade.at_every_timer()
    locked = contract.ErrorInfo(code="ResourceLocked", message="a delete lock is set")

    def lock_for_20_minutes() -> None:
        upgrade.azure.outage("start_cluster_delete", locked, until=upgrade.now() + timedelta(minutes=20))

    upgrade.during("start_cluster_delete", lock_for_20_minutes)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    attempts = upgrade.times("start_cluster_delete")
    assert [b - a for a, b in itertools.pairwise(attempts)] == [MINUTE, 2 * MINUTE, 4 * MINUTE, 8 * MINUTE, 15 * MINUTE]
    (delete,) = upgrade.azure.started(Kind.DELETE)  # the first start Azure took: green is gone
    assert delete.succeeded
    assert output.left_behind == []
    retries = [n for n in notes(output) if n.startswith(f"could not delete {GREEN_NAME} yet (ResourceLocked")]
    assert [n.rsplit(" in ", 1)[1] for n in retries] == ["1 min", "2 min", "4 min", "8 min", "15 min"]
    # Meanwhile the status says what the run waits on, and when it tries next.
    waiting = [s.waiting_for or "" for at, s in statuses if attempts[0] <= at < attempts[-1]]
    assert waiting and all(w.startswith(f"Azure, to delete {GREEN_NAME} (ResourceLocked: ") for w in waiting)
    assert {w.rsplit("next try at ", 1)[1] for w in waiting} == {iso(at) for at in attempts[1:]}
    assert upgrade.status().waiting_for is None


def test_cleanup_that_fails_for_more_than_an_hour_gives_up_within_the_hour_and_names_what_stays(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.fail_operations_until(Kind.STOP, None, code="OperationNotAllowed", message="maintenance window")
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    attempts = upgrade.times("start_cluster_stop")
    waits = [b - a for a, b in itertools.pairwise(attempts)]
    assert max(waits) <= timedelta(seconds=CLEANUP_MAX_WAIT_SECONDS) + timedelta(seconds=30)  # + the failing poll
    assert [w.total_seconds() // 60 for w in waits][:5] == [1, 2, 4, 8, 15]  # growing, then capped
    assert attempts[-1] - attempts[0] <= PATIENCE
    # A last try at the hour (its failing poll takes 30 s), then it gives up: the outcome is not held hostage.
    assert attempts[-1] - attempts[0] == PATIENCE
    assert upgrade.ended_at() - attempts[0] <= PATIENCE + timedelta(seconds=30)
    assert [(entry.role, entry.state) for entry in output.left_behind] == [("blue", "unknown")]
    assert output.left_behind[0].remove_with == remove_with(BLUE_NAME)
    assert upgrade.status().waiting_for is None


def test_cleanup_survives_an_arm_outage_of_55_minutes(upgrade):
    failed_upgrade(upgrade)

    def outage_of_55_minutes() -> None:
        until = upgrade.now() + timedelta(minutes=55)
        upgrade.azure.fail_operations_until(Kind.DELETE, until, code="InternalServerError", message="ARM outage")

    upgrade.during("start_cluster_delete", outage_of_55_minutes)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert upgrade.times("start_cluster_delete")[-1] - upgrade.times("start_cluster_delete")[0] <= PATIENCE
    assert any(op.succeeded for op in upgrade.azure.started(Kind.DELETE))
    assert output.left_behind == []


def test_green_that_is_not_this_runs_is_never_touched_nor_retried(upgrade):
    green_is_not_this_runs(upgrade)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    (refused,) = upgrade.times("start_cluster_delete")  # asked once, under this run's tag, and refused
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert upgrade.azure.started(Kind.DELETE) == []
    assert upgrade.ended_at() == refused  # no retry timer: waiting cannot make it this run's
    assert any(n.startswith(f"{GREEN_NAME} is not this run's to delete: it is left as it is (") for n in notes(output))
    assert not any(" yet (NotThisRunsCluster" in n for n in notes(output))
    assert output.left_behind == []  # not this run's to name, nor to remove


def test_after_rollback_stop_of_a_green_that_is_not_this_runs_is_never_retried(upgrade):
    spike(upgrade)
    refused = contract.ErrorInfo(code="NotThisRunsCluster", message="run tag 'nod-prod-0'")
    upgrade.azure.fail_activity("start_cluster_stop", refused)
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert cleanup_calls(upgrade) == [("start_cluster_stop", GREEN_NAME, RUN_ID)]
    assert left(output) == []
    prefix = f"{GREEN_NAME} is not this run's to stop: it is left as it is ("
    assert any(n.startswith(prefix) and n.endswith("run tag 'nod-prod-0')") for n in notes(output))


def test_retire_that_fails_once_is_retried_and_blue_ends_stopped(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.fail_operation(Kind.STOP, code="OperationNotAllowed", message="another operation is in progress")
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    first, second = upgrade.azure.started(Kind.STOP)
    assert (first.ended, second.ended) == (contract.OperationState.FAILED, contract.OperationState.SUCCEEDED)
    until = upgrade.azure.marked[BLUE_ID.lower()].retained_until
    assert f"{BLUE_NAME} stopped: retired, restartable (retire.mode = stop); retained until {until}" in notes(output)
    assert left(output) == [("blue", BLUE_NAME, "stopped")]
