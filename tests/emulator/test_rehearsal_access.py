"""The rehearsal estate's access: blue's workloads pull from its registry and get their tokens; a green created from
blue's definition does neither until it is granted and federated for, exactly as an upgrade run must do it."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from local.azure_emulator import AzureEmulator
from local.azure_emulator.aks_model import strip_read_only
from local.clock import VirtualClock
from local.rehearsal.world import Estate, application_objects, build_estate, load_blue
from tests.emulator.conftest import StaticToken, client_kwargs
from tests.emulator.identity_helpers import ACR_PULL, AUDIENCE, KEY_VAULT_SECRETS_USER, authz_client, grant, msi_client


@pytest.fixture
def estate() -> Estate:
    return build_estate(load_blue(None), "standard")


@pytest.fixture
def emu(estate: Estate, clock: VirtualClock) -> Iterator[AzureEmulator]:
    emulator = AzureEmulator(clock=clock, seed=estate.resources).start()
    emulator.bind_host(estate.hosts["blue"], estate.blue_name)
    emulator.bind_host(estate.hosts["green"], estate.green_name)
    try:
        yield emulator
    finally:
        emulator.stop()


def clients(
    emu: AzureEmulator, clock: VirtualClock, estate: Estate
) -> tuple[ContainerServiceClient, AuthorizationManagementClient, ManagedServiceIdentityClient]:
    kwargs = client_kwargs(emu, clock)
    aks = ContainerServiceClient(StaticToken(), estate.subscription, base_url=emu.arm_endpoint, **kwargs)
    return aks, authz_client(emu, clock), msi_client(emu, clock)


def probe(emu: AzureEmulator, host: str) -> int:
    return requests.get(f"{emu.arm_endpoint}/_probe/{host}/healthz", verify=emu.ca_bundle, timeout=5).status_code


def unavailable(emu: AzureEmulator, cluster: str, estate: Estate) -> set[str]:
    return {
        o["metadata"]["name"]
        for o in emu.kubernetes_objects(cluster)
        if o["kind"] in ("Deployment", "StatefulSet")
        and o["metadata"]["namespace"] in estate.app_namespaces
        and not o["status"].get("availableReplicas")
    }


def green_from_blue(emu: AzureEmulator, estate: Estate) -> dict[str, Any]:
    """Green's create body from blue's definition: blue's GET body with a new dnsPrefix and node resource group,
    without what AKS made for blue (its kubelet identity; read-only fields)."""
    blue = next(
        r for r in emu.resources() if r["name"] == estate.blue_name and r["type"].lower().endswith("managedclusters")
    )
    body = strip_read_only(copy.deepcopy(blue))
    props = body["properties"]
    props.pop("identityProfile")
    props["dnsPrefix"] = estate.green_name
    props["nodeResourceGroup"] = f"MC_{estate.resource_group}_{estate.green_name}_{blue['location']}"
    return body


def test_blue_is_granted_what_its_workloads_need(emu: AzureEmulator, estate: Estate, clock: VirtualClock) -> None:
    aks, authz, msi = clients(emu, clock, estate)
    blue = aks.managed_clusters.get(estate.resource_group, estate.blue_name)
    assert estate.registry_id.endswith("/providers/Microsoft.ContainerRegistry/registries/nodpublishers")
    assert estate.vault_id.endswith(f"/providers/Microsoft.KeyVault/vaults/kv-{estate.environment}")
    assert estate.api_identity_id.endswith(f"/userAssignedIdentities/id-{estate.environment}-api")
    assert estate.workload_identities == {"web/api": estate.api_identity_id}
    assert emu.has_role(blue.identity_profile["kubeletidentity"].object_id, ACR_PULL, estate.registry_id)
    csi = blue.addon_profiles["azureKeyvaultSecretsProvider"].identity
    assert emu.has_role(csi.object_id, KEY_VAULT_SECRETS_USER, estate.vault_id)
    assert estate.blue_grants == (
        (ACR_PULL, estate.registry_id, "kubelet"),
        (KEY_VAULT_SECRETS_USER, estate.vault_id, "addon:azureKeyvaultSecretsProvider"),
    )
    api = estate.api_identity_id.split("/")
    [credential] = msi.federated_identity_credentials.list(api[4], api[-1])
    assert (credential.issuer, credential.subject) == (
        blue.oidc_issuer_profile.issuer_url,
        "system:serviceaccount:web:api",
    )
    account = next(o for o in emu.kubernetes_objects(estate.blue_name) if o["kind"] == "ServiceAccount")
    identity = msi.user_assigned_identities.get(api[4], api[-1])
    assert account["metadata"]["annotations"]["azure.workload.identity/client-id"] == identity.client_id
    assert unavailable(emu, estate.blue_name, estate) == set()
    assert emu.blocked_workloads(estate.blue_name) == []
    assert probe(emu, estate.hosts["blue"]) == 200
    assert authz.role_assignments.get(
        estate.registry_id, next(iter(authz.role_assignments.list_for_scope(estate.registry_id))).name
    )


def test_a_green_from_blues_definition_runs_once_granted_and_federated(
    emu: AzureEmulator, estate: Estate, clock: VirtualClock
) -> None:
    aks, authz, msi = clients(emu, clock, estate)
    rg = estate.resource_group
    green = aks.managed_clusters.begin_create_or_update(rg, estate.green_name, green_from_blue(emu, estate)).result()
    blue = aks.managed_clusters.get(rg, estate.blue_name)
    kubelet = green.identity_profile["kubeletidentity"]
    assert kubelet.object_id != blue.identity_profile["kubeletidentity"].object_id
    assert green.oidc_issuer_profile.issuer_url != blue.oidc_issuer_profile.issuer_url
    # The application reaches green as blue runs it (what Flux applies).
    applied = emu.apply_objects(
        estate.green_name, application_objects(emu.kubernetes_objects(estate.blue_name), estate)
    )
    assert applied["exitCode"] == 0, applied
    clock.sleep(120)
    assert unavailable(emu, estate.green_name, estate) == {"frontend", "api"}  # ACR images; api's token too
    reasons = {b["name"]: " ".join(b["reasons"]) for b in emu.blocked_workloads(estate.green_name)}
    assert "401 Unauthorized" in reasons["frontend"] and "AADSTS70021" in reasons["api"]
    assert probe(emu, estate.hosts["green"]) == 503
    # What a run must do for green, from the estate's fields:
    # 1. AcrPull on the registry for green's kubelet identity,
    grant(authz, estate.registry_id, ACR_PULL, kubelet.object_id, "ServicePrincipal")
    assert unavailable(emu, estate.green_name, estate) == {"api"}
    # 2. a federated credential on the api's identity for green's issuer and the same subject,
    api = estate.api_identity_id.split("/")
    msi.federated_identity_credentials.create_or_update(
        api[4],
        api[-1],
        f"{estate.green_name}-web-api",
        {
            "issuer": green.oidc_issuer_profile.issuer_url,
            "subject": "system:serviceaccount:web:api",
            "audiences": [AUDIENCE],
        },
    )
    assert unavailable(emu, estate.green_name, estate) == set()
    assert probe(emu, estate.hosts["green"]) == 200
    # 3. and, for parity, Key Vault Secrets User on the vault for green's Key Vault CSI add-on identity.
    csi = green.addon_profiles["azureKeyvaultSecretsProvider"].identity
    assert not emu.has_role(csi.object_id, KEY_VAULT_SECRETS_USER, estate.vault_id)
    grant(authz, estate.vault_id, KEY_VAULT_SECRETS_USER, csi.object_id, "ServicePrincipal")
    assert emu.has_role(csi.object_id, KEY_VAULT_SECRETS_USER, estate.vault_id)
    # Blue is untouched throughout.
    assert unavailable(emu, estate.blue_name, estate) == set()
