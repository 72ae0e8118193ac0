"""A run of kind `revert`, every branch against scripted activity results.

Green is the retained cluster the revert goes back to: never created, never deleted by the revert. Before
the switch a failure puts it back as it was (stopped again); after traffic moved, trouble routes back to
blue and it is stopped again too; a clean bake retires the cluster reverted from and releases the other.
"""

from __future__ import annotations

from typing import Any

import pytest

from bluegreen import contract
from bluegreen.config import Approval
from local.clock import VirtualClock
from tests.orchestration.conftest import (
    APP,
    AUTO_APPROVAL,
    BLUE_ID,
    BLUE_ORIGIN,
    GREEN_ID,
    GREEN_NAME,
    GREEN_ORIGIN,
    RUN_ID,
    STARTED_BY,
    FakeAzure,
    Kind,
    UpgradeRun,
    WatchedRun,
    assert_serving_only,
    create_at_target_plan,
    left,
    notes,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")
Outcome = contract.Outcome
RETAINED_UNTIL = "2026-11-23T06:00:00Z"


def revert_plan(power_state: str = "Stopped", **settings: Any) -> contract.Plan:
    plan = create_at_target_plan(**{"approval": AUTO_APPROVAL, **settings})
    target = contract.RetainedCluster(
        cluster_id=GREEN_ID,
        name=GREEN_NAME,
        environment="nod-prod",
        retired_by="nod-prod-0",
        retired_as="retired",
        retained_until=RETAINED_UNTIL,
        version="1.30.10",
        power_state=power_state,
        provisioning_state="Succeeded",
    )
    update = {"kind": "revert", "revert_to": target, "inheritance": contract.Inheritance(), "upgrade_path": []}
    return plan.model_copy(update=update)


def start_revert(plan: contract.Plan) -> UpgradeRun:
    azure = FakeAzure(VirtualClock(), plan=plan)
    harness = WatchedRun(app=APP, script=azure, clock=azure.clock)
    request = contract.RunRequest(
        environment="nod-prod", kind="revert", started_by=STARTED_BY, trigger=contract.RunTrigger(kind="http")
    )
    harness.start("bluegreen_upgrade", RUN_ID, contract.wire(request))
    return UpgradeRun(harness, azure)


def cleanup_of_the_retained_cluster(upgrade: UpgradeRun) -> list[tuple[str, str | None]]:
    return [
        (call.name, call.payload.get("only_if_retired_by"))
        for call in upgrade.harness.calls
        if call.name in ("start_cluster_start", "start_cluster_stop", "start_cluster_delete")
        and call.payload["cluster_id"] == GREEN_ID
    ]


def test_a_clean_revert_starts_the_cluster_switches_and_retires_the_one_it_left():
    upgrade = start_revert(revert_plan())
    output = upgrade.run()
    assert (output.outcome, output.kind, output.live) == (Outcome.COMPLETED, "revert", GREEN_NAME)
    assert cleanup_of_the_retained_cluster(upgrade) == [("start_cluster_start", "nod-prod-0")]
    assert upgrade.azure.started(Kind.CREATE) == [] and upgrade.azure.started(Kind.DELETE) == []
    # The cluster reverted from is retired under the same rules: tagged, then stopped.
    mark = upgrade.azure.marked[BLUE_ID.lower()]
    assert (mark.retired_as, mark.run_id) == ("reverted-from", RUN_ID)
    assert [op.cluster_id for op in upgrade.azure.started(Kind.STOP)] == [BLUE_ID]
    assert [r.cluster_id for r in upgrade.azure.released] == [GREEN_ID]  # live again: no longer retained
    assert upgrade.origin_writes() == [(GREEN_ORIGIN, True), (BLUE_ORIGIN, False)]
    assert_serving_only(upgrade, GREEN_ORIGIN)


def test_a_running_retained_cluster_is_not_started_again():
    upgrade = start_revert(revert_plan(power_state="Running", retire="keep"))
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert upgrade.azure.started(Kind.START) == []
    assert f"{GREEN_NAME} is running: nothing to start" in notes(output)


def test_a_failed_verification_leaves_blue_live_and_stops_the_retained_cluster_again():
    upgrade = start_revert(revert_plan(verify_timeout_minutes=2))
    upgrade.azure.verify_passes_after = None
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED and output.reason.startswith("VerificationFailed")
    assert cleanup_of_the_retained_cluster(upgrade) == [
        ("start_cluster_start", "nod-prod-0"),
        ("start_cluster_stop", "nod-prod-0"),  # back as it was, and only if still that run's retained cluster
    ]
    assert upgrade.azure.started(Kind.DELETE) == [] and upgrade.azure.marked == {}
    assert left(output) == [("green", GREEN_NAME, "stopped")]
    assert output.left_behind[0].retained_until == RETAINED_UNTIL
    assert upgrade.origin_writes() == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_a_start_that_fails_ends_the_revert_before_any_traffic_moves():
    upgrade = start_revert(revert_plan())
    upgrade.azure.fail_operation(Kind.START, code="OperationNotAllowed", message="capacity unavailable")
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED and "capacity unavailable" in output.reason
    assert upgrade.origin_writes() == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_an_error_spike_after_the_switch_routes_back_and_stops_the_retained_cluster_again():
    upgrade = start_revert(revert_plan())
    upgrade.azure.spike_from_minute = 2
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert upgrade.origin_writes()[-2:] == [(BLUE_ORIGIN, True), (GREEN_ORIGIN, False)]
    assert cleanup_of_the_retained_cluster(upgrade) == [
        ("start_cluster_start", "nod-prod-0"),
        ("start_cluster_stop", "nod-prod-0"),
    ]
    assert upgrade.azure.started(Kind.DELETE) == [] and upgrade.azure.released == []
    assert_serving_only(upgrade, BLUE_ORIGIN)


def test_a_rejected_revert_puts_the_retained_cluster_back():
    upgrade = start_revert(revert_plan(approval=Approval()))
    upgrade.answer_approval(approved=False, comment="not now")
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.REJECTED, "not now")
    assert cleanup_of_the_retained_cluster(upgrade)[-1] == ("start_cluster_stop", "nod-prod-0")
    assert_serving_only(upgrade, BLUE_ORIGIN)
