"""Clients and seed items for identities and access: Microsoft.Authorization and Microsoft.ManagedIdentity through the
real SDK clients, a container registry and a key vault to grant on."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, SUB, StaticToken, client_kwargs

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
AUDIENCE = "api://AzureADTokenExchange"

SUB_SCOPE = f"/subscriptions/{SUB}"
RG_SCOPE = f"{SUB_SCOPE}/resourceGroups/{RG}"
REGISTRY = "nodacr"
REGISTRY_ID = f"{RG_SCOPE}/providers/Microsoft.ContainerRegistry/registries/{REGISTRY}"
VAULT_ID = f"{RG_SCOPE}/providers/Microsoft.KeyVault/vaults/kv-nod-prod"
USER = "c0ffee00-0000-4000-8000-0000000000aa"


def authz_client(emu: AzureEmulator, clock: VirtualClock) -> AuthorizationManagementClient:
    return AuthorizationManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


def msi_client(emu: AzureEmulator, clock: VirtualClock) -> ManagedServiceIdentityClient:
    return ManagedServiceIdentityClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


def role_id(guid: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def grant(
    authz: AuthorizationManagementClient, scope: str, role: str, principal: str, principal_type: str | None = None
) -> Any:
    """A role assignment named from (scope, principal, role), as an idempotent caller names it."""
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal}|{role}"))
    params: dict[str, Any] = {"role_definition_id": role_id(role), "principal_id": principal}
    if principal_type:
        params["principal_type"] = principal_type
    return authz.role_assignments.create(scope, name, params)


def registry_seed(anonymous: bool = False, mode: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"loginServer": f"{REGISTRY}.azurecr.io", "anonymousPullEnabled": anonymous}
    if mode:
        props["roleAssignmentMode"] = mode
    return {
        "id": REGISTRY_ID,
        "type": "Microsoft.ContainerRegistry/registries",
        "location": "eastus2",
        "sku": {"name": "Standard"},
        "properties": props,
    }


def vault_seed() -> dict[str, Any]:
    return {"id": VAULT_ID, "type": "Microsoft.KeyVault/vaults", "location": "eastus2", "properties": {}}


def user_seed(object_id: str = USER, kind: str = "User") -> dict[str, Any]:
    return {"type": "emulator/principal", "id": object_id, "principalType": kind, "displayName": "platform team"}


def error_code(exc: pytest.ExceptionInfo[HttpResponseError]) -> str:
    return str(exc.value.error.code) if exc.value.error else ""


def error_message(exc: pytest.ExceptionInfo[HttpResponseError]) -> str:
    return str(exc.value.error.message) if exc.value.error else ""
