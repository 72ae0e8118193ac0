"""What Azure lets a cluster's workloads do: pull images from an Azure Container Registry (the kubelet identity
needs AcrPull) and get tokens through workload identity (a federated credential for the cluster's issuer). Both
follow grants made later; neither is there for a new cluster."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import requests
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest
from azure.mgmt.msi import ManagedServiceIdentityClient

from local.azure_emulator import AzureEmulator, Timings
from local.clock import VirtualClock
from tests.emulator.conftest import RG, SUB, StaticToken, client_kwargs, create_body, load_balancer, namespace
from tests.emulator.identity_helpers import (
    ACR_PULL,
    AUDIENCE,
    CONTRIBUTOR,
    READER,
    REGISTRY,
    REGISTRY_ID,
    RG_SCOPE,
    SUB_SCOPE,
    authz_client,
    grant,
    msi_client,
    registry_seed,
)

CLUSTER, OTHER = "aks-nod-prod-blue", "aks-nod-prod-green"
HOST = "web.nod.example"


@pytest.fixture
def authz(emu: AzureEmulator, clock: VirtualClock) -> AuthorizationManagementClient:
    return authz_client(emu, clock)


@pytest.fixture
def msi(emu: AzureEmulator, clock: VirtualClock) -> ManagedServiceIdentityClient:
    return msi_client(emu, clock)


def create(aks: ContainerServiceClient, name: str = CLUSTER, **props: Any) -> Any:
    body = create_body()
    body["properties"].update(nodeResourceGroup=f"MC_{RG}_{name}_eastus2", dnsPrefix=name, **props)
    return aks.managed_clusters.begin_create_or_update(RG, name, body).result()


def web(image: str = f"{REGISTRY}.azurecr.io/web/frontend:2.8.1", account: str | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": image}]},
    }
    if account:
        template["metadata"]["labels"]["azure.workload.identity/use"] = "true"
        template["spec"]["serviceAccountName"] = account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": "web", "name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template},
    }


def service_account(client_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "namespace": "web",
            "name": "api",
            "annotations": {"azure.workload.identity/client-id": client_id},
        },
    }


def deploy(emu: AzureEmulator, clock: VirtualClock, cluster: str, *objects: dict[str, Any]) -> None:
    result = emu.apply_objects(cluster, [namespace("web"), *objects, load_balancer("web", "web")])
    assert result["exitCode"] == 0, result
    clock.sleep(60)  # rolled out by now, as far as Kubernetes goes


def available(emu: AzureEmulator, cluster: str = CLUSTER) -> int:
    found = next(
        o for o in emu.kubernetes_objects(cluster) if o["kind"] == "Deployment" and o["metadata"]["name"] == "web"
    )
    return int(found["status"].get("availableReplicas") or 0)


def probe(emu: AzureEmulator) -> int:
    return requests.get(f"{emu.arm_endpoint}/_probe/{HOST}/healthz", verify=emu.ca_bundle, timeout=5).status_code


def test_images_from_a_registry_need_acr_pull_for_the_kubelet_identity(
    aks: ContainerServiceClient, authz: AuthorizationManagementClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(registry_seed())
    cluster = create(aks)
    emu.bind_host(HOST, CLUSTER)
    deploy(emu, clock, CLUSTER, web())
    assert available(emu) == 0 and probe(emu) == 503
    [blocked] = emu.blocked_workloads(CLUSTER)
    assert (blocked["namespace"], blocked["kind"], blocked["name"]) == ("web", "Deployment", "web")
    assert "401 Unauthorized" in blocked["reasons"][0] and "ImagePullBackOff" in blocked["reasons"][0]
    shown = aks.managed_clusters.begin_run_command(
        RG, CLUSTER, RunCommandRequest(command="kubectl get deployments -n web -o json")
    ).result()
    assert json.loads(shown.logs)["items"][0]["status"].get("availableReplicas") is None
    kubelet = cluster.identity_profile["kubeletidentity"].object_id
    grant(authz, REGISTRY_ID, ACR_PULL, kubelet, "ServicePrincipal")
    assert available(emu) == 2 and probe(emu) == 200  # the next status read after the grant
    assert emu.blocked_workloads(CLUSTER) == []
    shown = aks.managed_clusters.begin_run_command(
        RG, CLUSTER, RunCommandRequest(command="kubectl get deployments -n web -o json")
    ).result()
    assert json.loads(shown.logs)["items"][0]["status"]["availableReplicas"] == 2


@pytest.mark.parametrize(
    ("role", "scope"),
    [(ACR_PULL, RG_SCOPE), (READER, SUB_SCOPE), (CONTRIBUTOR, REGISTRY_ID)],
    ids=["acrpull-on-the-group", "reader-on-the-subscription", "contributor-on-the-registry"],
)
def test_any_role_with_pull_read_at_an_ancestor_will_do(
    aks: ContainerServiceClient,
    authz: AuthorizationManagementClient,
    emu: AzureEmulator,
    clock: VirtualClock,
    role: str,
    scope: str,
) -> None:
    emu.seed(registry_seed())
    cluster = create(aks)
    deploy(emu, clock, CLUSTER, web())
    grant(authz, scope, role, cluster.identity_profile["kubeletidentity"].object_id, "ServicePrincipal")
    assert available(emu) == 2


def test_another_clusters_grant_does_not_help_and_revoking_takes_the_pods_away(
    aks: ContainerServiceClient, authz: AuthorizationManagementClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(registry_seed())
    blue = create(aks, CLUSTER)
    create(aks, OTHER)
    deploy(emu, clock, CLUSTER, web())
    deploy(emu, clock, OTHER, web())
    assignment = grant(
        authz, REGISTRY_ID, ACR_PULL, blue.identity_profile["kubeletidentity"].object_id, "ServicePrincipal"
    )
    assert (available(emu, CLUSTER), available(emu, OTHER)) == (2, 0)
    authz.role_assignments.delete(REGISTRY_ID, assignment.name)
    assert available(emu, CLUSTER) == 0


def test_an_unknown_registry_is_no_such_host_and_an_anonymous_one_needs_no_grant(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    create(aks)
    deploy(emu, clock, CLUSTER, web(image="elsewhere.azurecr.io/web:1"))
    assert available(emu) == 0
    assert "no such host" in emu.blocked_workloads(CLUSTER)[0]["reasons"][0]
    emu.seed(registry_seed(anonymous=True))
    deploy(emu, clock, CLUSTER, web())
    assert available(emu) == 2


def test_a_registry_in_abac_mode_ignores_acr_pull(
    aks: ContainerServiceClient, authz: AuthorizationManagementClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(registry_seed(mode="AbacRepositoryPermissions"))
    cluster = create(aks)
    deploy(emu, clock, CLUSTER, web())
    grant(authz, REGISTRY_ID, ACR_PULL, cluster.identity_profile["kubeletidentity"].object_id, "ServicePrincipal")
    assert available(emu) == 0


def test_public_images_need_nothing(aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock) -> None:
    create(aks)
    deploy(emu, clock, CLUSTER, web(image="mcr.microsoft.com/oss/nginx/nginx:1.27"))
    assert available(emu) == 2


def test_a_grant_counts_once_arms_propagation_delay_has_passed(clock: VirtualClock) -> None:
    emu = AzureEmulator(clock=clock, timings=replace(Timings.realistic(), rbac_propagation=300)).start()
    try:
        aks = ContainerServiceClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))
        emu.seed(registry_seed())
        cluster = create(aks)
        emu.bind_host(HOST, CLUSTER)
        deploy(emu, clock, CLUSTER, web())
        grant(authz_client(emu, clock), REGISTRY_ID, ACR_PULL, cluster.identity_profile["kubeletidentity"].object_id)
        assert (available(emu), probe(emu)) == (0, 503)
        clock.sleep(301)
        assert (available(emu), probe(emu)) == (2, 200)
    finally:
        emu.stop()


# -- workload identity ------------------------------------------------------------------------------------------


def test_workload_identity_needs_a_federated_credential_for_this_clusters_issuer(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    blue, green = create(aks, CLUSTER), create(aks, OTHER)
    identity = msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    public = "mcr.microsoft.com/oss/nginx/nginx:1.27"
    for cluster in (CLUSTER, OTHER):
        deploy(emu, clock, cluster, service_account(identity.client_id), web(image=public, account="api"))
    assert (available(emu, CLUSTER), available(emu, OTHER)) == (0, 0)
    assert "AADSTS70021" in emu.blocked_workloads(CLUSTER)[0]["reasons"][0]
    fics = msi.federated_identity_credentials
    subject = "system:serviceaccount:web:api"
    fics.create_or_update(
        RG,
        "id-nod-api",
        "blue-web-api",
        {"issuer": blue.oidc_issuer_profile.issuer_url, "subject": subject, "audiences": [AUDIENCE]},
    )
    assert (available(emu, CLUSTER), available(emu, OTHER)) == (2, 0)  # blue's issuer is not green's
    fics.create_or_update(
        RG,
        "id-nod-api",
        "green-web-x",
        {
            "issuer": green.oidc_issuer_profile.issuer_url,
            "subject": "system:serviceaccount:web:x",
            "audiences": [AUDIENCE],
        },
    )
    assert available(emu, OTHER) == 0  # the subject names the namespace and service account
    fics.create_or_update(
        RG,
        "id-nod-api",
        "green-web-api",
        {"issuer": green.oidc_issuer_profile.issuer_url, "subject": subject, "audiences": [AUDIENCE]},
    )
    assert available(emu, OTHER) == 2
    fics.delete(RG, "id-nod-api", "blue-web-api")
    assert available(emu, CLUSTER) == 0


def test_workload_identity_needs_the_feature_the_issuer_and_a_known_client_id(
    aks: ContainerServiceClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    create(aks, securityProfile={"workloadIdentity": {"enabled": False}})
    public = "mcr.microsoft.com/oss/nginx/nginx:1.27"
    deploy(
        emu, clock, CLUSTER, service_account("00000000-0000-4000-8000-00000000beef"), web(image=public, account="api")
    )
    assert "securityProfile.workloadIdentity" in emu.blocked_workloads(CLUSTER)[0]["reasons"][0]
    body = create_body()
    body["properties"].update(nodeResourceGroup=f"MC_{RG}_{CLUSTER}_eastus2", dnsPrefix=CLUSTER)
    aks.managed_clusters.begin_create_or_update(RG, CLUSTER, body).result()  # workload identity on
    assert "AADSTS700016" in emu.blocked_workloads(CLUSTER)[0]["reasons"][0]
    deploy(emu, clock, CLUSTER, web(image=public, account="missing"))
    assert 'serviceaccount "missing" not found' in emu.blocked_workloads(CLUSTER)[0]["reasons"][0]


def test_access_and_blocked_workloads_over_the_control_api(
    aks: ContainerServiceClient, authz: AuthorizationManagementClient, emu: AzureEmulator, clock: VirtualClock
) -> None:
    emu.seed(registry_seed())
    kubelet = create(aks).identity_profile["kubeletidentity"].object_id
    deploy(emu, clock, CLUSTER, web())
    base = f"{emu.arm_endpoint}/_emulator"
    blocked = requests.get(f"{base}/clusters/{CLUSTER}/blocked-workloads", verify=emu.ca_bundle, timeout=5).json()
    assert [b["name"] for b in blocked] == ["web"]
    query = {"principal": kubelet, "role": ACR_PULL, "scope": REGISTRY_ID}
    assert requests.get(f"{base}/access", params=query, verify=emu.ca_bundle, timeout=5).json() == {"holds": False}
    grant(authz, REGISTRY_ID, ACR_PULL, kubelet, "ServicePrincipal")
    assert requests.get(f"{base}/access", params=query, verify=emu.ca_bundle, timeout=5).json() == {"holds": True}
    missing = requests.get(f"{base}/clusters/nope/blocked-workloads", verify=emu.ca_bundle, timeout=5)
    assert missing.status_code == 404
