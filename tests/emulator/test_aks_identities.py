"""A managed cluster's identities as AKS gives them: a new kubelet identity, new add-on identities, its own
control-plane identity and OIDC issuer, none of them granted anything; AKS's rules for a pre-created kubelet
identity; and what deleting the cluster takes with it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, create_body
from tests.emulator.identity_helpers import (
    ACR_PULL,
    MANAGED_IDENTITY_OPERATOR,
    REGISTRY_ID,
    authz_client,
    error_code,
    grant,
    msi_client,
    registry_seed,
)

BLUE, GREEN = "aks-nod-prod-blue", "aks-nod-prod-green"
ISSUER = re.compile(r"^https://eastus2\.oic\.prod-aks\.azure\.com/72f988bf-0000-4000-8000-000000000002/[0-9a-f-]{36}/$")


@pytest.fixture
def msi(emu: AzureEmulator, clock: VirtualClock) -> ManagedServiceIdentityClient:
    return msi_client(emu, clock)


@pytest.fixture
def authz(emu: AzureEmulator, clock: VirtualClock) -> AuthorizationManagementClient:
    return authz_client(emu, clock)


def body(name: str = BLUE, **props: Any) -> dict[str, Any]:
    made = create_body()
    made["properties"]["nodeResourceGroup"] = f"MC_{RG}_{name}_eastus2"
    made["properties"]["dnsPrefix"] = name
    made["properties"].update(props)
    return made


def create(aks: ContainerServiceClient, name: str = BLUE, made: dict[str, Any] | None = None) -> Any:
    return aks.managed_clusters.begin_create_or_update(RG, name, made or body(name)).result()


def test_a_new_cluster_gets_a_new_kubelet_identity_in_its_node_resource_group(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient, authz: AuthorizationManagementClient
) -> None:
    blue, green = create(aks, BLUE), create(aks, GREEN)
    kubelet = blue.identity_profile["kubeletidentity"]
    assert kubelet.resource_id.endswith(
        f"/resourcegroups/MC_{RG}_{BLUE}_eastus2/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{BLUE}-agentpool"
    )
    identity = msi.user_assigned_identities.get(f"MC_{RG}_{BLUE}_eastus2", f"{BLUE}-agentpool")
    assert (identity.client_id, identity.principal_id) == (kubelet.client_id, kubelet.object_id)
    green_kubelet = green.identity_profile["kubeletidentity"]
    assert green_kubelet.object_id != kubelet.object_id  # green pulls as someone else
    for principal in (kubelet.object_id, green_kubelet.object_id, blue.identity.principal_id):
        assert list(authz.role_assignments.list_for_subscription(filter=f"principalId eq '{principal}'")) == []


def test_add_on_identities_are_new_and_read_only(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient
) -> None:
    made = body()
    made["properties"]["addonProfiles"]["azureKeyvaultSecretsProvider"]["identity"] = {
        "clientId": "11111111-1111-4111-8111-111111111111",
        "objectId": "22222222-2222-4222-8222-222222222222",
    }
    cluster = create(aks, BLUE, made)
    provider = cluster.addon_profiles["azureKeyvaultSecretsProvider"].identity
    assert provider.resource_id.endswith(f"/userAssignedIdentities/azurekeyvaultsecretsprovider-{BLUE}")
    assert provider.client_id != "11111111-1111-4111-8111-111111111111"  # what the body sent is ignored
    monitoring = cluster.addon_profiles["omsagent"].identity
    assert monitoring.resource_id.endswith(f"/userAssignedIdentities/omsagent-{BLUE}")
    found = msi.user_assigned_identities.get(f"MC_{RG}_{BLUE}_eastus2", f"azurekeyvaultsecretsprovider-{BLUE}")
    assert found.principal_id == provider.object_id
    # Disabling the add-on removes its identity; an update that keeps it enabled keeps it.
    again = body()
    again["properties"]["addonProfiles"]["omsagent"]["enabled"] = False
    updated = aks.managed_clusters.begin_create_or_update(RG, BLUE, again).result()
    assert updated.addon_profiles["azureKeyvaultSecretsProvider"].identity.object_id == provider.object_id
    assert updated.addon_profiles["omsagent"].identity is None
    with pytest.raises(HttpResponseError):
        msi.user_assigned_identities.get(f"MC_{RG}_{BLUE}_eastus2", f"omsagent-{BLUE}")


def test_the_control_plane_gets_its_own_system_assigned_principal(aks: ContainerServiceClient) -> None:
    made = body()
    made.pop("identity")  # left out: system-assigned, as az aks create does by default
    blue = create(aks, BLUE, made)
    assert blue.identity.type == "SystemAssigned" and blue.identity.principal_id
    updated = aks.managed_clusters.begin_create_or_update(RG, BLUE, body() | {"tags": {"x": "y"}}).result()
    assert updated.identity.principal_id == blue.identity.principal_id  # kept on update
    assert create(aks, GREEN).identity.principal_id != blue.identity.principal_id


def test_each_cluster_gets_a_new_oidc_issuer_kept_on_updates(aks: ContainerServiceClient) -> None:
    blue, green = create(aks, BLUE), create(aks, GREEN)
    assert ISSUER.match(blue.oidc_issuer_profile.issuer_url)
    assert green.oidc_issuer_profile.issuer_url != blue.oidc_issuer_profile.issuer_url
    updated = aks.managed_clusters.begin_create_or_update(RG, BLUE, body() | {"tags": {"x": "y"}}).result()
    assert updated.oidc_issuer_profile.issuer_url == blue.oidc_issuer_profile.issuer_url
    omitted = body()
    omitted["properties"].pop("oidcIssuerProfile")  # left out of an update: it stays, with its URL
    kept = aks.managed_clusters.begin_create_or_update(RG, BLUE, omitted).result()
    assert kept.oidc_issuer_profile.issuer_url == blue.oidc_issuer_profile.issuer_url
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, body(oidcIssuerProfile={"enabled": False}))
    assert error_code(exc) == "OIDCIssuerCannotBeDisabled"


def test_a_cluster_created_at_1_34_has_its_oidc_issuer_on_by_default(aks: ContainerServiceClient) -> None:
    made = body(kubernetesVersion="1.34")
    made["properties"].pop("oidcIssuerProfile")
    for pool in made["properties"]["agentPoolProfiles"]:
        pool.pop("orchestratorVersion", None)
    cluster = create(aks, BLUE, made)
    assert cluster.oidc_issuer_profile.enabled and ISSUER.match(cluster.oidc_issuer_profile.issuer_url)


def test_a_recreated_cluster_gets_new_identities(aks: ContainerServiceClient) -> None:
    first = create(aks, BLUE)
    aks.managed_clusters.begin_delete(RG, BLUE).result()
    second = create(aks, BLUE)
    for attribute in ("client_id", "object_id"):
        assert getattr(second.identity_profile["kubeletidentity"], attribute) != getattr(
            first.identity_profile["kubeletidentity"], attribute
        )
    assert second.oidc_issuer_profile.issuer_url != first.oidc_issuer_profile.issuer_url


def test_deleting_the_cluster_deletes_the_identities_aks_made(
    aks: ContainerServiceClient,
    msi: ManagedServiceIdentityClient,
    authz: AuthorizationManagementClient,
    emu: AzureEmulator,
) -> None:
    emu.seed(registry_seed())
    cluster = create(aks, BLUE)
    kubelet = cluster.identity_profile["kubeletidentity"].object_id
    assignment = grant(authz, REGISTRY_ID, ACR_PULL, kubelet, "ServicePrincipal")
    assert emu.has_role(kubelet, ACR_PULL, REGISTRY_ID)
    aks.managed_clusters.begin_delete(RG, BLUE).result()
    assert [i.name for i in msi.user_assigned_identities.list_by_resource_group(f"MC_{RG}_{BLUE}_eastus2")] == []
    assert not emu.has_role(kubelet, ACR_PULL, REGISTRY_ID)
    assert authz.role_assignments.get(REGISTRY_ID, assignment.name).principal_id == kubelet  # orphaned, kept


def _user_assigned(msi: ManagedServiceIdentityClient, name: str) -> Any:
    return msi.user_assigned_identities.create_or_update(RG, name, {"location": "eastus2"})


def test_a_pre_created_kubelet_identity_needs_a_user_assigned_cluster_identity(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient
) -> None:
    kubelet = _user_assigned(msi, "id-kubelet")
    made = body(identityProfile={"kubeletidentity": {"resourceId": kubelet.id}})
    with pytest.raises(HttpResponseError) as exc:
        create(aks, BLUE, made)
    assert error_code(exc) == "CustomKubeletIdentityOnlySupportedOnUserAssignedMSICluster"
    # Which is also what re-sending blue's own AKS-made kubelet identity with a green amounts to.
    blue = create(aks, BLUE)
    blue_kubelet = blue.identity_profile["kubeletidentity"]
    clone = body(GREEN, identityProfile={"kubeletidentity": {"resourceId": blue_kubelet.resource_id}})
    with pytest.raises(HttpResponseError) as exc:
        create(aks, GREEN, clone)
    assert error_code(exc) == "CustomKubeletIdentityOnlySupportedOnUserAssignedMSICluster"


def test_a_pre_created_kubelet_identity_must_exist_and_be_assignable_by_the_control_plane(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient, authz: AuthorizationManagementClient
) -> None:
    control_plane, kubelet = _user_assigned(msi, "id-aks"), _user_assigned(msi, "id-kubelet")
    made = body(identityProfile={"kubeletidentity": {"resourceId": kubelet.id.replace("id-kubelet", "id-missing")}})
    made["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {control_plane.id: {}}}
    with pytest.raises(HttpResponseError) as exc:
        create(aks, BLUE, made)
    assert error_code(exc) == "CustomKubeletIdentityPropertyError"
    made["properties"]["identityProfile"] = {"kubeletidentity": {"resourceId": kubelet.id}}
    with pytest.raises(HttpResponseError) as exc:
        create(aks, BLUE, made)
    assert error_code(exc) == "CustomKubeletIdentityMissingPermissionError"
    assert "Managed Identity Operator" in str(exc.value)
    grant(authz, kubelet.id, MANAGED_IDENTITY_OPERATOR, control_plane.principal_id, "ServicePrincipal")
    cluster = create(aks, BLUE, made)
    assert cluster.identity_profile["kubeletidentity"].object_id == kubelet.principal_id
    assert cluster.identity.type == "UserAssigned"
    assert cluster.identity.user_assigned_identities[control_plane.id].principal_id == control_plane.principal_id
    aks.managed_clusters.begin_delete(RG, BLUE).result()
    assert msi.user_assigned_identities.get(RG, "id-kubelet").principal_id == kubelet.principal_id  # not AKS's


def test_a_user_assigned_cluster_identity_must_exist(
    aks: ContainerServiceClient, msi: ManagedServiceIdentityClient
) -> None:
    made = body()
    made["identity"] = {
        "type": "UserAssigned",
        "userAssignedIdentities": {_user_assigned(msi, "id-aks").id + "-gone": {}},
    }
    with pytest.raises(HttpResponseError) as exc:
        create(aks, BLUE, made)
    assert error_code(exc) == "InvalidManagedIdentityResourceID"
