"""Every branch of the runbook (`orchestrators/bluegreen_upgrade.py` and its steps), one test each.

Each test drives one run of the real orchestrators through the Durable SDK replay against the
scripted Azure in conftest.py, then checks the outcome and reason, what the custom status advertised
at the moment that matters (abortable, awaiting, can_roll_back), and where Front Door ended.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from bluegreen import contract
from tests.orchestration.conftest import (
    AUTO_APPROVAL,
    BLUE_ID,
    BLUE_NAME,
    BLUE_ORIGIN,
    EXTENSION,
    FLUX_CONFIGURATION,
    GREEN_ID,
    GREEN_NAME,
    GREEN_ORIGIN,
    GROUP,
    HOPS,
    OPERATOR,
    RUN_ID,
    SHORT_BAKE,
    STARTED_BY,
    TWO_POOLS,
    Kind,
    UpgradeRun,
    abort,
    assert_serving_only,
    awaiting_approval,
    children_named,
    create_at_target_plan,
    during_bake,
    left,
    notes,
    phases,
    remove_with,
    rollback,
    straight_to_the_switch,
)

# The SDK warns when an event arrives before its listener was first awaited (it keeps the event for
# that listener); these tests raise events at such moments on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome, Phase = contract.Outcome, contract.Phase
RUNBOOK_PHASES = [
    Phase.CLONE,
    Phase.POPULATE,
    Phase.UPGRADE,
    Phase.VERIFY,
    Phase.APPROVAL,
    Phase.SWITCH,
    Phase.BAKE,
    Phase.RETIRE,
]
# The polling reads repeat as often as the timing makes them; the order of everything else is the runbook.
# Reads: what they answer decides nothing about the order of the runbook's writes.
POLLS = {
    "check_cluster_operation",
    "check_configurations",
    "read_traffic",
    "measure_error_rate",
    "measure_traffic_share",
    "measure_comparison",
}


def decisive_calls(upgrade: UpgradeRun) -> list[tuple]:
    """Every activity call but the polls, with what it was about."""
    out = []
    for call in upgrade.harness.calls:
        p = call.payload
        if call.name in POLLS:
            continue
        if call.name == "start_pool_upgrade":
            out.append((call.name, p["pool"], p["version"]))
        elif call.name == "start_control_plane_upgrade":
            out.append((call.name, p["version"]))
        elif call.name == "set_origin_enabled":
            out.append((call.name, p["origin"], p["enabled"]))
        elif call.name in ("start_cluster_stop", "start_cluster_delete"):
            out.append((call.name, p["cluster_id"]))
        elif call.name == "copy_configurations":
            out.append((call.name, p["kind"], tuple(p["names"])))
        else:
            out.append((call.name,))
    return out


def assert_green_removed(upgrade: UpgradeRun) -> None:
    """Green deleted, blue untouched: the promise for every ending before the switch."""
    assert [op.cluster_id for op in upgrade.azure.started(Kind.DELETE)] == [GREEN_ID]
    assert upgrade.azure.started(Kind.STOP) == []
    assert upgrade.origin_writes() == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def assert_green_stopped_after_the_rollback(upgrade: UpgradeRun, output: contract.RunOutput) -> None:
    """retire.after_rollback = stop (the default): exactly one STOP, of green, guarded by this run's tag;
    blue untouched; green named in left_behind as stopped."""
    assert [op.cluster_id for op in upgrade.azure.started(Kind.STOP)] == [GREEN_ID]
    assert upgrade.payloads("start_cluster_stop") == [
        {"cluster_id": GREEN_ID, "only_if_run": RUN_ID, "only_if_retired_by": None}
    ]
    assert upgrade.azure.started(Kind.DELETE) == []
    assert left(output) == [("green", GREEN_NAME, "stopped")]
    until = upgrade.azure.marked[GREEN_ID.lower()].retained_until  # tagged as retained before it was stopped
    assert f"{GREEN_NAME} stopped: rolled back from (retire.after_rollback = stop); retained until {until}" in notes(
        output
    )
    assert output.left_behind[0].retained_until == until


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_contract_phases_only(output: contract.RunOutput) -> None:
    assert all(entry.phase in set(Phase) for entry in output.timeline)


# ---- the happy path


def retained_until(upgrade, cluster_id: str, hours: int) -> str:
    """The end of the retention the run tagged `cluster_id` with, checked against when it was tagged."""
    mark = upgrade.azure.marked[cluster_id.lower()]
    (tagged_at,) = upgrade.times("mark_retained")
    assert mark.retained_until == (tagged_at + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return mark.retained_until


def test_happy_path_completes_with_green_live_and_blue_stopped(happy_path):
    upgrade, output = happy_path
    assert (output.outcome, output.reason) == (Outcome.COMPLETED, None)
    assert output.live == GREEN_NAME
    assert output.green == contract.ClusterVersion(cluster=GREEN_NAME, version=HOPS[-1])
    assert output.approval is not None and (output.approval.approved, output.approval.by) == (True, OPERATOR)
    assert output.rollback is None
    # Retire mode stop (the default): blue stopped, not deleted.
    assert [op.cluster_id for op in upgrade.azure.started(Kind.STOP)] == [BLUE_ID]
    assert upgrade.azure.started(Kind.DELETE) == []
    # Tagged as retained first (72 h by default, from the moment it is retired), while it still runs.
    until = retained_until(upgrade, BLUE_ID, hours=72)
    assert decisive_calls(upgrade)[-2:] == [("mark_retained",), ("start_cluster_stop", BLUE_ID)]
    assert f"{BLUE_NAME} stopped: retired, restartable (retire.mode = stop); retained until {until}" in notes(output)
    assert left(output) == [("blue", BLUE_NAME, "stopped")]
    assert output.left_behind[0].retained_until == until
    # Make-before-break: green on, then blue off.
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (BLUE_ORIGIN, False)]
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_happy_path_calls_azure_in_runbook_order(happy_path):
    upgrade, _ = happy_path
    hops = []
    for hop in HOPS:
        hops += [("start_control_plane_upgrade", hop)] + [("start_pool_upgrade", pool, hop) for pool in TWO_POOLS]
    assert decisive_calls(upgrade) == [
        ("resolve_run",),
        ("start_green_create",),
        ("wire_green",),  # grants, credentials and wiring before the applications arrive (they need them)
        ("copy_configurations", "extensions", (EXTENSION,)),
        ("copy_configurations", "flux_configurations", (FLUX_CONFIGURATION,)),
        *hops,
        ("prepare_green_origins",),
        ("verify_green",),
        ("set_origin_enabled", GREEN_ORIGIN, True),
        ("set_origin_enabled", BLUE_ORIGIN, False),
        ("mark_retained",),
        ("start_cluster_stop", BLUE_ID),
    ]
    # Every operation was watched to its end before the next began.
    assert all(op.polls_left == 0 for op in upgrade.azure.operations)


def test_happy_path_timeline_has_only_the_contract_phases_in_runbook_order(happy_path):
    _, output = happy_path
    assert phases(output) == RUNBOOK_PHASES
    assert_contract_phases_only(output)
    # resolve opens the clone phase
    assert output.timeline[0].phase == Phase.CLONE and output.timeline[0].detail.startswith("resolving nod-prod")


def test_status_offers_abort_before_the_switch_and_rollback_from_the_switch_to_the_end_of_the_bake(upgrade):
    upgrade.azure.settings(retire="keep")
    in_upgrade = upgrade.during("start_pool_upgrade", nth=3)  # the second hop
    in_verify = upgrade.during("verify_green")
    in_approval = upgrade.answer_approval()
    in_switch = upgrade.during("set_origin_enabled", nth=1)
    in_bake = upgrade.during("measure_error_rate", nth=2)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED

    (upgrading,) = in_upgrade
    assert (upgrading.phase, upgrading.abortable, upgrading.can_roll_back) == (Phase.UPGRADE, True, False)
    assert upgrading.progress == contract.UpgradeProgress(hop=HOPS[1], path=list(HOPS))
    assert upgrading.resources == contract.RunResources(
        front_door=upgrade.azure.plan.traffic.front_door_id, blue=BLUE_ID, green=GREEN_ID
    )
    assert upgrading.started_by == STARTED_BY
    (verifying,) = in_verify
    assert (verifying.phase, verifying.abortable, verifying.awaiting) == (Phase.VERIFY, True, None)
    (waiting,) = in_approval
    assert (waiting.phase, waiting.awaiting, waiting.abortable, waiting.can_roll_back) == (
        Phase.APPROVAL,
        contract.Awaiting.APPROVAL,
        True,
        False,
    )
    assert waiting.verification is not None and waiting.verification.passed
    (switching,) = in_switch
    assert (switching.phase, switching.abortable, switching.can_roll_back, switching.awaiting) == (
        Phase.SWITCH,
        False,
        True,
        None,
    )
    assert switching.traffic == upgrade.azure.plan.traffic  # what a rollback door must enable
    (baking,) = in_bake
    assert (baking.phase, baking.abortable, baking.can_roll_back) == (Phase.BAKE, False, True)
    end = upgrade.status()
    assert (end.outcome, end.abortable, end.can_roll_back, end.awaiting) == (Outcome.COMPLETED, False, False, None)


def test_approval_deadline_is_advertised_as_24_hours_after_the_wait_began(upgrade):
    in_approval = upgrade.answer_approval()
    upgrade.run()
    (waiting,) = in_approval
    (began,) = upgrade.times("verify_green")  # verified, then the wait begins in the same moment
    assert waiting.deadline == iso(began + timedelta(hours=24))
    assert waiting.message == f"waiting for approval until {waiting.deadline}"


def test_approval_wait_is_advertised_with_its_progress(upgrade):
    in_approval = upgrade.answer_approval()
    upgrade.run()
    (waiting,) = in_approval
    assert waiting.progress == contract.ApprovalWait(deadline=waiting.deadline, passed=True)


def test_upgrade_progress_names_the_hop_whose_control_plane_is_upgrading(upgrade):
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    second_hop = upgrade.during("start_control_plane_upgrade", nth=2)
    upgrade.run()
    (status,) = second_hop
    assert status.progress == contract.UpgradeProgress(hop=HOPS[1], path=list(HOPS))


def test_retire_mode_keep_leaves_blue_running_as_a_hot_standby(upgrade):
    upgrade.azure.settings(retire="keep")
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert upgrade.azure.started(Kind.STOP) == [] and upgrade.azure.started(Kind.DELETE) == []
    until = retained_until(upgrade, BLUE_ID, hours=72)
    assert f"{BLUE_NAME} kept running: hot standby (retire.mode = keep); retained until {until}" in notes(output)
    assert left(output) == [("blue", BLUE_NAME, "running")]
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_retire_mode_delete_deletes_blue(upgrade):
    upgrade.azure.settings(retire="delete")
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert [op.cluster_id for op in upgrade.azure.started(Kind.DELETE)] == [BLUE_ID]
    assert upgrade.payloads("check_cluster_operation")[-1]["expect_gone"] is True
    assert upgrade.azure.started(Kind.STOP) == []
    assert f"{BLUE_NAME} deleted" in notes(output)
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_auto_approval_skips_the_wait_and_says_so(upgrade):
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert output.approval is not None and (output.approval.approved, output.approval.by) == (True, "auto")
    assert "auto-approved (approval mode is auto in the configuration)" in notes(output)
    # No 24-hour timer was ever armed: the whole run took well under an hour of virtual time.
    assert upgrade.now() - upgrade.harness.calls[0].at < timedelta(hours=1)
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_create_at_target_creates_green_at_the_target_without_hops(upgrade):
    upgrade.azure.plan = create_at_target_plan(approval=AUTO_APPROVAL)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert [op.version for op in upgrade.azure.started(Kind.CREATE)] == [HOPS[-1]]
    assert upgrade.azure.started(Kind.UPGRADE_CONTROL_PLANE) == upgrade.azure.started(Kind.UPGRADE_POOL) == []
    assert f"nothing to upgrade: green was created at {HOPS[-1]}" in notes(output)
    assert output.upgrade_path == list(HOPS)  # the versions blue's workloads moved through, all the same


def test_temporary_front_door_errors_are_retried_on_durable_timers(upgrade):
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    upgrade.azure.fail_activity("set_origin_enabled", TimeoutError("429 Too Many Requests"), ConnectionError("503"))
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    enable_green = upgrade.times("set_origin_enabled")[:3]  # two failed attempts, then the one that took
    assert [b - a for a, b in itertools.pairwise(enable_green)] == [timedelta(seconds=30)] * 2
    assert_serving_only(upgrade, GREEN_ORIGIN)


# ---- failures before the switch: blue stays live, green goes


def test_failed_resolve_fails_the_run_before_anything_is_created(upgrade):
    unknown = contract.ErrorInfo(code="UnknownEnvironment", message="no environment named 'nod-prod'")
    upgrade.azure.fail_activity("resolve_run", unknown)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, "UnknownEnvironment: no environment named 'nod-prod'")
    assert [call.name for call in upgrade.harness.calls] == ["resolve_run"]
    assert (output.resources, output.target_version, output.live, output.green) == (None, None, None, None)
    assert phases(output) == [Phase.CLONE]
    assert upgrade.status().outcome == Outcome.FAILED
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_resolve_that_keeps_failing_temporarily_for_half_an_hour_fails_as_azure_unavailable(upgrade):
    upgrade.azure.fail_activity("resolve_run", *[ConnectionError("ARM answered 503")] * 100)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason is not None and output.reason.startswith("AzureUnavailable: ")
    assert "ARM answered 503" in output.reason
    times = upgrade.times("resolve_run")
    # The retry policy (5 tries, 30 s apart; the SDK waits once more after the last), then a 2-minute
    # pause, again and again for up to 30 minutes.
    assert times[4] - times[0] == timedelta(minutes=2) and times[5] - times[4] == timedelta(minutes=2, seconds=30)
    assert timedelta(minutes=28) <= times[-1] - times[0] <= timedelta(minutes=30)


def test_resolve_that_fails_for_a_few_minutes_is_survived(upgrade):
    upgrade.azure.fail_activity("resolve_run", *[ConnectionError("ARM answered 503")] * 7)
    upgrade.run()
    times = upgrade.times("resolve_run")
    assert len(times) == 8  # the seventh failure was followed by a pause, then one that succeeded
    assert "start_green_create" in upgrade.harness.activity_names()


def test_failed_create_removes_green_and_fails_with_the_arm_code(upgrade):
    upgrade.azure.fail_operation(Kind.CREATE, code="QuotaExceeded", message="not enough vCPU quota")
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, "QuotaExceeded: creating green: not enough vCPU quota")
    assert upgrade.azure.started(Kind.UPGRADE_CONTROL_PLANE) == []
    assert_green_removed(upgrade)
    assert f"{GREEN_NAME} deleted; {BLUE_NAME} stayed live throughout" in notes(output)
    assert output.live == BLUE_NAME


def test_failed_pool_upgrade_removes_green_and_fails_with_the_arm_code(upgrade):
    upgrade.azure.fail_operation(Kind.UPGRADE_POOL, nth=2, code="NodePoolUpgradeFailed", message="drain timed out")
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == f"NodePoolUpgradeFailed: node pool user upgrade to {HOPS[0]}: drain timed out"
    assert [op.pool for op in upgrade.azure.started(Kind.UPGRADE_POOL)] == ["system", "user"]  # nothing after it
    assert upgrade.payloads("verify_green") == []
    assert_green_removed(upgrade)
    assert_contract_phases_only(output)
    assert upgrade.status().abortable is False


def test_keep_failed_green_leaves_green_for_investigation(upgrade):
    upgrade.azure.settings(keep_failed_green=True)
    upgrade.azure.fail_operation(Kind.UPGRADE_CONTROL_PLANE, code="UpgradeFailed")
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert upgrade.azure.started(Kind.DELETE) == []
    assert f"{GREEN_NAME} kept for investigation (keep_failed_green)" in notes(output)
    assert output.green == contract.ClusterVersion(cluster=GREEN_NAME, version=HOPS[-1])
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_failed_cleanup_of_green_is_reported_and_the_outcome_stays_failed(upgrade):
    upgrade.azure.fail_operation(Kind.CREATE, code="QuotaExceeded")
    locked = contract.ErrorInfo(code="ResourceLocked", message="a delete lock is set")
    upgrade.azure.outage("start_cluster_delete", locked)  # every attempt, for as long as the run tries
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED and output.reason is not None
    assert output.reason.startswith("QuotaExceeded: ")  # the cause, not the cleanup's trouble
    expected = (
        f"could not delete {GREEN_NAME} (ResourceLocked: delete green ({GREEN_NAME}): a delete lock is set); "
        "it is left as it is"
    )
    assert expected in notes(output)
    (green,) = output.left_behind
    assert (green.role, green.name, green.cluster_id, green.state) == ("green", GREEN_NAME, GREEN_ID, "unknown")
    assert green.why == f"could not delete it: ResourceLocked: delete green ({GREEN_NAME}): a delete lock is set"
    assert green.remove_with == remove_with(GREEN_NAME)
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_create_refused_because_the_green_slot_is_occupied_deletes_nothing(upgrade):
    occupied = contract.ErrorInfo(code="GreenSlotOccupied", message=f"{GREEN_ID} already exists and is not this run's")
    upgrade.azure.fail_activity("start_green_create", occupied)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, f"GreenSlotOccupied: creating green: {occupied.message}")
    assert upgrade.azure.started(Kind.DELETE) == []


def test_verification_that_never_passes_fails_at_the_verify_timeout(upgrade):
    upgrade.azure.settings(verify_timeout_minutes=4)
    upgrade.azure.verify_passes_after = None
    in_verify = upgrade.during("verify_green", nth=2)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, "VerificationFailed: deployment web: 0/3 available")
    times = upgrade.times("verify_green")
    assert times[-1] - times[0] == timedelta(minutes=4)  # verify_timeout_minutes
    assert len(times) == 4 * 2 + 1  # every poll_seconds (30 s), both ends included
    (verifying,) = in_verify  # between two tries the status shows the last report
    assert verifying.phase == Phase.VERIFY and verifying.abortable
    assert verifying.verification == contract.VerificationReport(
        parity=upgrade.azure.parity, problems=["deployment web: 0/3 available"]
    )
    assert output.verification is not None and not output.verification.passed
    assert_green_removed(upgrade)


def test_verification_that_passes_on_a_later_try_goes_on_to_approval(upgrade):
    upgrade.azure.verify_passes_after = 3
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    times = upgrade.times("verify_green")
    assert len(times) == 4 and times[-1] - times[0] == timedelta(seconds=90)
    assert output.verification is not None and output.verification.passed


# ---- approval


def test_rejected_approval_removes_green_with_the_approvers_comment_as_reason(upgrade):
    upgrade.answer_approval(approved=False, comment="not during the sale")
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "not during the sale")
    assert output.approval is not None and (output.approval.approved, output.approval.by) == (False, OPERATOR)
    assert f"rejected by {OPERATOR}: not during the sale" in notes(output)
    assert_green_removed(upgrade)
    end = upgrade.status()
    assert (end.outcome, end.awaiting, end.deadline, end.abortable) == (Outcome.REJECTED, None, None, False)


def test_approval_timeout_is_a_rejection_after_24_hours(upgrade):
    output = upgrade.run()  # nobody answers
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "approval timed out")
    assert output.approval is not None and output.approval.by is None
    (verified,) = upgrade.times("verify_green")
    (deleted,) = upgrade.times("start_cluster_delete")
    assert deleted - verified == timedelta(hours=24)
    assert_green_removed(upgrade)


def test_unreadable_approval_event_is_a_rejection(upgrade):
    upgrade.once_waiting(lambda s: s.awaiting is not None, lambda: upgrade.raise_event("Approval", {"ok": "yes"}))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "unreadable approval event")
    assert_green_removed(upgrade)


# ---- abort: honoured before the switch, at every wait


def test_abort_during_a_cluster_operation_waits_for_it_to_end_then_removes_green(upgrade):
    upgrade.azure.operation_polls(Kind.UPGRADE_CONTROL_PLANE, 3)
    at_abort = upgrade.during("start_control_plane_upgrade", lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ABORTED, f"aborted by {OPERATOR}: change freeze")
    (before,) = at_abort
    assert before.abortable and before.phase == Phase.UPGRADE
    # AKS cannot be interrupted: the control-plane upgrade ran to its end before green was deleted.
    (running,) = upgrade.azure.started(Kind.UPGRADE_CONTROL_PLANE)
    assert running.checks == 4 and running.polls_left == 0
    (delete,) = upgrade.azure.started(Kind.DELETE)
    assert delete.number == running.number + 1  # nothing else started in between
    assert "abort requested: waiting for green's running operation to end first" in notes(output)
    assert_green_removed(upgrade)
    assert_contract_phases_only(output)  # an abort is a note, not a phase
    assert upgrade.status().abortable is False


def test_abort_during_the_verify_pause_cuts_the_timer_short(upgrade):
    upgrade.azure.verify_passes_after = 5
    upgrade.once_waiting(lambda s: s.phase == Phase.VERIFY, lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    (verified,) = upgrade.times("verify_green")  # the pause never ended: no second try
    (deleted,) = upgrade.times("start_cluster_delete")
    assert deleted == verified  # not 30 s later
    assert_green_removed(upgrade)


def test_abort_between_an_activity_and_the_next_timer_is_acted_on_at_that_timer(upgrade):
    # Raised while verify_green runs: the event is in history before the failed report, so the
    # pause that follows races a listener that has already fired.
    upgrade.azure.verify_passes_after = 5
    upgrade.during("verify_green", lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    assert len(upgrade.payloads("verify_green")) == 1
    assert upgrade.times("start_cluster_delete") == upgrade.times("verify_green")
    assert_green_removed(upgrade)


def test_abort_while_waiting_for_approval_removes_green(upgrade):
    at_abort = upgrade.once_waiting(awaiting_approval, lambda: upgrade.raise_event("Abort", abort("wrong target")))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ABORTED, f"aborted by {OPERATOR}: wrong target")
    (waiting,) = at_abort
    assert waiting.abortable and waiting.awaiting == contract.Awaiting.APPROVAL
    assert output.approval is None
    assert_green_removed(upgrade)
    end = upgrade.status()
    assert (end.awaiting, end.deadline) == (None, None)


def test_abort_after_a_race_won_by_a_timer_is_still_acted_on(upgrade):
    # The first verification fails, so its pause (timer vs Abort) is won by the timer. The Abort
    # then arrives while the second verification runs: the run's one Abort listener must still get it.
    upgrade.azure.verify_passes_after = 1
    upgrade.during("verify_green", lambda: upgrade.raise_event("Abort", abort()), nth=2)
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    assert len(upgrade.payloads("verify_green")) == 2
    assert_green_removed(upgrade)


def test_abort_during_the_last_verification_with_auto_approval_removes_green(upgrade):
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    at_abort = upgrade.during("verify_green", lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    (verifying,) = at_abort
    assert verifying.abortable  # the door accepted it
    assert output.outcome == Outcome.ABORTED
    assert_green_removed(upgrade)


# ---- the switch: from the first Front Door write on, trouble routes back to blue


def test_failed_switch_routes_traffic_back_and_fails(upgrade):
    straight_to_the_switch(upgrade)
    conflict = contract.ErrorInfo(code="Conflict", message="the origin group is being updated")
    upgrade.azure.fail_activity("set_origin_enabled", conflict)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == "switch failed: Conflict: the origin group is being updated"
    assert output.live == BLUE_NAME
    assert phases(output)[-2:] == [Phase.SWITCH, Phase.ROLLBACK]
    assert f"traffic is back on blue ({BLUE_NAME})" in notes(output)
    assert upgrade.origin_writes() == []  # the one write was refused; blue never stopped serving
    assert upgrade.azure.started(Kind.STOP) == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_front_door_not_deploying_within_the_switch_timeout_routes_back_and_fails(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.front_door.deploy_delay = timedelta(minutes=40)  # the switch gives it 30
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert output.reason == (
        "switch failed: FrontDoorNotDeployed: Front Door did not report the change deployed within 30 min"
    )
    switched = next(e for e in output.timeline if e.phase == Phase.SWITCH)
    back = next(e for e in output.timeline if e.phase == Phase.ROLLBACK)
    assert back.at == iso(datetime.fromisoformat(switched.at) + timedelta(minutes=30))
    # Blue was never disabled: make-before-break had not got past "wait until deployed".
    assert (BLUE_ORIGIN, False) not in upgrade.origin_writes()
    assert upgrade.azure.started(Kind.STOP) == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_rollback_during_the_switch_routes_back_without_ever_disabling_blue(upgrade):
    straight_to_the_switch(upgrade)
    at_rollback = upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Rollback", rollback()))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "checkout errors")
    (switching,) = at_rollback
    assert switching.can_roll_back and switching.phase == Phase.SWITCH
    assert output.rollback is not None
    assert (output.rollback.trigger, output.rollback.by) == (contract.RollbackTrigger.MANUAL, OPERATOR)
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (GREEN_ORIGIN, False)]
    # The deployment watch that lost the race was still awaited before the run ended.
    assert {child["runtimeStatus"] for child in children_named(upgrade, "front_door_deployment")} == {"Completed"}
    assert_green_stopped_after_the_rollback(upgrade, output)
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_abort_arriving_during_the_switch_routes_back_as_aborted(upgrade):
    # A door that read "abortable" just before the switch began: too late to skip it, not too late to undo it.
    straight_to_the_switch(upgrade)
    upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Abort", abort()))
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    assert output.reason == f"aborted by {OPERATOR} during the switch: change freeze"
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (GREEN_ORIGIN, False)]
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- the bake: a Rollback (operator or alert) or a spike routes back


def test_manual_rollback_during_the_bake_routes_back_to_blue(upgrade):
    straight_to_the_switch(upgrade)
    at_rollback = during_bake(upgrade, 3, lambda: upgrade.raise_event("Rollback", rollback()))
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "checkout errors")
    (baking,) = at_rollback
    assert (baking.phase, baking.can_roll_back, baking.abortable) == (Phase.BAKE, True, False)
    assert output.rollback is not None
    assert (output.rollback.trigger, output.rollback.by, output.rollback.detail) == (
        contract.RollbackTrigger.MANUAL,
        OPERATOR,
        "checkout errors",
    )
    assert output.live == BLUE_NAME
    assert upgrade.origin_writes() == [
        (GREEN_ORIGIN, True),
        (BLUE_ORIGIN, False),
        (BLUE_ORIGIN, True),
        (GREEN_ORIGIN, False),
    ]
    assert_green_stopped_after_the_rollback(upgrade, output)
    # The bake watch noticed green no longer takes traffic and ended by itself.
    (watch,) = children_named(upgrade, "bake_watch")
    assert watch["output"]["verdict"] == "stopped"
    end = upgrade.status()
    assert (end.outcome, end.can_roll_back, end.rollback) == (Outcome.ROLLED_BACK, False, output.rollback)
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_alert_rollback_after_the_door_enabled_blue_only_disables_green(upgrade):
    straight_to_the_switch(upgrade)
    fired = rollback(
        trigger="alert",
        by="azure-monitor",
        reason="Fired: 5xx on afd-nod-prod",
        alert_rule="afd-5xx",
        blue_enabled_in=[GROUP],
    )

    def alert_door() -> None:
        # What the alert webhook does: enable blue itself (make-before-break's first step), then raise.
        upgrade.azure.front_door.set(GROUP, BLUE_ORIGIN, True)
        upgrade.raise_event("Rollback", fired)

    during_bake(upgrade, 2, alert_door)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "Fired: 5xx on afd-nod-prod")
    assert output.rollback is not None and output.rollback.trigger == contract.RollbackTrigger.ALERT
    assert output.rollback.by == "azure-monitor"
    run_writes = [(p["origin"], p["enabled"]) for p in upgrade.payloads("set_origin_enabled")]
    assert run_writes == [(GREEN_ORIGIN, True), (BLUE_ORIGIN, False), (GREEN_ORIGIN, False)]
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_error_spike_rolls_back_with_trigger_metrics(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.spike_from_minute = 4
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "5xx 250/1000 (25.0%) after 4 min")
    assert output.rollback is not None
    assert (output.rollback.trigger, output.rollback.by) == (contract.RollbackTrigger.METRICS, None)
    assert len(upgrade.payloads("measure_error_rate")) == 4  # the spike ended the watch at once
    assert_green_stopped_after_the_rollback(upgrade, output)
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_rollback_in_the_grace_period_after_a_clean_bake_still_rolls_back(upgrade):
    straight_to_the_switch(upgrade)

    def after_clean_bake(status: contract.RunStatus) -> bool:
        return status.phase == Phase.BAKE and notes(status)[-1].startswith("clean bake")

    at_rollback = upgrade.once_waiting(after_clean_bake, lambda: upgrade.raise_event("Rollback", rollback()))
    output = upgrade.run()
    (grace,) = at_rollback
    assert grace.can_roll_back is False  # the doors no longer offer it; one that read it a moment ago is honoured
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.rollback is not None and output.rollback.trigger == contract.RollbackTrigger.MANUAL
    assert len(upgrade.payloads("measure_error_rate")) == SHORT_BAKE.window_minutes  # the full window
    assert_green_stopped_after_the_rollback(upgrade, output)  # blue was never retired
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_missing_metrics_decide_nothing_and_the_bake_ends_clean(upgrade):
    straight_to_the_switch(upgrade)
    no_data = contract.ErrorInfo(code="ResourceNotFound", message="no metrics for this origin yet")
    upgrade.azure.fail_activity("measure_error_rate", *[no_data] * SHORT_BAKE.window_minutes)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert f"clean bake: {SHORT_BAKE.window_minutes} min without an error spike" in notes(output)
    assert len(upgrade.payloads("measure_error_rate")) == SHORT_BAKE.window_minutes
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_bake_watch_that_fails_outright_is_treated_as_a_spike(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.azure.measure_error_rate = lambda payload: {"requests": "lots"}  # not an ErrorRate: the watch crashes
    upgrade.may_fail = frozenset({"bake_watch"})  # on purpose, both attempts: the run itself must not fail
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.reason is not None and output.reason.startswith("bake watch failed: SubOrchestrationFailed: ")
    assert any(note.startswith("the bake watch failed (") for note in notes(output))
    # The child is retried once (CHILD_RETRY) before the run gives up on it.
    assert len(upgrade.payloads("measure_error_rate")) == 2
    assert [f.name for f in upgrade.harness.failed] == ["bake_watch", "bake_watch"]
    assert_green_stopped_after_the_rollback(upgrade, output)
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_duplicate_rollback_events_give_one_rollback(upgrade):
    straight_to_the_switch(upgrade)

    def two_doors() -> None:  # an operator and the alert webhook, both at once
        upgrade.raise_event("Rollback", rollback())
        upgrade.raise_event("Rollback", rollback(trigger="alert", by="azure-monitor", reason="Fired"))

    during_bake(upgrade, 3, two_doors)
    # ... and the alert again, while the run is already routing back.
    upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Rollback", rollback(by="carol")), nth=3)
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.ROLLED_BACK, "checkout errors")
    assert output.rollback is not None and output.rollback.by == OPERATOR  # the first one
    assert sum(note.startswith("routing back to ") for note in notes(output)) == 1
    assert upgrade.origin_writes() == [
        (GREEN_ORIGIN, True),
        (BLUE_ORIGIN, False),
        (BLUE_ORIGIN, True),
        (GREEN_ORIGIN, False),
    ]
    assert len(upgrade.payloads("set_origin_enabled")) == 4
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_routing_back_that_fails_is_retried_on_durable_timers_until_it_succeeds(upgrade):
    straight_to_the_switch(upgrade)
    locked = contract.ErrorInfo(code="ScopeLocked", message="a read-only lock is set")

    def rollback_into_a_locked_front_door() -> None:
        upgrade.azure.fail_activity("set_origin_enabled", locked, locked, locked)
        upgrade.raise_event("Rollback", rollback())

    during_bake(upgrade, 3, rollback_into_a_locked_front_door)
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    enable_blue = upgrade.times("set_origin_enabled")[2:6]  # three refused, the fourth accepted
    gaps = [b - a for a, b in itertools.pairwise(enable_blue)]
    assert gaps == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]  # backing off
    retries = [note for note in notes(output) if note.startswith("routing back failed (ScopeLocked")]
    assert [note.rsplit(" in ", 1)[1] for note in retries] == ["1 min", "2 min", "4 min"]
    assert_serving_only(upgrade, BLUE_ORIGIN)


# ---- retire


def test_failed_retire_still_completes_with_a_note(upgrade):
    straight_to_the_switch(upgrade)
    window = contract.ErrorInfo(code="OperationNotAllowed", message="a maintenance window is active")
    upgrade.azure.outage("start_cluster_stop", window)  # every attempt, for as long as the run tries
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.COMPLETED, None)
    cause = f"OperationNotAllowed: stop blue ({BLUE_NAME}): a maintenance window is active"
    assert f"could not stop {BLUE_NAME} ({cause}); it is left as it is" in notes(output)
    (blue,) = output.left_behind
    assert (blue.role, blue.name, blue.state, blue.why) == ("blue", BLUE_NAME, "unknown", f"could not stop it: {cause}")
    assert blue.remove_with == remove_with(BLUE_NAME)
    assert output.live == GREEN_NAME
    assert_serving_only(upgrade, GREEN_ORIGIN)


# ---- events whose payload the contract cannot read (only the app's doors should raise events)


def test_unreadable_rollback_during_the_switch_is_honoured_as_a_rollback(upgrade):
    straight_to_the_switch(upgrade)
    upgrade.during("set_origin_enabled", lambda: upgrade.raise_event("Rollback", {"reason": "?"}))
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK and "could not be read" in (output.reason or "")
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_unreadable_abort_while_waiting_for_approval_aborts_and_removes_green(upgrade):
    upgrade.once_waiting(awaiting_approval, lambda: upgrade.raise_event("Abort", "stop it"))
    output = upgrade.run()
    assert upgrade.harness.status(upgrade.instance_id)["runtimeStatus"] == "Completed"
    assert output.outcome == Outcome.ABORTED and "could not be read" in (output.reason or "")
    assert_green_removed(upgrade)


def test_a_verification_that_cannot_run_once_is_tried_again_not_taken_as_a_verdict(upgrade):
    failed = contract.ErrorInfo(code="InternalOperationError", message="run command failed")
    upgrade.azure.fail_activity("verify_green", failed)
    upgrade.answer_approval()
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    times = upgrade.times("verify_green")
    assert len(times) == 2 and times[1] - times[0] == timedelta(seconds=30)  # poll_seconds later
