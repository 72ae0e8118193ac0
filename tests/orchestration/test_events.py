"""Raised events carry an id made by the door; the run records which one it took.

Each of Abort, Rollback and Approval is raised at the three moments an event can meet the run:
(a) while an activity runs (the event reaches the instance before the activity's result), (b) while
the run waits on a timer, and (c) right after an activity has answered, before the run has replayed
that answer and armed its next timer. Whatever the moment, the event is acted on, and
`RunStatus.abort`, `RollbackRecord.event_id` or `Decision.event_id` names the event the run took.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bluegreen import contract
from tests.orchestration.conftest import (
    BLUE_NAME,
    BLUE_ORIGIN,
    GREEN_ID,
    GREEN_NAME,
    GREEN_ORIGIN,
    OPERATOR,
    RUN_ID,
    SHORT_BAKE,
    UpgradeRun,
    abort,
    assert_serving_only,
    awaiting_approval,
    create_at_target_plan,
    during_bake,
    left,
    notes,
    rollback,
    straight_to_the_switch,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome, Phase = contract.Outcome, contract.Phase
Act = Callable[[], None]
# Installs the hook that does `act` at one moment of the run (and configures what that moment needs).
Moment = Callable[[UpgradeRun, Act], object]


def manual_approval(upgrade: UpgradeRun, **settings) -> None:
    """Green created at the target (no hops), approval awaited from an operator."""
    upgrade.azure.plan = create_at_target_plan(**settings)


def in_the_verify_pause(upgrade: UpgradeRun, act: Act) -> object:
    upgrade.azure.verify_passes_after = 5  # so a pause (a durable timer) follows each verification
    return upgrade.once_waiting(lambda s: s.phase == Phase.VERIFY, act)


def after_a_failed_verification(upgrade: UpgradeRun, act: Act) -> object:
    upgrade.azure.verify_passes_after = 5
    return upgrade.after("verify_green", act)


def assert_green_removed_and_blue_untouched(upgrade: UpgradeRun, output: contract.RunOutput) -> None:
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert upgrade.payloads("start_cluster_stop") == []
    assert upgrade.origin_writes() == []
    assert output.left_behind == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def decision_notes(output: contract.RunOutput) -> list[str]:
    return [n for n in notes(output) if n.startswith(("approved by ", "rejected by "))]


# ---- Abort: before the switch, at every moment


ABORT_MOMENTS: dict[str, Moment] = {
    "(a) during an activity of the run: the last verification": lambda u, act: u.during("verify_green", act),
    "(a) during an activity of a cluster operation: the create's start": lambda u, act: u.during(
        "start_green_create", act
    ),
    "(b) during a timer: the pause between verifications": in_the_verify_pause,
    "(b) during a timer: the approval wait": lambda u, act: u.once_waiting(awaiting_approval, act),
    "(b) during a timer: the create's poll": lambda u, act: u.once_waiting(lambda s: s.phase == Phase.CLONE, act),
    "(c) between a verification's result and the pause's timer": after_a_failed_verification,
    "(c) between the create's start and its first poll timer": lambda u, act: u.after("start_green_create", act),
    "(a) during an activity of the populate: a copy": lambda u, act: u.during("copy_configurations", act),
    "(b) during a timer: the populate's poll": lambda u, act: u.once_waiting(lambda s: s.phase == Phase.POPULATE, act),
    "(c) between the populate's copy and its first poll timer": lambda u, act: u.after("copy_configurations", act),
}


@pytest.mark.parametrize("moment", ABORT_MOMENTS.values(), ids=ABORT_MOMENTS.keys())
def test_abort_at_every_moment_before_the_switch_is_acted_on_and_recorded_with_its_id(upgrade, moment):
    manual_approval(upgrade)
    sent = abort(id="abort-7")
    moment(upgrade, lambda: upgrade.raise_event("Abort", sent))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ABORTED, f"aborted by {OPERATOR}: change freeze")
    assert upgrade.status().abort == sent  # the Abort the run acted on, id and all
    assert output.approval is None
    assert len(upgrade.payloads("verify_green")) <= 1  # acted on at the first chance, not a try later
    assert_green_removed_and_blue_untouched(upgrade, output)


def test_abort_as_the_switch_starts_routes_back_and_is_recorded_with_its_id(upgrade):
    straight_to_the_switch(upgrade)
    sent = abort(id="abort-late")
    upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Abort", sent))
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    assert upgrade.status().abort == sent
    assert upgrade.payloads("start_cluster_delete") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- Rollback: from the switch to the end of the grace period, at every moment


def after_clean_bake(status: contract.RunStatus) -> bool:
    return status.phase == Phase.BAKE and notes(status)[-1].startswith("clean bake")


ROLLBACK_MOMENTS: dict[str, Moment] = {
    "(a) during an activity of the run: the switch's first write": lambda u, act: u.during("set_origin_enabled", act),
    "(a) during an activity of the bake watch: a measurement": lambda u, act: during_bake(u, 2, act),
    "(b) during a timer: the deployment watch's": lambda u, act: u.once_waiting(lambda s: s.phase == Phase.SWITCH, act),
    "(b) during a timer: the bake watch's": lambda u, act: u.once_waiting(lambda s: s.phase == Phase.BAKE, act),
    "(b) during a timer: the grace period": lambda u, act: u.once_waiting(after_clean_bake, act),
    "(c) between the switch's first write and the next timer": lambda u, act: u.after("set_origin_enabled", act),
    "(c) between a measurement and the bake watch's next timer": lambda u, act: u.after("measure_error_rate", act, 2),
}


@pytest.mark.parametrize("moment", ROLLBACK_MOMENTS.values(), ids=ROLLBACK_MOMENTS.keys())
def test_rollback_at_every_moment_is_acted_on_and_recorded_with_its_id(upgrade, moment):
    straight_to_the_switch(upgrade)
    seen = moment(upgrade, lambda: upgrade.raise_event("Rollback", rollback(id="rollback-3")))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "checkout errors")
    record = output.rollback
    assert record is not None
    assert (record.trigger, record.by, record.detail, record.event_id) == (
        contract.RollbackTrigger.MANUAL,
        OPERATOR,
        "checkout errors",
        "rollback-3",
    )
    assert upgrade.status().rollback == record
    assert sum(n.startswith("routing back to ") for n in notes(output)) == 1
    assert isinstance(seen, list) and len(seen) == 1  # the moment came, once
    assert left(output) == [("green", GREEN_NAME, "stopped")]
    assert upgrade.payloads("start_cluster_stop") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert_serving_only(upgrade, BLUE_ORIGIN)


@pytest.mark.parametrize(
    "moment",
    [
        lambda u, act: u.during("start_cluster_stop", act),
        lambda u, act: u.once_waiting(lambda s: s.phase == Phase.RETIRE, act),
        lambda u, act: u.after("start_cluster_stop", act),
    ],
    ids=["(a) during retire's stop", "(b) during retire's poll timer", "(c) after retire's stop started"],
)
def test_rollback_raised_after_the_grace_period_changes_nothing_and_the_run_completes(upgrade, moment):
    straight_to_the_switch(upgrade)
    seen = moment(upgrade, lambda: upgrade.raise_event("Rollback", rollback(id="rollback-late")))
    output = upgrade.run()
    (retiring,) = seen
    assert (retiring.phase, retiring.can_roll_back) == (Phase.RETIRE, False)  # no door offered it
    assert (output.outcome, output.reason, output.rollback) == (Outcome.COMPLETED, None, None)
    assert upgrade.status().rollback is None
    assert not any(n.startswith("routing back") for n in notes(output))
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (BLUE_ORIGIN, False)]
    assert left(output) == [("blue", BLUE_NAME, "stopped")]
    assert output.live == GREEN_NAME
    assert_serving_only(upgrade, GREEN_ORIGIN)


# ---- Approval: at every moment, approve or reject


def approval(approved: bool, id: str, deadline: str | None = None) -> contract.ApprovalEvent:
    comment = "go" if approved else "not during the sale"
    return contract.ApprovalEvent(approved=approved, by=OPERATOR, comment=comment, id=id, deadline=deadline)


APPROVAL_MOMENTS: dict[str, Callable[[UpgradeRun, Callable[[str | None], None]], object]] = {
    # (a) and (c): the wait has not begun, so no door has seen its deadline.
    "(a) during an activity: the verification that passes": lambda u, act: u.during("verify_green", lambda: act(None)),
    # (b): as a door does, with the deadline the status advertises.
    "(b) during a timer: the approval wait": lambda u, act: u.once_waiting(
        awaiting_approval, lambda: act(u.status().deadline)
    ),
    "(c) between the verification's result and the wait's timer": lambda u, act: u.after(
        "verify_green", lambda: act(None)
    ),
}


@pytest.mark.parametrize("approved", [True, False], ids=["approve", "reject"])
@pytest.mark.parametrize("moment", APPROVAL_MOMENTS.values(), ids=APPROVAL_MOMENTS.keys())
def test_approval_at_every_moment_is_acted_on_and_recorded_with_its_id(upgrade, moment, approved):
    manual_approval(upgrade, bake=SHORT_BAKE)
    moment(upgrade, lambda deadline: upgrade.raise_event("Approval", approval(approved, "approval-1", deadline)))
    output = upgrade.run()
    decision = output.approval
    assert decision is not None
    assert (decision.approved, decision.by, decision.event_id) == (approved, OPERATOR, "approval-1")
    assert upgrade.status().approval == decision
    assert len(decision_notes(output)) == 1
    if approved:
        assert output.outcome == Outcome.COMPLETED
        assert_serving_only(upgrade, GREEN_ORIGIN)
    else:
        assert (output.outcome, output.reason) == (Outcome.REJECTED, "not during the sale")
        assert_green_removed_and_blue_untouched(upgrade, output)


@pytest.mark.parametrize("first_approves", [True, False], ids=["approve first", "reject first"])
def test_approve_and_reject_both_raised_while_waiting_give_exactly_one_decision(upgrade, first_approves):
    manual_approval(upgrade)

    def two_approvers() -> None:
        deadline = upgrade.status().deadline
        upgrade.raise_event("Approval", approval(first_approves, "first", deadline))
        upgrade.raise_event("Approval", approval(not first_approves, "second", deadline))

    upgrade.once_waiting(awaiting_approval, two_approvers)
    output = upgrade.run()
    decision = output.approval
    assert decision is not None and (decision.approved, decision.event_id) == (first_approves, "first")
    assert upgrade.status().approval == decision
    assert decision_notes(output) == [
        f"{'approved' if first_approves else 'rejected'} by {OPERATOR}"
        + ("" if first_approves else ": not during the sale")
    ]
    if first_approves:
        assert output.outcome == Outcome.COMPLETED
        assert_serving_only(upgrade, GREEN_ORIGIN)
    else:
        assert output.outcome == Outcome.REJECTED
        assert_green_removed_and_blue_untouched(upgrade, output)


def test_approval_for_another_wait_is_a_rejection_recorded_with_its_id(upgrade):
    manual_approval(upgrade)
    seen = upgrade.once_waiting(
        awaiting_approval,
        lambda: upgrade.raise_event("Approval", approval(True, "stale-1", deadline="2026-11-19T06:00:30Z")),
    )
    output = upgrade.run()
    (waiting,) = seen
    assert waiting.deadline is not None and waiting.deadline != "2026-11-19T06:00:30Z"
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "an approval for another wait")
    decision = output.approval
    assert decision is not None
    assert (decision.approved, decision.by, decision.comment, decision.event_id) == (
        False,
        None,
        "an approval for another wait",
        "stale-1",
    )
    assert decision_notes(output) == ["rejected by nobody: an approval for another wait"]
    assert_green_removed_and_blue_untouched(upgrade, output)
    # Decided when it arrived, not at the wait's 24-hour timeout: green's removal began at once.
    assert upgrade.times("start_cluster_delete") == upgrade.times("verify_green")
