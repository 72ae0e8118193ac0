"""Each cluster's Kubernetes objects: what AKS puts there, what a pipeline applies, and what kubectl says of them."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, app_seed, create_body, deployment, fixture, namespace, web_app

BLUE = "aks-nod-prod-blue"
SYSTEM_DEPLOYMENTS = {"coredns", "coredns-autoscaler", "konnectivity-agent", "metrics-server"}
SYSTEM_DAEMONSETS = {
    "kube-proxy",
    "azure-ip-masq-agent",
    "cloud-node-manager",
    "csi-azuredisk-node",
    "csi-azurefile-node",
}


def kubectl(aks: ContainerServiceClient, command: str, cluster: str = BLUE) -> tuple[int, str]:
    result = aks.managed_clusters.begin_run_command(RG, cluster, RunCommandRequest(command=command)).result()
    return int(result.exit_code), str(result.logs)


def items(aks: ContainerServiceClient, command: str, cluster: str = BLUE) -> list[dict[str, Any]]:
    code, logs = kubectl(aks, command, cluster)
    assert code == 0, logs
    body = json.loads(logs)
    assert (body["kind"], body["apiVersion"]) == ("List", "v1")
    listed: list[dict[str, Any]] = body["items"]
    return listed


def plain_cluster() -> dict[str, Any]:
    """The fixture without its add-ons: a cluster as `az aks create` makes it by default."""
    body = create_body()
    body["properties"].pop("addonProfiles")
    body["properties"].pop("workloadAutoScalerProfile")
    return body


@pytest.fixture
def created(aks: ContainerServiceClient) -> Any:
    return aks.managed_clusters.begin_create_or_update(RG, BLUE, plain_cluster()).result()


def test_a_new_cluster_runs_only_what_aks_puts_there(aks: ContainerServiceClient, created: Any) -> None:
    workloads = items(aks, "kubectl get deployments,statefulsets,daemonsets -A -o json")
    by_kind: dict[str, set[str]] = {}
    for item in workloads:
        assert item["metadata"]["namespace"] == "kube-system"
        by_kind.setdefault(item["kind"], set()).add(item["metadata"]["name"])
    assert by_kind == {"Deployment": SYSTEM_DEPLOYMENTS, "DaemonSet": SYSTEM_DAEMONSETS}
    namespaces = {n["metadata"]["name"] for n in items(aks, "kubectl get ns -o json")}
    assert namespaces == {"default", "kube-system", "kube-public", "kube-node-lease"}
    services = items(aks, "kubectl get svc -A -o json")
    assert {(s["metadata"]["namespace"], s["metadata"]["name"], s["spec"]["type"]) for s in services} == {
        ("default", "kubernetes", "ClusterIP"),
        ("kube-system", "kube-dns", "ClusterIP"),
        ("kube-system", "metrics-server", "ClusterIP"),
    }
    dns = next(s for s in services if s["metadata"]["name"] == "kube-dns")
    assert dns["spec"]["clusterIP"] == "10.0.0.10"  # networkProfile.dnsServiceIP


def test_enabled_add_ons_bring_their_objects(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    body = create_body()  # omsagent, Key Vault CSI provider and KEDA enabled
    body["properties"]["ingressProfile"] = {"webAppRouting": {"enabled": True}}
    aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    names = {
        (i["metadata"]["namespace"], i["metadata"]["name"]) for i in items(aks, "kubectl get deploy,ds -A -o json")
    }
    assert {("app-routing-system", "nginx"), ("kube-system", "ama-logs"), ("kube-system", "keda-operator")} <= names
    assert ("kube-system", "aks-secrets-store-provider-azure") in names
    nginx = next(s for s in items(aks, "kubectl get svc -n app-routing-system -o json"))
    assert nginx["spec"]["type"] == "LoadBalancer"
    assert nginx["status"]["loadBalancer"]["ingress"][0]["ip"] == emu.cluster_ingress_ip(BLUE)
    body["properties"]["ingressProfile"] = {"webAppRouting": {"enabled": False}}  # disabling it removes them
    aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    assert "app-routing-system" not in {n["metadata"]["name"] for n in items(aks, "kubectl get ns -o json")}


def test_a_load_balancer_gets_its_address_once_the_cluster_runs(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    body = plain_cluster()
    body["properties"]["ingressProfile"] = {"webAppRouting": {"enabled": True}}
    aks.managed_clusters.begin_create_or_update(RG, BLUE, body, polling=False)
    cluster = emu.world.cluster_named(BLUE)
    assert cluster is not None
    before = emu.kubernetes_objects(BLUE)
    nginx = next(o for o in before if o["kind"] == "Service" and o["metadata"]["name"] == "nginx")
    assert nginx["status"]["loadBalancer"] == {}  # still Creating: <pending>
    clock.advance(emu.world.timings.create)
    nginx = next(o for o in emu.kubernetes_objects(BLUE) if o["kind"] == "Service" and o["metadata"]["name"] == "nginx")
    assert nginx["status"]["loadBalancer"]["ingress"] == [{"ip": emu.cluster_ingress_ip(BLUE), "ipMode": "VIP"}]


def test_statuses_follow_the_cluster(aks: ContainerServiceClient, emu: AzureEmulator, created: Any) -> None:
    def available() -> dict[str, int]:
        listed = items(aks, "kubectl get deploy,ds -n kube-system -o json")
        return {
            i["metadata"]["name"]: i["status"].get("availableReplicas", i["status"].get("numberAvailable", 0))
            for i in listed
        }

    up = available()
    assert up["coredns"] == 2 and up["kube-proxy"] == 3 + 4  # a DaemonSet runs one pod per node
    emu.set_workloads_ready(BLUE, False)
    assert set(available().values()) == {0}
    emu.set_workloads_ready(BLUE, True)
    aks.managed_clusters.begin_stop(RG, BLUE).result()
    with pytest.raises(HttpResponseError) as refused:  # a stopped cluster answers no kubectl: start it first
        items(aks, "kubectl get deploy -n kube-system -o json")
    assert refused.value.status_code == 409
    aks.managed_clusters.begin_start(RG, BLUE).result()
    assert available()["coredns"] == 2


def test_apply_objects_is_kubectl_apply(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock, created: Any
) -> None:
    lonely = emu.apply_objects(BLUE, [deployment("web", "frontend", 3)])
    assert lonely["exitCode"] == 1 and lonely["errors"] == [
        'Error from server (NotFound): error when creating "STDIN": namespaces "web" not found'
    ]
    first = emu.apply_objects(BLUE, web_app())
    assert first["exitCode"] == 0
    assert first["output"][:3] == [
        "namespace/web created",
        "deployment.apps/frontend created",
        "deployment.apps/api created",
    ]
    assert "service/ingress-nginx-controller created" in first["output"]
    scaled = web_app()
    scaled[1]["spec"]["replicas"] = 4
    again = emu.apply_objects(BLUE, {"apiVersion": "v1", "kind": "List", "items": scaled})
    assert again["output"][:2] == ["namespace/web unchanged", "deployment.apps/frontend configured"]
    code, table = kubectl(aks, "kubectl get deploy -n web")
    assert code == 0 and table.splitlines()[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "frontend   0/4" in table  # its pods are still starting
    clock.advance(emu.world.timings.rollout)
    assert "frontend   4/4" in kubectl(aks, "kubectl get deploy -n web")[1]
    bad = emu.apply_objects(BLUE, [{"kind": "Deployment", "metadata": {}}])
    assert bad["errors"] == ["error: error validating data: [apiVersion not set, metadata.name not set]"]


def test_apply_objects_through_the_control_route(aks: ContainerServiceClient, emu: AzureEmulator, created: Any) -> None:
    base, verify = f"{emu.arm_endpoint}/_emulator/clusters", emu.ca_bundle
    applied = requests.post(f"{base}/{BLUE}/objects", json=web_app(), verify=verify, timeout=5)
    assert applied.status_code == 200 and applied.json()["exitCode"] == 0
    refused = requests.post(f"{base}/{BLUE}/objects", json=[deployment("nowhere", "x", 1)], verify=verify, timeout=5)
    assert refused.status_code == 422 and 'namespaces "nowhere" not found' in refused.json()["errors"][0]
    listed = requests.get(f"{base}/{BLUE}/objects", verify=verify, timeout=5).json()
    assert ("web", "frontend") in {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in listed["items"]}
    assert requests.get(f"{base}/nope/objects", verify=verify, timeout=5).status_code == 404
    aks.managed_clusters.begin_stop(RG, BLUE).result()
    stopped = requests.post(f"{base}/{BLUE}/objects", json=web_app(), verify=verify, timeout=5)
    assert stopped.status_code == 409 and "Unable to connect to the server" in stopped.json()["error"]["message"]


def test_seeded_objects_run_from_the_start(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    blue = fixture("managed-cluster-blue.json")
    printed = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [deployment("web", "frontend", 3), deployment("web", "api", 2)],
    }
    printed["items"][0]["status"] = {"availableReplicas": 99}  # status in a seed is the API server's: ignored
    printed["items"][0]["metadata"]["uid"] = "from-another-cluster"
    emu.seed([app_seed(blue["id"], [printed]), blue])  # any order: the cluster is loaded first
    listed = {d["metadata"]["name"]: d for d in items(aks, "kubectl get deploy -n web -o json")}
    assert listed["frontend"]["status"]["availableReplicas"] == 3
    assert listed["frontend"]["metadata"]["uid"] != "from-another-cluster"
    assert {n["metadata"]["name"] for n in items(aks, "kubectl get ns -o json")} >= {"web"}  # created with them


def test_objects_cannot_be_seeded_into_no_cluster(emu: AzureEmulator) -> None:
    blue = fixture("managed-cluster-blue.json")
    with pytest.raises(ValueError, match="seed its managed cluster too"):
        emu.seed(app_seed(blue["id"]))


def test_kubectl_get_answers_as_kubectl(aks: ContainerServiceClient, emu: AzureEmulator, created: Any) -> None:
    emu.apply_objects(BLUE, [*web_app(), namespace("empty")])
    one = json.loads(kubectl(aks, "kubectl get deployment frontend -n web -o json")[1])
    assert (one["kind"], one["metadata"]["name"], one["spec"]["replicas"]) == ("Deployment", "frontend", 3)
    assert {d["metadata"]["name"] for d in items(aks, "kubectl get deploy -o json -n web")} == {"frontend", "api"}
    assert items(aks, "kubectl get deploy -o json") == []  # the default namespace
    assert [s["metadata"]["name"] for s in items(aks, "kubectl get sts -A -o json")] == ["cache"]
    assert kubectl(aks, "kubectl get deploy -n empty") == (0, "No resources found in empty namespace.\n")
    assert kubectl(aks, "kubectl get deploy/api -n web -o name") == (0, "deployment.apps/api\n")
    assert kubectl(aks, "kubectl get deploy nope -n web") == (
        1,
        'Error from server (NotFound): deployments.apps "nope" not found\n',
    )
    assert kubectl(aks, "kubectl get widgets") == (1, 'error: the server doesn\'t have a resource type "widgets"\n')
    assert kubectl(aks, "kubectl frobnicate")[0] == 1
    assert 'unknown command "frobnicate" for "kubectl"' in kubectl(aks, "kubectl frobnicate")[1]
    assert kubectl(aks, "kubectl get deploy --frob")[1].startswith("error: unknown flag: --frob")
    ingress = items(aks, "kubectl get ingresses -A -o json")
    assert ingress == []  # a known resource type with nothing of it
    code, logs = kubectl(aks, "kubectl get pods -A")
    assert code == 1 and "not model" in logs
