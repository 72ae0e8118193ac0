"""AKS while an operation runs: the 409 for a concurrent write, a delete that preempts, what a GET shows meanwhile.

Operations that must stay in progress are started with polling=False: an SDK poller polls in a thread of its
own, and its waits move the virtual clock, so it would finish the operation behind the test's back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, begin, create_body, finish, fixture, status_document

BLUE = "aks-nod-prod-blue"
PENDING = "please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation"


def blue_body(**props: Any) -> dict[str, Any]:
    body = create_body()
    body["properties"].update(props)
    return body


def upgraded_body(version: str) -> dict[str, Any]:
    body = blue_body(kubernetesVersion=version)
    for pool in body["properties"]["agentPoolProfiles"]:
        pool["orchestratorVersion"] = version
    return body


POOL_BODY = {"properties": {"count": 4, "vmSize": "Standard_D8ds_v5", "mode": "User", "orchestratorVersion": "1.31.8"}}


# What starts each operation AKS names in its 409 (the cluster is seeded first, except for Creating).
def _start(name: str, aks: ContainerServiceClient, emu: AzureEmulator) -> str:
    mc = aks.managed_clusters
    if name == "Creating":
        return begin(mc.begin_create_or_update, RG, BLUE, blue_body())
    emu.seed(fixture("managed-cluster-blue.json"))
    if name == "Upgrading":
        return begin(mc.begin_create_or_update, RG, BLUE, blue_body(kubernetesVersion="1.32"))
    if name == "Updating":
        return begin(mc.begin_create_or_update, RG, BLUE, blue_body() | {"tags": {"owner": "platform"}})
    if name == "Stopping":
        return begin(mc.begin_stop, RG, BLUE)
    if name == "Starting":
        mc.begin_stop(RG, BLUE).result()
        return begin(mc.begin_start, RG, BLUE)
    assert name == "Deleting"
    return begin(mc.begin_delete, RG, BLUE)


WRITES: dict[str, Callable[[ContainerServiceClient], Any]] = {
    "put cluster": lambda aks: aks.managed_clusters.begin_create_or_update(RG, BLUE, blue_body()),
    "put pool": lambda aks: aks.agent_pools.begin_create_or_update(RG, BLUE, "userpool1", POOL_BODY),
    "stop": lambda aks: aks.managed_clusters.begin_stop(RG, BLUE),
    "start": lambda aks: aks.managed_clusters.begin_start(RG, BLUE),
    "delete": lambda aks: aks.managed_clusters.begin_delete(RG, BLUE),
}
RUNNING = ["Creating", "Upgrading", "Updating", "Stopping", "Starting", "Deleting"]
REFUSED = [(r, w) for r in RUNNING for w in WRITES if w != "delete" or r == "Deleting"]


@pytest.mark.parametrize(("running", "write"), REFUSED)
def test_write_during_an_operation_gets_aks_409_naming_it(
    aks: ContainerServiceClient, emu: AzureEmulator, running: str, write: str
) -> None:
    _start(running, aks, emu)
    with pytest.raises(HttpResponseError) as exc:
        WRITES[write](aks)
    assert (exc.value.status_code, exc.value.error.code) == (409, "OperationNotAllowed")
    message = exc.value.error.message
    if write in ("stop", "start"):
        action = "stopping" if write == "stop" else "starting"
        assert message.startswith(f"managed cluster is in Provisioning State({running}) and Power State(")
        assert f"{action} cannot be performed The previous operation started at '2026-11-20T" in message
    else:
        assert (
            message
            == f"Operation is not allowed: Another operation ({running}) is in progress, {PENDING} for more details."
        )


@pytest.mark.parametrize("running", [r for r in RUNNING if r != "Deleting"])
def test_delete_preempts_the_running_operation(aks: ContainerServiceClient, emu: AzureEmulator, running: str) -> None:
    first = _start(running, aks, emu)
    assert status_document(emu, first)["status"] == "InProgress"
    deletion = aks.managed_clusters.begin_delete(RG, BLUE)
    assert aks.managed_clusters.get(RG, BLUE).provisioning_state == "Deleting"
    preempted = status_document(emu, first)
    assert (preempted["status"], preempted["error"]["code"]) == ("Failed", "AKSOperationPreemptedByDelete")
    deletion.result()
    with pytest.raises(HttpResponseError) as gone:
        aks.managed_clusters.get(RG, BLUE)
    assert gone.value.status_code == 404


def test_deleting_cluster_is_still_returned_until_the_delete_completes(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    begin(aks.managed_clusters.begin_delete, RG, BLUE)
    clock.advance(299)  # realistic timings: a delete takes 300 s
    cluster = aks.managed_clusters.get(RG, BLUE)
    assert cluster.provisioning_state == "Deleting"
    assert {p.provisioning_state for p in cluster.agent_pool_profiles} == {"Deleting"}
    assert [c.provisioning_state for c in aks.managed_clusters.list_by_resource_group(RG)] == ["Deleting"]
    clock.advance(1)
    assert list(aks.managed_clusters.list_by_resource_group(RG)) == []


def test_agent_pool_operation_blocks_with_the_pool_variants(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    body = blue_body(kubernetesVersion="1.32.9")  # control plane first; pools stay at 1.31.8
    aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    pool = {"properties": POOL_BODY["properties"] | {"orchestratorVersion": "1.32.9"}}
    begin(aks.agent_pools.begin_create_or_update, RG, BLUE, "userpool1", pool)
    with pytest.raises(HttpResponseError) as cluster_write:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, body)
    assert cluster_write.value.error.message == (
        "Managed cluster operation is not allowed: Another operation (Upgrading) is in progress on agent pool "
        f"(userpool1), {PENDING} for more details."
    )
    with pytest.raises(HttpResponseError) as pool_write:
        aks.agent_pools.begin_create_or_update(RG, BLUE, "system", {"properties": {"count": 3, "mode": "System"}})
    assert pool_write.value.error.message.startswith(
        "Operation is not allowed: Another agentpool operation (Upgrading) is in progress"
    )
    finish(emu, clock)
    assert aks.agent_pools.get(RG, BLUE, "userpool1").current_orchestrator_version == "1.32.9"


def test_cluster_upgrade_in_progress_shows_requested_and_running_versions(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, upgraded_body("1.32.9"))
    during = aks.managed_clusters.get(RG, BLUE)
    assert (during.provisioning_state, during.kubernetes_version, during.current_kubernetes_version) == (
        "Upgrading",
        "1.32.9",
        "1.31.8",
    )
    pools = {
        (p.provisioning_state, p.orchestrator_version, p.current_orchestrator_version)
        for p in during.agent_pool_profiles
    }
    assert pools == {("Upgrading", "1.32.9", "1.31.8")}
    pool = aks.agent_pools.get(RG, BLUE, "system")
    assert (pool.provisioning_state, pool.orchestrator_version, pool.current_orchestrator_version) == (
        "Upgrading",
        "1.32.9",
        "1.31.8",
    )
    finish(emu, clock)
    done = aks.managed_clusters.get(RG, BLUE)
    assert (done.provisioning_state, done.current_kubernetes_version) == ("Succeeded", "1.32.9")
    assert {p.current_orchestrator_version for p in done.agent_pool_profiles} == {"1.32.9"}


def test_agent_pool_upgrade_in_progress_shows_requested_and_running_versions(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    aks.managed_clusters.begin_create_or_update(RG, BLUE, blue_body(kubernetesVersion="1.32.9")).result()
    body = {"properties": POOL_BODY["properties"] | {"orchestratorVersion": "1.32.9"}}
    begin(aks.agent_pools.begin_create_or_update, RG, BLUE, "userpool1", body)
    pool = aks.agent_pools.get(RG, BLUE, "userpool1")
    assert (pool.provisioning_state, pool.orchestrator_version, pool.current_orchestrator_version) == (
        "Upgrading",
        "1.32.9",
        "1.31.8",
    )
    assert aks.managed_clusters.get(RG, BLUE).provisioning_state == "Upgrading"
    finish(emu, clock)
    pool = aks.agent_pools.get(RG, BLUE, "userpool1")
    assert (pool.provisioning_state, pool.current_orchestrator_version) == ("Succeeded", "1.32.9")


def test_stop_shows_stopping_and_changes_power_state_only_at_the_end(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    begin(aks.managed_clusters.begin_stop, RG, BLUE)
    clock.advance(179)  # realistic timings: a stop takes 180 s
    during = aks.managed_clusters.get(RG, BLUE)
    assert (during.provisioning_state, during.power_state.code) == ("Stopping", "Running")
    clock.advance(1)
    after = aks.managed_clusters.get(RG, BLUE)
    assert (after.provisioning_state, after.power_state.code) == ("Succeeded", "Stopped")
    assert {p.power_state.code for p in after.agent_pool_profiles} == {"Stopped"}


def test_stopping_a_stopped_cluster_is_refused_for_good(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    aks.managed_clusters.begin_stop(RG, BLUE).result()
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_stop(RG, BLUE)
    assert (exc.value.status_code, exc.value.error.code) == (409, "OperationNotAllowed")
    assert exc.value.error.message == "managed cluster is not currently running, stopping cannot be performed"
    assert "in progress" not in exc.value.error.message  # waiting would not help


def test_same_minor_again_does_not_upgrade_and_versions_stay_shown(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))  # 1.31.8; 1.31.11 is the newest 1.31 patch
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, upgraded_body("1.31"))
    assert aks.managed_clusters.get(RG, BLUE).provisioning_state == "Updating"
    finish(emu, clock)
    cluster = aks.managed_clusters.get(RG, BLUE)
    assert (cluster.kubernetes_version, cluster.current_kubernetes_version) == ("1.31", "1.31.8")
    assert {p.current_orchestrator_version for p in cluster.agent_pool_profiles} == {"1.31.8"}
    omitted = blue_body()
    omitted["properties"].pop("kubernetesVersion")
    for pool in omitted["properties"]["agentPoolProfiles"]:
        pool.pop("orchestratorVersion")
    cluster = aks.managed_clusters.begin_create_or_update(RG, BLUE, omitted).result()
    assert cluster.kubernetes_version == "1.31"  # what was asked for last, not dropped
    assert {p.orchestrator_version for p in cluster.agent_pool_profiles} == {"1.31"}
