"""Notifications, against scripted activity results: each moment's notice at its moment, the approval reminder an
hour before a long wait's deadline, and a notice that cannot be delivered never changing what the run does."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bluegreen import contract
from bluegreen.config import Approval
from tests.orchestration.conftest import (
    BLUE_NAME,
    BLUE_VERSION,
    GREEN_NAME,
    HOPS,
    RUN_ID,
    STARTED_BY,
    Kind,
    UpgradeRun,
    abort,
    awaiting_approval,
    during_bake,
    notes,
    rollback,
    straight_to_the_switch,
)
from tests.orchestration.test_revert import revert_plan, start_revert

Outcome = contract.Outcome


def events(upgrade: UpgradeRun) -> list[str]:
    return [notice.event for notice in upgrade.azure.notifications]


def sent(upgrade: UpgradeRun, event: str) -> contract.Notice:
    (notice,) = [n for n in upgrade.azure.notifications if n.event == event]
    return notice


def at(notice: contract.Notice) -> datetime:
    return datetime.fromisoformat(notice.at)


def first_entry(output: contract.RunOutput, phase: contract.Phase) -> contract.TimelineEntry:
    return next(entry for entry in output.timeline if entry.phase == phase)


# ---- each moment, at its moment


def test_a_happy_run_notifies_awaiting_approval_then_the_switch_then_completed(upgrade):
    in_approval = upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert events(upgrade) == ["awaiting-approval", "switch", "completed"]

    (waiting,) = in_approval
    awaiting = sent(upgrade, "awaiting-approval")
    assert (awaiting.deadline, awaiting.phase) == (waiting.deadline, contract.Phase.APPROVAL)
    assert awaiting.at == first_entry(output, contract.Phase.APPROVAL).at  # as soon as the wait begins
    assert awaiting.message == f"waiting for approval until {waiting.deadline}"
    assert (awaiting.run_id, awaiting.environment, awaiting.kind, awaiting.started_by) == (
        RUN_ID,
        "nod-prod",
        "upgrade",
        STARTED_BY,
    )
    assert (awaiting.blue, awaiting.green) == (f"{BLUE_NAME} ({BLUE_VERSION})", GREEN_NAME)

    switch = sent(upgrade, "switch")
    assert switch.at == first_entry(output, contract.Phase.SWITCH).at  # before the first Front Door write
    assert at(switch) <= upgrade.azure.front_door.writes[0].at
    assert switch.message == f"routing traffic to {GREEN_NAME} (make-before-break)"

    completed = sent(upgrade, "completed")
    assert (completed.outcome, completed.reason, completed.target_version) == (Outcome.COMPLETED, None, HOPS[-1])
    assert at(completed) == upgrade.ended_at()  # after blue is retired: the last thing the run does


def test_auto_approval_sends_no_approval_notice(upgrade):
    straight_to_the_switch(upgrade)
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert events(upgrade) == ["switch", "completed"]


def test_an_error_spike_notifies_the_rollback_with_its_trigger_and_reason_once_traffic_is_back_on_blue(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.spike_from_minute = 3
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert events(upgrade) == ["switch", "rollback", "ended"]
    notice = sent(upgrade, "rollback")
    assert (notice.trigger, notice.reason, notice.phase) == (
        contract.RollbackTrigger.METRICS,
        output.reason,
        contract.Phase.ROLLBACK,
    )
    assert notice.message == f"traffic is back on {BLUE_NAME}: {output.reason}"
    back = next(entry for entry in output.timeline if entry.detail == f"traffic is back on blue ({BLUE_NAME})")
    assert notice.at == back.at
    # Users first: every write of the route back happened before the channel was told.
    assert upgrade.azure.front_door.writes[-1].at <= at(notice)
    ended = sent(upgrade, "ended")
    assert (ended.outcome, ended.reason) == (Outcome.ROLLED_BACK, output.reason)


def test_an_operators_rollback_is_notified_with_its_trigger_and_reason(upgrade):
    straight_to_the_switch(upgrade)
    during_bake(upgrade, 2, lambda: upgrade.raise_event("Rollback", rollback(reason="checkout errors")))
    assert upgrade.run().outcome == Outcome.ROLLED_BACK
    notice = sent(upgrade, "rollback")
    assert (notice.trigger, notice.reason) == (contract.RollbackTrigger.MANUAL, "checkout errors")


def test_a_rollback_that_front_door_refuses_is_notified_at_the_first_refusal_not_once_it_is_back(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.spike_from_minute = 2
    refused = contract.ErrorInfo(code="Conflict", message="the profile is being updated")
    # The switch made its two writes; the route back's first one is refused for an hour.
    upgrade.after(
        "measure_error_rate",
        lambda: upgrade.azure.outage("set_origin_enabled", refused, until=upgrade.now() + timedelta(hours=1)),
        nth=2,
    )
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    notice = sent(upgrade, "rollback")
    assert notice.message.startswith("Front Door has not taken the route back yet: Front Door, to route back")
    assert at(notice) < upgrade.azure.front_door.writes[-1].at  # told while it waits, only once
    assert events(upgrade) == ["switch", "rollback", "ended"]


def test_a_failure_before_the_switch_notifies_failed_with_the_reason(upgrade):
    upgrade.azure.fail_operation(Kind.UPGRADE_POOL, code="UpgradeFailed", message="node drain timed out")
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert events(upgrade) == ["failed"]
    notice = sent(upgrade, "failed")
    assert (notice.outcome, notice.reason) == (Outcome.FAILED, output.reason)
    assert at(notice) == upgrade.ended_at()  # after green was removed


def test_a_run_that_cannot_resolve_its_plan_still_notifies_failed(upgrade):
    unknown = contract.ErrorInfo(code="UnknownVersion", message="1.99 is not offered")
    upgrade.azure.fail_activity("resolve_run", unknown)
    output = upgrade.run()
    notice = sent(upgrade, "failed")
    assert (notice.reason, notice.blue, notice.green) == (output.reason, None, None)


def test_rejected_and_aborted_runs_end_with_an_ended_notice(upgrade):
    upgrade.answer_approval(approved=False, comment="not during the sale")
    assert upgrade.run().outcome == Outcome.REJECTED
    assert events(upgrade) == ["awaiting-approval", "ended"]
    assert (sent(upgrade, "ended").outcome, sent(upgrade, "ended").reason) == (Outcome.REJECTED, "not during the sale")


def test_an_abort_while_waiting_for_approval_ends_with_an_ended_notice(upgrade):
    upgrade.once_waiting(awaiting_approval, lambda: upgrade.raise_event("Abort", abort("wrong target")))
    assert upgrade.run().outcome == Outcome.ABORTED
    assert events(upgrade) == ["awaiting-approval", "ended"]
    assert sent(upgrade, "ended").outcome == Outcome.ABORTED


def test_a_revert_run_says_so_in_its_notices():
    upgrade = start_revert(revert_plan(approval=Approval()))
    upgrade.answer_approval()
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert events(upgrade) == ["awaiting-approval", "switch", "completed"]
    assert {notice.kind for notice in upgrade.azure.notifications} == {"revert"}


# ---- the approval reminder: a second timer at deadline - 1 h, only for a longer wait


def test_an_approval_still_awaited_an_hour_before_its_deadline_is_reminded_then_times_out(upgrade):
    output = upgrade.run()  # nobody decides
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "approval timed out")
    assert events(upgrade) == ["awaiting-approval", "approval-expiring", "ended"]
    awaiting, reminder = sent(upgrade, "awaiting-approval"), sent(upgrade, "approval-expiring")
    deadline = datetime.fromisoformat(str(awaiting.deadline))
    assert reminder.deadline == awaiting.deadline
    assert at(reminder) == deadline - timedelta(hours=1)
    assert reminder.message == f"without a decision by {awaiting.deadline} the run is rejected"
    assert output.approval is not None and datetime.fromisoformat(output.approval.at) == deadline  # not earlier


def test_an_approval_after_the_reminder_still_counts(upgrade):
    # While the reminder is being sent (the second notice), the approver decides.
    decision = contract.ApprovalEvent(approved=True, by="bob@example.com")
    upgrade.azure.on_call("send_notifications", lambda _payload: upgrade.raise_event("Approval", decision), nth=2)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert events(upgrade) == ["awaiting-approval", "approval-expiring", "switch", "completed"]
    assert output.approval is not None and output.approval.at == sent(upgrade, "approval-expiring").at


def test_an_approval_before_the_reminder_cancels_it(upgrade):
    upgrade.answer_approval()
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert "approval-expiring" not in events(upgrade)
    assert upgrade.ended_at() - at(sent(upgrade, "awaiting-approval")) < timedelta(hours=23)


@pytest.mark.parametrize("hours", [1.0, 0.5])
def test_a_wait_of_an_hour_or_less_has_no_reminder(upgrade, hours):
    upgrade.azure.settings(approval=Approval(timeout_hours=hours))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "approval timed out")
    assert events(upgrade) == ["awaiting-approval", "ended"]


def test_a_wait_just_over_an_hour_is_reminded_at_once(upgrade):
    upgrade.azure.settings(approval=Approval(timeout_hours=1.25))
    upgrade.run()
    awaiting, reminder = sent(upgrade, "awaiting-approval"), sent(upgrade, "approval-expiring")
    assert at(reminder) - at(awaiting) == timedelta(minutes=15)


# ---- a notification never changes the run


def test_a_failing_target_does_not_change_the_outcome_and_is_noted_in_the_timeline(upgrade):
    upgrade.azure.failing_targets = {"teams#1"}
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert events(upgrade) == ["awaiting-approval", "switch", "completed"]
    for event in ("awaiting-approval", "switch", "completed"):
        assert f"{event} notification not sent: teams#1 (HTTP 500)" in notes(output)


def test_the_notify_activity_failing_outright_is_not_retried_and_does_not_change_the_outcome(upgrade):
    upgrade.azure.fail_activity("send_notifications", *(RuntimeError("worker recycled") for _ in range(3)))
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert upgrade.azure.calls["send_notifications"] == 3  # once per notice: no durable retries
    failed = [line for line in notes(output) if " notification not sent: AzureUnavailable" in line]
    assert len(failed) == 3


def test_an_environment_without_targets_costs_the_run_one_call(upgrade):
    upgrade.azure.notify_events = []
    upgrade.answer_approval()
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert upgrade.azure.calls["send_notifications"] == 1 and upgrade.azure.notifications == []


def test_only_the_events_some_target_takes_are_sent(upgrade):
    upgrade.azure.notify_events = ["completed"]
    upgrade.answer_approval()
    assert upgrade.run().outcome == Outcome.COMPLETED
    assert events(upgrade) == ["completed"]
    assert upgrade.azure.calls["send_notifications"] == 2  # the first notice learnt which events are wanted
