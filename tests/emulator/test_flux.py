"""Microsoft.KubernetesConfiguration through the real SourceControlConfigurationClient: the flux extension,
fluxConfigurations, and what Flux does on the cluster (on the virtual clock)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.mgmt.kubernetesconfiguration.models import Extension, FluxConfiguration

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, begin, create_body, fixture, namespace, status_document, web_app

CLUSTER = "aks-nod-prod-blue"
MC = ("Microsoft.ContainerService", "managedClusters", CLUSTER)
REPO = "https://github.com/contoso/web-gitops"
PRIVATE = "https://github.com/contoso/private-gitops"


def repository(url: str = REPO, private: bool = False, **extra: Any) -> dict[str, Any]:
    apps = web_app()
    apps[2]["metadata"]["labels"]["env"] = "${cluster_env}"
    substituted = copy.deepcopy(apps[:4])
    substituted[1]["spec"]["replicas"] = "${frontend_replicas:=3}"
    return {
        "type": "emulator/gitRepository",
        "url": url,
        "branches": {
            "main": {"paths": {"./apps/web": apps[:4], "./infra/ingress": apps[4:], "./apps/vars": substituted}}
        },
        "private": private,
        **extra,
    }


def flux_body(url: str = REPO, path: str = "./apps/web", **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": {
            "scope": "cluster",
            "namespace": "cluster-config",
            "sourceKind": "GitRepository",
            "gitRepository": {"url": url, "repositoryRef": {"branch": "main"}},
            "kustomizations": {
                "infra": {"path": "./infra/ingress", "prune": True},
                "apps": {"path": path, "prune": True, "dependsOn": ["infra"]},
            },
            **props,
        }
    }
    return body


def kubectl(aks: ContainerServiceClient, command: str) -> dict[str, Any]:
    logs = aks.managed_clusters.begin_run_command(RG, CLUSTER, RunCommandRequest(command=command)).result().logs
    body: dict[str, Any] = json.loads(logs)
    return body


def web_workloads(aks: ContainerServiceClient) -> dict[str, int]:
    listed = kubectl(aks, "kubectl get deployments,statefulsets -n web -o json")["items"]
    return {i["metadata"]["name"]: i["status"].get("availableReplicas", 0) for i in listed}


def available_now(emu: AzureEmulator) -> dict[str, int]:
    """As kubectl would print them at this very moment (a run command takes virtual time)."""
    listed = [o for o in emu.kubernetes_objects(CLUSTER) if o["kind"] in ("Deployment", "StatefulSet")]
    return {
        o["metadata"]["name"]: o["status"].get("availableReplicas", 0)
        for o in listed
        if o["metadata"]["namespace"] == "web"
    }


@pytest.fixture
def cluster(emu: AzureEmulator) -> AzureEmulator:
    emu.seed([fixture("managed-cluster-blue.json"), repository(), repository(PRIVATE, private=True)])
    return emu


@pytest.fixture
def flux(cluster: AzureEmulator, kc: SourceControlConfigurationClient) -> Extension:
    extension = {"properties": {"extensionType": "microsoft.flux", "autoUpgradeMinorVersion": True}}
    return kc.extensions.begin_create(RG, *MC, "flux", extension).result()


def create(kc: SourceControlConfigurationClient, name: str, body: dict[str, Any]) -> FluxConfiguration:
    return kc.flux_configurations.begin_create_or_update(RG, *MC, name, body).result()


def reconcile(emu: AzureEmulator, clock: VirtualClock, rollout: bool = True) -> None:
    clock.advance(emu.world.timings.flux_reconcile + (emu.world.timings.rollout if rollout else 0))


# -- extensions ------------------------------------------------------------------------------------------------


def test_extension_put_is_long_running_and_installs_flux(
    cluster: AzureEmulator, kc: SourceControlConfigurationClient, aks: ContainerServiceClient, clock: VirtualClock
) -> None:
    body = {
        "id": "/elsewhere",
        "properties": {
            "extensionType": "microsoft.flux",
            "provisioningState": "Failed",  # read-only: ignored
            "currentVersion": "9.9.9",
            "configurationSettings": {"multiTenancy.enforce": "false"},
            "configurationProtectedSettings": {"secret": "s3cr3t"},
        },
    }
    url = begin(kc.extensions.begin_create, RG, *MC, "flux", body)
    assert "/providers/Microsoft.KubernetesConfiguration/extensions/flux/operations/" in url
    assert status_document(cluster, url)["status"] == "InProgress"
    creating = kc.extensions.get(RG, *MC, "flux")
    assert (creating.provisioning_state, creating.current_version) == ("Creating", None)
    clock.advance(cluster.world.timings.extension_create)
    assert status_document(cluster, url)["status"] == "Succeeded"
    flux = kc.extensions.get(RG, *MC, "flux")
    assert flux.provisioning_state == "Succeeded" and flux.id.endswith(
        f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/flux"
    )
    assert flux.scope.cluster.release_namespace == "flux-system" and flux.auto_upgrade_minor_version is True
    assert flux.configuration_settings == {"multiTenancy.enforce": "false"}
    assert flux.configuration_protected_settings is None  # never returned
    raw = requests.get(
        f"{cluster.arm_endpoint}{flux.id}",
        params={"api-version": "2023-05-01"},
        headers={"Authorization": "Bearer t"},
        verify=cluster.ca_bundle,
        timeout=5,
    ).json()
    assert "configurationProtectedSettings" not in raw["properties"]
    controllers = {d["metadata"]["name"] for d in kubectl(aks, "kubectl get deploy -n flux-system -o json")["items"]}
    assert {"source-controller", "kustomize-controller", "fluxconfig-agent"} <= controllers
    assert [e.name for e in kc.extensions.list(RG, *MC)] == ["flux"]


def test_extension_delete_is_long_running_and_removes_what_it_installed(
    flux: Extension, kc: SourceControlConfigurationClient, aks: ContainerServiceClient
) -> None:
    kc.extensions.begin_delete(RG, *MC, "flux").result()
    with pytest.raises(ResourceNotFoundError) as exc:
        kc.extensions.get(RG, *MC, "flux")
    assert exc.value.error.code == "ResourceNotFound"
    assert kubectl(aks, "kubectl get deploy -n flux-system -o json")["items"] == []
    kc.extensions.begin_delete(RG, *MC, "flux").result()  # nothing to delete: 204


def test_extension_rules(cluster: AzureEmulator, kc: SourceControlConfigurationClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        kc.extensions.begin_create(RG, *MC, "flux", {"properties": {}})
    assert (exc.value.status_code, exc.value.error.code) == (400, "ValidationFailed")
    pinned = {"properties": {"extensionType": "microsoft.flux", "version": "1.8.2"}}
    with pytest.raises(HttpResponseError) as exc:
        kc.extensions.begin_create(RG, *MC, "flux", pinned)
    assert exc.value.error.code == "ValidationFailed"  # pinning needs autoUpgradeMinorVersion false
    pinned["properties"]["autoUpgradeMinorVersion"] = False
    assert kc.extensions.begin_create(RG, *MC, "flux", pinned).result().current_version == "1.8.2"
    with pytest.raises(HttpResponseError) as exc:
        kc.extensions.begin_create(RG, "Microsoft.ContainerService", "managedClusters", "nope", "flux", pinned)
    assert (exc.value.status_code, exc.value.error.code) == (404, "ParentResourceNotFound")


# -- fluxConfigurations ----------------------------------------------------------------------------------------


def test_a_flux_configuration_needs_the_flux_extension_first(
    cluster: AzureEmulator, kc: SourceControlConfigurationClient, clock: VirtualClock
) -> None:
    with pytest.raises(HttpResponseError) as exc:
        create(kc, "web", flux_body())
    assert (exc.value.status_code, exc.value.error.code) == (400, "ValidationFailed")
    assert "microsoft.flux" in exc.value.error.message
    begin(kc.extensions.begin_create, RG, *MC, "flux", {"properties": {"extensionType": "microsoft.flux"}})
    with pytest.raises(HttpResponseError):  # still installing
        create(kc, "web", flux_body())
    clock.advance(cluster.world.timings.extension_create)
    assert create(kc, "web", flux_body()).provisioning_state == "Succeeded"


def test_flux_configuration_goes_pending_then_compliant_with_its_objects_on_the_cluster(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    body = flux_body()
    body["properties"]["statuses"] = [{"name": "forged"}]  # read-only: ignored
    body["properties"]["configurationProtectedSettings"] = {"httpsKey": "unused"}
    url = begin(kc.flux_configurations.begin_create_or_update, RG, *MC, "web", body)
    creating = kc.flux_configurations.get(RG, *MC, "web")
    assert (creating.provisioning_state, creating.compliance_state, creating.statuses) == ("Creating", "Pending", [])
    clock.advance(cluster.world.timings.flux_write)
    assert status_document(cluster, url)["status"] == "Succeeded"
    written = kc.flux_configurations.get(RG, *MC, "web")
    assert (written.provisioning_state, written.compliance_state) == ("Succeeded", "Pending")
    assert written.configuration_protected_settings is None
    assert available_now(cluster) == {}
    reconcile(cluster, clock, rollout=False)
    progressing = kc.flux_configurations.get(RG, *MC, "web")
    assert progressing.compliance_state == "Pending"  # applied; its workloads are starting (wait: true)
    assert available_now(cluster) == {"frontend": 0, "api": 0, "cache": 0}
    clock.advance(cluster.world.timings.rollout)
    config = kc.flux_configurations.get(RG, *MC, "web")
    assert (config.compliance_state, config.error_message) == ("Compliant", "")
    assert config.source_synced_commit_id.startswith("main/")
    kinds = [(s.kind, s.name, s.compliance_state) for s in config.statuses]
    assert kinds == [
        ("GitRepository", "web", "Compliant"),
        ("Kustomization", "web-infra", "Compliant"),
        ("Kustomization", "web-apps", "Compliant"),
    ]
    assert config.statuses[0].status_conditions[0].reason == "GitOperationSucceed"
    assert web_workloads(aks) == {"frontend": 3, "api": 2, "cache": 1}
    frontend = kubectl(aks, "kubectl get deploy frontend -n web -o json")
    assert frontend["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "web-apps"
    api = kubectl(aks, "kubectl get deploy api -n web -o json")
    assert api["metadata"]["labels"]["env"] == "${cluster_env}"  # no postBuild: Flux substitutes nothing
    assert [c.name for c in kc.flux_configurations.list(RG, *MC)] == ["web"]


def test_post_build_substitute_replaces_variables(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    settings = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"namespace": "cluster-config", "name": "cluster-vars"},
    }
    settings["data"] = {"cluster_env": "staging", "frontend_replicas": "2"}
    cluster.apply_objects(CLUSTER, [namespace("cluster-config"), settings])
    body = flux_body(path="./apps/vars")
    body["properties"]["kustomizations"]["apps"]["postBuild"] = {
        "substitute": {"frontend_replicas": "5"},  # wins over substituteFrom
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "cluster-vars"},
            {"kind": "Secret", "name": "x", "optional": True},
        ],
    }
    create(kc, "web", body)
    reconcile(cluster, clock)
    assert kubectl(aks, "kubectl get deploy api -n web -o json")["metadata"]["labels"]["env"] == "staging"
    assert web_workloads(aks)["frontend"] == 5  # `replicas: ${frontend_replicas}` becomes a number
    body["properties"]["kustomizations"]["apps"]["postBuild"] = {"substitute": {"frontend_replicas": "4"}}
    create(kc, "web", body)
    reconcile(cluster, clock)
    assert kubectl(aks, "kubectl get deploy api -n web -o json")["metadata"]["labels"]["env"] == ""  # unset: empty


@pytest.mark.parametrize(
    ("url", "path", "protected", "reason", "message"),
    [
        ("https://github.com/contoso/unknown", "./apps/web", None, "GitOperationFailed", "repository not found"),
        (PRIVATE, "./apps/web", None, "GitOperationFailed", "authentication required"),
        (REPO, "./apps/mobile", None, "ArtifactFailed", "kustomization path not found: stat /tmp/kustomization-"),
    ],
    ids=["unknown-repository", "private-without-credentials", "missing-path"],
)
def test_flux_configuration_that_cannot_reconcile_is_non_compliant(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
    url: str,
    path: str,
    protected: dict[str, str] | None,
    reason: str,
    message: str,
) -> None:
    create(kc, "web", flux_body(url, path))
    reconcile(cluster, clock)
    config = kc.flux_configurations.get(RG, *MC, "web")
    assert config.compliance_state == "Non-Compliant"
    failing = [s for s in config.statuses if s.compliance_state == "Non-Compliant"]
    condition = failing[0].status_conditions[0]
    assert (condition.reason, condition.status, condition.type) == (reason, "False", "Ready")
    assert message in condition.message and config.error_message == condition.message
    if reason == "GitOperationFailed":
        assert condition.message.startswith(f"failed to checkout and determine revision: unable to clone '{url}'")
    assert "web" not in {n["metadata"]["name"] for n in kubectl(aks, "kubectl get ns -o json")["items"]}


def test_a_private_repository_with_credentials_reconciles(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    body = flux_body(PRIVATE)
    body["properties"]["gitRepository"]["httpsUser"] = "git"
    body["properties"]["configurationProtectedSettings"] = {"httpsKey": "ghp_token"}
    create(kc, "web", body)
    reconcile(cluster, clock)
    assert kc.flux_configurations.get(RG, *MC, "web").compliance_state == "Compliant"
    assert web_workloads(aks)["frontend"] == 3


def test_a_suspended_configuration_applies_nothing(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    create(kc, "web", flux_body(suspend=True))
    reconcile(cluster, clock)
    assert kc.flux_configurations.get(RG, *MC, "web").compliance_state == "Suspended"
    assert "web" not in {n["metadata"]["name"] for n in kubectl(aks, "kubectl get ns -o json")["items"]}


def test_deleting_a_configuration_prunes_what_it_applied(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    body = flux_body()
    body["properties"]["kustomizations"]["infra"]["prune"] = False  # infra's objects stay behind
    create(kc, "web", body)
    reconcile(cluster, clock)
    kc.flux_configurations.begin_delete(RG, *MC, "web").result()
    with pytest.raises(ResourceNotFoundError):
        kc.flux_configurations.get(RG, *MC, "web")
    assert web_workloads(aks) == {}
    left = {d["metadata"]["name"] for d in kubectl(aks, "kubectl get deploy -n ingress-nginx -o json")["items"]}
    assert left == {"ingress-nginx-controller"}
    kc.flux_configurations.begin_delete(RG, *MC, "web").result()  # nothing left: 204


def test_a_path_change_prunes_what_left_the_source(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    create(kc, "web", flux_body())
    reconcile(cluster, clock)
    body = flux_body()
    body["properties"]["kustomizations"]["apps"]["path"] = "./infra/ingress"  # the apps are gone from its path
    create(kc, "web", body)
    reconcile(cluster, clock)
    assert web_workloads(aks) == {}


def test_flux_configuration_request_rules(
    cluster: AzureEmulator, flux: Extension, kc: SourceControlConfigurationClient
) -> None:
    body = flux_body()
    body["properties"].pop("gitRepository")
    with pytest.raises(HttpResponseError) as exc:
        create(kc, "web", body)
    assert exc.value.error.code == "ValidationFailed"
    assert exc.value.error.message.startswith("Invalid source kind match.")
    create(kc, "web", flux_body())
    moved = flux_body()
    moved["properties"]["namespace"] = "elsewhere"
    with pytest.raises(HttpResponseError) as exc:
        create(kc, "web", moved)
    assert (exc.value.status_code, exc.value.error.code) == (400, "ValidationFailed")
    with pytest.raises(ResourceNotFoundError):
        kc.flux_configurations.get(RG, *MC, "nope")


def test_a_stopped_cluster_reconciles_when_it_starts(
    cluster: AzureEmulator,
    flux: Extension,
    kc: SourceControlConfigurationClient,
    aks: ContainerServiceClient,
    clock: VirtualClock,
) -> None:
    begin(kc.flux_configurations.begin_create_or_update, RG, *MC, "web", flux_body())
    aks.managed_clusters.begin_stop(RG, CLUSTER).result()
    clock.advance(cluster.world.timings.flux_write + cluster.world.timings.flux_reconcile)
    assert kc.flux_configurations.get(RG, *MC, "web").compliance_state == "Pending"
    aks.managed_clusters.begin_start(RG, CLUSTER).result()
    reconcile(cluster, clock)
    assert kc.flux_configurations.get(RG, *MC, "web").compliance_state == "Compliant"


def test_extensions_and_configurations_go_with_their_cluster(
    cluster: AzureEmulator, flux: Extension, kc: SourceControlConfigurationClient, aks: ContainerServiceClient
) -> None:
    create(kc, "web", flux_body())
    aks.managed_clusters.begin_delete(RG, CLUSTER).result()
    aks.managed_clusters.begin_create_or_update(RG, CLUSTER, create_body()).result()
    assert list(kc.extensions.list(RG, *MC)) == [] and list(kc.flux_configurations.list(RG, *MC)) == []
    assert "web" not in {n["metadata"]["name"] for n in kubectl(aks, "kubectl get ns -o json")["items"]}


def test_seeded_flux_configuration_has_reconciled(
    emu: AzureEmulator, kc: SourceControlConfigurationClient, aks: ContainerServiceClient
) -> None:
    blue = fixture("managed-cluster-blue.json")
    extension = {
        "id": blue["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions/flux",
        "properties": {"extensionType": "microsoft.flux"},
    }
    config = copy.deepcopy(flux_body())
    config["id"] = blue["id"] + "/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/web"
    emu.seed([config, extension, repository(), blue])
    seeded = kc.flux_configurations.get(RG, *MC, "web")
    assert (seeded.provisioning_state, seeded.compliance_state) == ("Succeeded", "Compliant")
    assert web_workloads(aks) == {"frontend": 3, "api": 2, "cache": 1}  # rolled out all along
    no_extension = copy.deepcopy(config)
    no_extension["id"] = no_extension["id"].replace("blue", "green")
    green = fixture("managed-cluster-blue.json")
    green["id"] = green["id"].replace("blue", "green")
    green["properties"]["nodeResourceGroup"] = "MC_green"
    with pytest.raises(ValueError, match=r"microsoft\.flux"):
        emu.seed([green, no_extension])


def test_a_failed_extension_install_leaves_flux_unusable(
    cluster: AzureEmulator, kc: SourceControlConfigurationClient
) -> None:
    cluster.fail_next_operation(
        path_pattern="extensions/flux/write$", code="ExtensionOperationFailed", message="helm install timed out"
    )
    with pytest.raises(HttpResponseError) as exc:
        kc.extensions.begin_create(RG, *MC, "flux", {"properties": {"extensionType": "microsoft.flux"}}).result()
    assert "ExtensionOperationFailed" in str(exc.value)
    failed = kc.extensions.get(RG, *MC, "flux")
    assert (failed.provisioning_state, failed.error_info.code) == ("Failed", "ExtensionOperationFailed")
    with pytest.raises(HttpResponseError) as refused:
        create(kc, "web", flux_body())
    assert refused.value.error.code == "ValidationFailed"


def test_repositories_and_objects_through_the_control_api(
    emu: AzureEmulator, kc: SourceControlConfigurationClient, clock: VirtualClock
) -> None:
    base, verify = emu.arm_endpoint + "/_emulator", emu.ca_bundle
    blue = fixture("managed-cluster-blue.json")
    extension = {
        "id": blue["id"] + "/providers/Microsoft.KubernetesConfiguration/extensions/flux",
        "properties": {"extensionType": "microsoft.flux"},
    }
    seeded = requests.post(f"{base}/seed", json=[blue, extension, repository()], verify=verify, timeout=5)
    assert seeded.status_code == 200
    bad = requests.post(f"{base}/seed", json={"type": "emulator/gitRepository", "url": REPO}, verify=verify, timeout=5)
    assert bad.status_code == 400 and "at least one branch" in bad.json()["error"]["message"]
    create(kc, "web", flux_body())
    reconcile(emu, clock)
    listed = requests.get(f"{base}/clusters/{CLUSTER}/objects", verify=verify, timeout=5).json()["items"]
    assert {"frontend", "api", "cache"} <= {o["metadata"]["name"] for o in listed}
    kinds = {r["type"] for r in requests.get(f"{base}/resources", verify=verify, timeout=5).json()}
    assert {
        "Microsoft.KubernetesConfiguration/extensions",
        "Microsoft.KubernetesConfiguration/fluxConfigurations",
    } <= kinds
