"""Green inherits blue's grants, credentials and wiring right after its create; they go when a cluster is deleted.

The twins are named in the output's `inherited` with their ids, and flagged `removed` once green was deleted.
Whatever a cluster about to be deleted holds is removed first (unwire_cluster), blue's included when retire
mode deletes blue; green kept after a rollback keeps its wiring (it is named, with green, in the output).
"""

from __future__ import annotations

import pytest

from bluegreen import contract
from tests.orchestration.conftest import (
    AUTO_APPROVAL,
    BLUE_ID,
    BLUE_TOPIC,
    GREEN_ID,
    RUN_ID,
    UpgradeRun,
    during_bake,
    notes,
    rollback,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome = contract.Outcome


def call_names(upgrade: UpgradeRun) -> list[str]:
    return [c.name for c in upgrade.harness.calls]


def test_green_is_wired_after_its_create_and_before_the_applications_arrive(upgrade: UpgradeRun):
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    names = call_names(upgrade)
    assert names.count("wire_green") == 1
    created = max(i for i, n in enumerate(names) if n == "check_cluster_operation" and i < names.index("wire_green"))
    assert created < names.index("wire_green") < names.index("copy_configurations")
    (request,) = [contract.WireGreen.model_validate(p) for p in upgrade.payloads("wire_green")]
    assert request.green_id == GREEN_ID and request.inheritance == upgrade.azure.plan.inheritance
    assert [(i.kind, i.removed) for i in output.inherited] == [
        ("role_assignment", False),
        ("federated_credential", False),
        ("system_topic", False),
    ]
    assert output.inherited[2].twin_of == BLUE_TOPIC
    assert "green inherits 1 federated credential(s), 1 role assignment(s), 1 system topic(s)" in notes(output)
    assert upgrade.azure.unwired == []  # retire mode stop: blue keeps what it has, nothing was deleted


def test_a_failure_before_the_switch_removes_greens_inheritance_before_green(upgrade: UpgradeRun):
    upgrade.azure.verify_passes_after = None
    upgrade.azure.settings(verify_timeout_minutes=2)
    output = upgrade.run()
    assert output.outcome == Outcome.FAILED
    assert upgrade.azure.unwired == [contract.ClusterTarget(cluster_id=GREEN_ID, only_if_run=RUN_ID)]
    names = call_names(upgrade)
    assert names.index("unwire_cluster") < names.index("start_cluster_delete")
    assert output.inherited and all(i.removed for i in output.inherited)


def test_retiring_blue_by_deleting_it_removes_blues_own_grants_and_wiring_first(upgrade: UpgradeRun):
    upgrade.azure.settings(approval=AUTO_APPROVAL, retire="delete")
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert upgrade.azure.unwired == [contract.ClusterTarget(cluster_id=BLUE_ID)]
    assert not any(i.removed for i in output.inherited)  # green is live: its twins stay
    assert any("removed 2 grant(s), credential(s) and wiring bound to blue" in n for n in notes(output))


def test_green_kept_after_a_rollback_keeps_its_wiring_and_says_so(upgrade: UpgradeRun):
    upgrade.azure.settings(approval=AUTO_APPROVAL)  # after_rollback: stop (the default)
    during_bake(upgrade, 2, lambda: upgrade.raise_event("Rollback", rollback()))
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert upgrade.azure.unwired == []
    assert output.inherited and not any(i.removed for i in output.inherited)


def test_a_wiring_refusal_fails_the_run_with_blue_live_and_green_removed(upgrade: UpgradeRun):
    upgrade.azure.fail_activity(
        "wire_green", contract.ErrorInfo(code="AuthorizationFailed", message="cannot write role assignments")
    )
    output = upgrade.run()
    assert (output.outcome, output.reason) == (Outcome.FAILED, "AuthorizationFailed: cannot write role assignments")
    assert "copy_configurations" not in call_names(upgrade)
    assert [t.cluster_id for t in upgrade.azure.unwired] == [GREEN_ID]  # half-made twins are found and removed
    assert upgrade.azure.front_door.live() == ["blue"]


def test_nothing_to_inherit_means_no_wiring_call(upgrade: UpgradeRun):
    upgrade.azure.plan = upgrade.azure.plan.model_copy(update={"inheritance": contract.Inheritance()})
    upgrade.azure.settings(approval=AUTO_APPROVAL)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert "wire_green" not in call_names(upgrade) and output.inherited == []
