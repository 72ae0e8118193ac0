"""Microsoft.Authorization through the real AuthorizationManagementClient: role assignments at every scope, ARM's
refusals, built-in and custom role definitions, and effective access."""

from __future__ import annotations

from dataclasses import replace

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.containerservice import ContainerServiceClient

from local.azure_emulator import AzureEmulator, Timings
from local.clock import VirtualClock
from tests.emulator.conftest import PROFILE_ID, RG, SUB, create_body, fixture
from tests.emulator.identity_helpers import (
    ACR_PULL,
    AKS_CLUSTER_USER,
    CONTRIBUTOR,
    KEY_VAULT_SECRETS_USER,
    RBAC_ADMINISTRATOR,
    READER,
    REGISTRY_ID,
    RG_SCOPE,
    SUB_SCOPE,
    USER,
    authz_client,
    error_code,
    error_message,
    grant,
    registry_seed,
    role_id,
    user_seed,
)

NAME = "0f3b9a52-6c1d-4e2f-9a8b-7c6d5e4f3a21"
OTHER = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"


@pytest.fixture
def authz(emu: AzureEmulator, clock: VirtualClock) -> AuthorizationManagementClient:
    emu.seed([user_seed(), registry_seed()])
    return authz_client(emu, clock)


def test_assignment_at_a_resource_is_created_read_listed_and_deleted(authz: AuthorizationManagementClient) -> None:
    created = authz.role_assignments.create(
        REGISTRY_ID, NAME, {"role_definition_id": role_id(ACR_PULL), "principal_id": USER, "description": "pull"}
    )
    assert created.id == f"{REGISTRY_ID}/providers/Microsoft.Authorization/roleAssignments/{NAME}"
    assert (created.scope, created.principal_type, created.description) == (REGISTRY_ID, "User", "pull")
    # Built-in roles come back tenant-scoped whatever id was sent: compare them by GUID.
    assert created.role_definition_id == f"/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
    assert created.created_on is not None and created.type == "Microsoft.Authorization/roleAssignments"
    assert authz.role_assignments.get(REGISTRY_ID, NAME).principal_id == USER
    assert [a.name for a in authz.role_assignments.list_for_scope(REGISTRY_ID)] == [NAME]
    assert authz.role_assignments.delete(REGISTRY_ID, NAME).name == NAME
    assert authz.role_assignments.delete(REGISTRY_ID, NAME) is None  # 204: nothing left to delete
    with pytest.raises(HttpResponseError) as exc:
        authz.role_assignments.get(REGISTRY_ID, NAME)
    assert exc.value.status_code == 404


def test_lists_and_filters_see_scopes_above_and_below(
    authz: AuthorizationManagementClient, aks: ContainerServiceClient
) -> None:
    cluster = aks.managed_clusters.begin_create_or_update(RG, "aks-nod-prod-blue", create_body()).result()
    at_sub = grant(authz, SUB_SCOPE, READER, USER)
    at_rg = grant(authz, RG_SCOPE, CONTRIBUTOR, USER)
    at_cluster = grant(authz, cluster.id, AKS_CLUSTER_USER, USER)  # an extension scope under the cluster
    assert at_cluster.scope == cluster.id
    kubelet = cluster.identity_profile["kubeletidentity"].object_id
    on_registry = grant(authz, REGISTRY_ID, ACR_PULL, kubelet, "ServicePrincipal")

    def names(listing: object) -> set[str]:
        return {a.name for a in listing}  # type: ignore[attr-defined]

    everything = names(authz.role_assignments.list_for_subscription())
    assert everything == {at_sub.name, at_rg.name, at_cluster.name, on_registry.name}
    assert names(authz.role_assignments.list_for_scope(RG_SCOPE, filter="atScope()")) == {at_sub.name, at_rg.name}
    assert names(authz.role_assignments.list_for_scope(cluster.id, filter="atScope()")) == {
        at_sub.name,
        at_rg.name,
        at_cluster.name,
    }
    assert names(authz.role_assignments.list_for_subscription(filter=f"principalId eq '{kubelet}'")) == {
        on_registry.name
    }
    assert names(authz.role_assignments.list_for_scope(RG_SCOPE, filter=f"principalId eq '{USER}'")) == {
        at_sub.name,
        at_rg.name,
        at_cluster.name,
    }
    with pytest.raises(HttpResponseError) as exc:
        list(authz.role_assignments.list_for_scope(RG_SCOPE, filter="roleDefinitionId eq 'x'"))
    assert exc.value.status_code == 400


def test_the_same_principal_role_and_scope_under_another_name_is_role_assignment_exists(
    authz: AuthorizationManagementClient,
) -> None:
    params = {"role_definition_id": role_id(ACR_PULL), "principal_id": USER}
    authz.role_assignments.create(REGISTRY_ID, NAME, params)
    assert authz.role_assignments.create(REGISTRY_ID, NAME, params).name == NAME  # the same name again: an update
    with pytest.raises(HttpResponseError) as exc:
        authz.role_assignments.create(REGISTRY_ID, OTHER, params)
    assert (exc.value.status_code, error_code(exc)) == (409, "RoleAssignmentExists")
    assert NAME.replace("-", "") in error_message(exc)  # the existing one's name, as 32 hex digits


def test_a_principal_the_directory_does_not_know_is_principal_not_found(
    authz: AuthorizationManagementClient,
) -> None:
    unknown = "12345678-0000-4000-8000-000000000000"
    for principal_type in (None, "ServicePrincipal"):
        params = {"role_definition_id": role_id(ACR_PULL), "principal_id": unknown}
        if principal_type:
            params["principal_type"] = principal_type
        with pytest.raises(HttpResponseError) as exc:
            authz.role_assignments.create(REGISTRY_ID, NAME, params)
        assert (exc.value.status_code, error_code(exc)) == (400, "PrincipalNotFound")
        assert "does not exist in the directory" in error_message(exc)


def test_a_principal_type_that_is_not_the_principals_is_refused(authz: AuthorizationManagementClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        grant(authz, REGISTRY_ID, ACR_PULL, USER, "ServicePrincipal")
    assert error_code(exc) == "UnmatchedPrincipalType"
    assert "has type 'User'" in error_message(exc)


def test_only_condition_and_description_of_an_assignment_can_change(authz: AuthorizationManagementClient) -> None:
    authz.role_assignments.create(REGISTRY_ID, NAME, {"role_definition_id": role_id(ACR_PULL), "principal_id": USER})
    condition = "@Resource[Microsoft.ContainerRegistry/registries/repositories:name] StringEquals 'web'"
    changed = authz.role_assignments.create(
        REGISTRY_ID,
        NAME,
        {"role_definition_id": role_id(ACR_PULL), "principal_id": USER, "condition": condition, "description": "x"},
    )
    assert (changed.condition, changed.condition_version, changed.description) == (condition, "2.0", "x")
    with pytest.raises(HttpResponseError) as exc:
        authz.role_assignments.create(REGISTRY_ID, NAME, {"role_definition_id": role_id(READER), "principal_id": USER})
    assert error_code(exc) == "RoleAssignmentUpdateNotPermitted"
    with pytest.raises(HttpResponseError) as exc:
        authz.role_assignments.create(
            REGISTRY_ID,
            OTHER,
            {"role_definition_id": role_id(READER), "principal_id": USER, "condition": "x", "condition_version": "1.0"},
        )
    assert exc.value.status_code == 400


@pytest.mark.parametrize(
    ("scope", "name", "role", "code", "status"),
    [
        (REGISTRY_ID, NAME, "00000000-0000-0000-0000-000000000001", "RoleDefinitionDoesNotExist", 400),
        (REGISTRY_ID, "not-a-guid", ACR_PULL, "InvalidRoleAssignmentId", 400),
        (REGISTRY_ID.replace("nodacr", "missing"), NAME, ACR_PULL, "ResourceNotFound", 404),
    ],
    ids=["unknown-role", "name-not-a-guid", "scope-does-not-exist"],
)
def test_arm_refuses_bad_assignments(
    authz: AuthorizationManagementClient, scope: str, name: str, role: str, code: str, status: int
) -> None:
    with pytest.raises(HttpResponseError) as exc:
        authz.role_assignments.create(scope, name, {"role_definition_id": role_id(role), "principal_id": USER})
    assert (exc.value.status_code, error_code(exc)) == (status, code)


@pytest.mark.parametrize(
    ("guid", "name", "action", "data_action"),
    [
        (ACR_PULL, "AcrPull", "Microsoft.ContainerRegistry/registries/pull/read", None),
        (KEY_VAULT_SECRETS_USER, "Key Vault Secrets User", None, "Microsoft.KeyVault/vaults/secrets/getSecret/action"),
        (
            RBAC_ADMINISTRATOR,
            "Role Based Access Control Administrator",
            "Microsoft.Authorization/roleAssignments/write",
            None,
        ),
        (READER, "Reader", "*/read", None),
        (CONTRIBUTOR, "Contributor", "*", None),
        (
            AKS_CLUSTER_USER,
            "Azure Kubernetes Service Cluster User Role",
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            None,
        ),
    ],
)
def test_built_in_roles_have_their_documented_ids_and_permissions(
    authz: AuthorizationManagementClient, guid: str, name: str, action: str | None, data_action: str | None
) -> None:
    role = authz.role_definitions.get(SUB_SCOPE, guid)
    assert (role.name, role.role_name, role.role_type, role.assignable_scopes) == (guid, name, "BuiltInRole", ["/"])
    assert role.id == f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    permissions = role.permissions[0]
    if action:
        assert action in permissions.actions
    if data_action:
        assert data_action in permissions.data_actions
    listed = list(authz.role_definitions.list(SUB_SCOPE, filter=f"roleName eq '{name}'"))
    assert [r.name for r in listed] == [guid]


def test_contributor_cannot_write_role_assignments(authz: AuthorizationManagementClient) -> None:
    contributor = authz.role_definitions.get(SUB_SCOPE, CONTRIBUTOR)
    assert "Microsoft.Authorization/*/Write" in contributor.permissions[0].not_actions


def test_a_custom_role_is_assignable_and_kept_while_assigned(
    authz: AuthorizationManagementClient, emu: AzureEmulator
) -> None:
    guid = "88888888-8888-8888-8888-888888888888"
    body = {
        "role_name": "Registry Puller",
        "description": "Pull images.",
        "role_type": "CustomRole",
        "permissions": [{"actions": ["Microsoft.ContainerRegistry/registries/*/read"], "not_actions": []}],
        "assignable_scopes": [SUB_SCOPE],
    }
    created = authz.role_definitions.create_or_update(SUB_SCOPE, guid, body)
    assert (created.role_name, created.role_type, created.id) == (
        "Registry Puller",
        "CustomRole",
        f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
    )
    assignment = grant(authz, REGISTRY_ID, guid, USER)
    assert emu.has_role(USER, guid, REGISTRY_ID)
    with pytest.raises(HttpResponseError) as exc:
        authz.role_definitions.delete(SUB_SCOPE, guid)
    assert (exc.value.status_code, error_code(exc)) == (409, "RoleDefinitionHasAssignments")
    with pytest.raises(HttpResponseError) as exc:
        authz.role_definitions.create_or_update(SUB_SCOPE, "99999999-9999-9999-9999-999999999999", body)
    assert error_code(exc) == "RoleDefinitionWithSameNameExists"
    authz.role_assignments.delete(REGISTRY_ID, assignment.name)
    assert authz.role_definitions.delete(SUB_SCOPE, guid).name == guid
    with pytest.raises(HttpResponseError) as exc:
        authz.role_definitions.get(SUB_SCOPE, guid)
    assert (exc.value.status_code, error_code(exc)) == (404, "RoleDefinitionDoesNotExist")


def test_effective_access_is_held_at_the_scope_and_below_it(
    authz: AuthorizationManagementClient, emu: AzureEmulator
) -> None:
    grant(authz, RG_SCOPE, ACR_PULL, USER)
    assert emu.has_role(USER, ACR_PULL, REGISTRY_ID)  # inherited by a resource in the group
    assert emu.has_role(USER, role_id(ACR_PULL), RG_SCOPE)  # a role definition id names its GUID
    assert not emu.has_role(USER, ACR_PULL, SUB_SCOPE)  # never upwards
    assert not emu.has_role(USER, ACR_PULL, f"{SUB_SCOPE}/resourceGroups/{RG}-other")
    assert not emu.has_role(USER, READER, REGISTRY_ID)


def test_an_assignment_takes_effect_after_arms_propagation_delay(clock: VirtualClock) -> None:
    emu = AzureEmulator(clock=clock, timings=replace(Timings.realistic(), rbac_propagation=600)).start()
    try:
        emu.seed(user_seed())
        grant(authz_client(emu, clock), RG_SCOPE, READER, USER)
        assert not emu.has_role(USER, READER, RG_SCOPE)
        clock.sleep(601)
        assert emu.has_role(USER, READER, RG_SCOPE)
    finally:
        emu.stop()


def test_seeded_assignments_and_principals(emu: AzureEmulator, clock: VirtualClock) -> None:
    seeded = {
        "id": f"{REGISTRY_ID}/providers/Microsoft.Authorization/roleAssignments/{NAME}",
        "properties": {"roleDefinitionId": role_id(ACR_PULL), "principalId": USER, "principalType": "User"},
    }
    emu.seed([seeded, user_seed(), registry_seed()])  # any order: principals and scopes load first
    assert emu.has_role(USER, ACR_PULL, REGISTRY_ID)
    assert authz_client(emu, clock).role_assignments.get(REGISTRY_ID, NAME).principal_type == "User"
    with pytest.raises(ValueError, match="PrincipalNotFound"):
        emu.seed(
            {
                **seeded,
                "id": seeded["id"].replace(NAME, OTHER),
                "properties": {**seeded["properties"], "principalId": SUB},
            }
        )


def test_an_assignment_can_be_seeded_on_a_front_door_profile(emu: AzureEmulator) -> None:
    assignment = {
        "id": f"{PROFILE_ID}/providers/Microsoft.Authorization/roleAssignments/{NAME}",
        "properties": {"roleDefinitionId": role_id(CONTRIBUTOR), "principalId": USER},
    }
    emu.seed([assignment, user_seed(), fixture("afd-origin-group.json")])  # the profile comes with its group
    assert emu.has_role(USER, CONTRIBUTOR, f"{PROFILE_ID}/originGroups/og-nod-web")
