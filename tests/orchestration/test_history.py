"""History stays bounded: no instance of a run's tree holds more than a few hundred events.

A Durable host replays an instance's whole history on every event, so a long history costs the
square of its length. The runbook keeps each wait in its own sub-orchestration, continued as new
before it grows past MAX_WAITS. These tests count what each instance held: the longest execution of
every instance (the store's `longest_history`, which survives continue-as-new) and its current one.
"""

from __future__ import annotations

from bluegreen import contract
from bluegreen.config import Bake
from tests.orchestration.conftest import (
    AUTO_APPROVAL,
    RUN_ID,
    Kind,
    UpgradeRun,
    create_at_target_plan,
    six_pool_plan,
)

LIMIT = 400


def longest_histories(upgrade: UpgradeRun) -> dict[str, int]:
    """Per instance of the run's tree: the most events any one of its executions held."""
    store = upgrade.harness.store
    counters = {row["instance_id"]: row["longest_history"] for row in store.history_counters(RUN_ID)}
    return {iid: max(counters[iid], len(store.history(iid))) for iid in upgrade.harness.instances()}


def executions(upgrade: UpgradeRun, instance_id: str) -> int:
    """How many times the instance continued as new, plus one."""
    row = upgrade.harness.store.instance(instance_id)
    assert row is not None
    return row["execution"] + 1


def only_child(upgrade: UpgradeRun, name: str) -> str:
    (iid,) = [row["instance_id"] for row in upgrade.harness.store.instances() if row["name"] == name]
    return iid


def test_happy_path_on_two_pools_and_three_hops_stays_under_400_events_per_instance(happy_path):
    upgrade, output = happy_path  # every production default: a 30-minute bake, 30 checks
    assert output.outcome == contract.Outcome.COMPLETED
    sizes = longest_histories(upgrade)
    # create + the populate + 3 hops x (control plane + 2 pools) + 2 deployment waits + the edge convergence
    # + the bake watch + stopping blue
    assert len(sizes) == 1 + 1 + 1 + 9 + 2 + 1 + 1 + 1
    assert all(iid == RUN_ID or iid.startswith(f"sub_{RUN_ID}_") for iid in sizes)
    assert max(sizes.values()) <= LIMIT, sizes


def test_happy_path_on_six_pools_and_three_hops_stays_under_400_events_per_instance(upgrade):
    # The short bake: the bake watch does not grow with the pools (the test above runs the production one).
    upgrade.azure.plan = six_pool_plan()
    upgrade.answer_approval()
    assert upgrade.run().outcome == contract.Outcome.COMPLETED
    sizes = longest_histories(upgrade)
    assert len(upgrade.azure.started(Kind.UPGRADE_POOL)) == 18
    assert max(sizes.values()) <= LIMIT, sizes


def test_operation_in_progress_for_100_polls_continues_as_new_and_stays_bounded(upgrade):
    upgrade.azure.plan = create_at_target_plan(approval=AUTO_APPROVAL)  # the one create is the long operation
    upgrade.azure.operation_polls(Kind.CREATE, 100)
    assert upgrade.run().outcome == contract.Outcome.COMPLETED
    create = f"sub_{RUN_ID}_1"
    assert upgrade.harness.store.instance(create)["name"] == "cluster_operation"
    assert executions(upgrade, create) == 3  # 36 waits per execution
    assert upgrade.harness.status(create)["output"] == {"succeeded": True, "error": None, "polls": 100}
    (op,) = upgrade.azure.started(Kind.CREATE)
    assert op.checks == 101  # started once: the continued executions kept watching the same operation
    assert len(upgrade.payloads("start_green_create")) == 1
    assert max(longest_histories(upgrade).values()) <= LIMIT


def test_bake_of_240_minutes_continues_as_new_and_stays_bounded(upgrade):
    upgrade.azure.plan = create_at_target_plan(approval=AUTO_APPROVAL, bake=Bake(window_minutes=240))
    output = upgrade.run()
    assert output.outcome == contract.Outcome.COMPLETED
    assert "clean bake: 240 min without an error spike" in [entry.detail for entry in output.timeline]
    assert len(upgrade.payloads("measure_error_rate")) == 240
    watch = only_child(upgrade, "bake_watch")
    assert executions(upgrade, watch) == 7  # 36 checks per execution
    assert max(longest_histories(upgrade).values()) <= LIMIT
