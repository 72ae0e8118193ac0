"""AKS through the real ContainerServiceClient: lifecycle, ARM's version rules, run command, stop/start, delete."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, begin, create_body, finish, web_app

BLUE = "aks-nod-prod-blue"


def green_body(version: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(create_body())
    props = body["properties"]
    props["nodeResourceGroup"] = "MC_rg-nod-prod_aks-nod-prod-green_eastus2"
    props["dnsPrefix"] = "aks-nod-prod-green"
    if version:
        props["kubernetesVersion"] = version
        for pool in props["agentPoolProfiles"]:
            pool["orchestratorVersion"] = version
    return body


@pytest.fixture
def blue(aks: ContainerServiceClient) -> Any:
    return aks.managed_clusters.begin_create_or_update(RG, BLUE, create_body()).result()


def error_code(exc: pytest.ExceptionInfo[HttpResponseError]) -> str:
    return str(exc.value.error.code) if exc.value.error else ""


def test_create_goes_from_creating_to_succeeded_after_virtual_minutes(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    started = clock.now()
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, create_body())
    assert aks.managed_clusters.get(RG, BLUE).provisioning_state == "Creating"
    finish(emu, clock)
    cluster = aks.managed_clusters.get(RG, BLUE)
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.current_kubernetes_version == "1.31.8"
    assert cluster.fqdn.endswith(".hcp.eastus2.azmk8s.io")
    assert (clock.now() - started).total_seconds() >= 360
    assert [p.current_orchestrator_version for p in cluster.agent_pool_profiles] == ["1.31.8", "1.31.8"]


def test_one_minor_upgrade_applies_when_done(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock, blue: Any
) -> None:
    body = create_body()
    body["properties"]["kubernetesVersion"] = "1.32"
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, body)
    during = aks.managed_clusters.get(RG, BLUE)
    assert during.provisioning_state == "Upgrading"
    assert during.current_kubernetes_version == "1.31.8"
    finish(emu, clock)
    assert aks.managed_clusters.get(RG, BLUE).current_kubernetes_version == "1.32.9"


@pytest.mark.parametrize(
    ("version", "code"),
    [("1.33.3", "UpgradeNotAllowed"), ("1.31.99", "K8sVersionNotSupported"), ("1.30.14", "UpgradeNotAllowed")],
)
def test_bad_control_plane_versions_are_rejected(
    aks: ContainerServiceClient, blue: Any, version: str, code: str
) -> None:
    body = create_body()
    body["properties"]["kubernetesVersion"] = version
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, body)
    assert exc.value.status_code == 400
    assert error_code(exc) == code


def test_reused_node_resource_group_is_rejected(aks: ContainerServiceClient, blue: Any) -> None:
    body = green_body()
    body["properties"]["nodeResourceGroup"] = "MC_rg-nod-prod_aks-nod-prod-blue_eastus2"
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, "aks-nod-prod-green", body)
    assert exc.value.status_code == 400
    assert error_code(exc) == "NodeResourceGroupAlreadyExists"


def test_dns_prefix_cannot_change(aks: ContainerServiceClient, blue: Any) -> None:
    body = create_body()
    body["properties"]["dnsPrefix"] = "other"
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, body)
    assert (exc.value.status_code, error_code(exc)) == (400, "PropertyChangeNotAllowed")


def test_write_during_an_operation_gets_409(aks: ContainerServiceClient) -> None:
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, create_body())
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, create_body())
    assert exc.value.status_code == 409
    assert error_code(exc) == "OperationNotAllowed"


def test_pool_more_than_two_minors_behind_is_rejected(aks: ContainerServiceClient) -> None:
    body = green_body("1.34.2")
    body["properties"]["agentPoolProfiles"][1]["orchestratorVersion"] = "1.31.8"
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, "aks-nod-prod-green", body)
    assert (exc.value.status_code, error_code(exc)) == (400, "NodePoolMcVersionIncompatible")


def test_read_only_fields_in_a_put_are_ignored(aks: ContainerServiceClient, blue: Any) -> None:
    body = create_body()
    body["properties"]["fqdn"] = "evil.example"
    body["properties"]["provisioningState"] = "Failed"
    cluster = aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    assert cluster.fqdn != "evil.example"
    assert cluster.provisioning_state == "Succeeded"


def test_upgrade_profile_and_version_list(aks: ContainerServiceClient, blue: Any) -> None:
    profile = aks.managed_clusters.get_upgrade_profile(RG, BLUE)
    hops = [u.kubernetes_version for u in profile.control_plane_profile.upgrades]
    assert hops == ["1.31.11", "1.32.6", "1.32.9"]
    versions = aks.managed_clusters.list_kubernetes_versions("eastus2").values_property
    preview = [v.version for v in versions if v.is_preview]
    assert preview == ["1.35"]
    assert "1.31.8" in next(v for v in versions if v.version == "1.31").patch_versions


def run(aks: ContainerServiceClient, command: str) -> Any:
    return aks.managed_clusters.begin_run_command(RG, BLUE, RunCommandRequest(command=command)).result()


def test_run_command_answers_nodes_deployments_and_services(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock, blue: Any
) -> None:
    nodes = run(aks, "kubectl get nodes")
    assert nodes.exit_code == 0
    lines = nodes.logs.strip().splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert len(lines) == 1 + 3 + 4 and all(" Ready " in line and "v1.31.8" in line for line in lines[1:])
    emu.apply_objects(BLUE, web_app())  # what the team's pipeline deploys
    clock.advance(60)  # Timings.rollout
    deployments = json.loads(run(aks, "kubectl get deployments -A -o json").logs)
    assert {d["metadata"]["name"]: d["status"]["availableReplicas"] for d in deployments["items"]}["frontend"] == 3
    emu.set_workloads_ready(BLUE, False)
    table = run(aks, "kubectl get deployments -A").logs
    assert "0/3" in table
    services = json.loads(run(aks, "kubectl get svc -A -o json").logs)
    ips = [s["status"]["loadBalancer"]["ingress"] for s in services["items"] if s["spec"]["type"] == "LoadBalancer"]
    assert ips == [[{"ip": emu.cluster_ingress_ip(BLUE), "ipMode": "VIP"}]]
    unknown = run(aks, "helm list")
    assert unknown.exit_code == 1 and "unknown command" in unknown.logs


def test_stop_then_start_changes_power_state(aks: ContainerServiceClient, blue: Any) -> None:
    aks.managed_clusters.begin_stop(RG, BLUE).result()
    assert aks.managed_clusters.get(RG, BLUE).power_state.code == "Stopped"
    with pytest.raises(HttpResponseError) as refused:  # a stopped cluster takes only start or delete
        run(aks, "kubectl get nodes")
    assert refused.value.status_code == 409 and refused.value.error.code == "OperationNotAllowed"
    aks.managed_clusters.begin_start(RG, BLUE).result()
    assert aks.managed_clusters.get(RG, BLUE).power_state.code == "Running"
    assert "NotReady" not in run(aks, "kubectl get nodes").logs


def test_delete_removes_the_cluster_and_frees_its_node_resource_group(aks: ContainerServiceClient, blue: Any) -> None:
    aks.managed_clusters.begin_delete(RG, BLUE).result()
    assert [c.name for c in aks.managed_clusters.list_by_resource_group(RG)] == []
    again = aks.managed_clusters.begin_create_or_update(RG, BLUE, create_body()).result()
    assert again.provisioning_state == "Succeeded"


def test_agent_pool_upgrade_through_agent_pools_api(aks: ContainerServiceClient, blue: Any) -> None:
    body = create_body()
    body["properties"]["kubernetesVersion"] = "1.32.9"
    for pool in body["properties"]["agentPoolProfiles"]:
        pool.pop("orchestratorVersion")
    aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    pool = aks.agent_pools.get(RG, BLUE, "userpool1")
    assert pool.current_orchestrator_version == "1.31.8"
    pool.orchestrator_version = "1.32.9"
    upgraded = aks.agent_pools.begin_create_or_update(RG, BLUE, "userpool1", pool).result()
    assert upgraded.current_orchestrator_version == "1.32.9"
    assert {p.name for p in aks.agent_pools.list(RG, BLUE)} == {"system", "userpool1"}
