"""Azure RBAC role definitions: the built-in roles the app needs, and how a role's actions match an operation.

Built-in roles, ids and permissions verbatim from Microsoft's generated reference (MicrosoftDocs/azure-docs
articles/role-based-access-control/built-in-roles/): privileged.md (Owner, Contributor, Role Based Access Control
Administrator, User Access Administrator), general.md (Reader), containers.md (AcrPull, AcrPush, Azure Kubernetes
Service Cluster User Role / Cluster Admin Role), security.md (Key Vault Secrets User), identity.md (Managed Identity
Operator). Every built-in role is assignable at any scope ("assignableScopes": ["/"]).

Matching (learn.microsoft.com/azure/role-based-access-control/role-definitions, "Actions" / "NotActions"): an
operation is allowed by a permission block when one of its `actions` matches and none of its `notActions` does
(data operations likewise with `dataActions` / `notDataActions`); "The wildcard (*) character extends a permission
to everything that matches the action string you provide", case-insensitively. `/*/` also matches a single `/`:
Managed Identity Operator's `userAssignedIdentities/*/assign/action` is what grants
`Microsoft.ManagedIdentity/userAssignedIdentities/assign/action` (the role AKS documents for assigning a kubelet
identity).
"""

from __future__ import annotations

import functools
import re
from typing import Any

ROLE_DEFINITION_TYPE = "Microsoft.Authorization/roleDefinitions"

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMINISTRATOR = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH = "8311e382-0749-4cb8-b61a-304f252e45ec"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
AKS_CLUSTER_USER = "4abbcc35-e782-43d8-92c5-2d3f1bd2253f"
AKS_CLUSTER_ADMIN = "0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8"
MANAGED_IDENTITY_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"

_CONTRIBUTOR_NOT = [
    "Microsoft.Authorization/*/Delete",
    "Microsoft.Authorization/*/Write",
    "Microsoft.Authorization/elevateAccess/Action",
    "Microsoft.Blueprint/blueprintAssignments/write",
    "Microsoft.Blueprint/blueprintAssignments/delete",
    "Microsoft.Compute/galleries/share/action",
    "Microsoft.Purview/consents/write",
    "Microsoft.Purview/consents/delete",
    "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
    "Microsoft.Subscription/cancel/action",
    "Microsoft.Subscription/enable/action",
]

# guid -> (roleName, description, actions, notActions, dataActions)
_BUILT_IN: dict[str, tuple[str, str, list[str], list[str], list[str]]] = {
    OWNER: (
        "Owner",
        "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
        ["*"],
        [],
        [],
    ),
    CONTRIBUTOR: (
        "Contributor",
        "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage "
        "assignments in Azure Blueprints, or share image galleries.",
        ["*"],
        _CONTRIBUTOR_NOT,
        [],
    ),
    READER: ("Reader", "View all resources, but does not allow you to make any changes.", ["*/read"], [], []),
    USER_ACCESS_ADMINISTRATOR: (
        "User Access Administrator",
        "Lets you manage user access to Azure resources.",
        ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"],
        [],
        [],
    ),
    RBAC_ADMINISTRATOR: (
        "Role Based Access Control Administrator",
        "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to "
        "manage access using other ways, such as Azure Policy.",
        [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Authorization/roleAssignments/delete",
            "*/read",
            "Microsoft.Support/*",
        ],
        [],
        [],
    ),
    ACR_PULL: ("AcrPull", "acr pull", ["Microsoft.ContainerRegistry/registries/pull/read"], [], []),
    ACR_PUSH: (
        "AcrPush",
        "acr push",
        ["Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/push/write"],
        [],
        [],
    ),
    KEY_VAULT_SECRETS_USER: (
        "Key Vault Secrets User",
        "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' "
        "permission model.",
        [],
        [],
        [
            "Microsoft.KeyVault/vaults/secrets/getSecret/action",
            "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
        ],
    ),
    AKS_CLUSTER_USER: (
        "Azure Kubernetes Service Cluster User Role",
        "List cluster user credential action.",
        [
            "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            "Microsoft.ContainerService/managedClusters/read",
        ],
        [],
        [],
    ),
    AKS_CLUSTER_ADMIN: (
        "Azure Kubernetes Service Cluster Admin Role",
        "List cluster admin credential action.",
        [
            "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
            "Microsoft.ContainerService/managedClusters/accessProfiles/listCredential/action",
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.ContainerService/managedClusters/runcommand/action",
        ],
        [],
        [],
    ),
    MANAGED_IDENTITY_OPERATOR: (
        "Managed Identity Operator",
        "Read and Assign User Assigned Identity",
        [
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        [],
        [],
    ),
}

# When the built-in definitions were published (a fixed stamp, so repeated GETs agree).
_PUBLISHED = "2018-02-01T00:00:00.0000000Z"


def is_built_in(guid: str) -> bool:
    return guid.lower() in _BUILT_IN


def built_in_ids() -> list[str]:
    return sorted(_BUILT_IN)


def built_in_body(guid: str) -> dict[str, Any]:
    """The role definition's properties as ARM returns them (id and name are added by the caller)."""
    name, description, actions, not_actions, data_actions = _BUILT_IN[guid.lower()]
    return {
        "roleName": name,
        "type": "BuiltInRole",
        "description": description,
        "assignableScopes": ["/"],
        "permissions": [
            {
                "actions": list(actions),
                "notActions": list(not_actions),
                "dataActions": list(data_actions),
                "notDataActions": [],
            }
        ],
        "createdOn": _PUBLISHED,
        "updatedOn": _PUBLISHED,
        "createdBy": None,
        "updatedBy": None,
    }


@functools.lru_cache(maxsize=512)
def _pattern(action: str) -> re.Pattern[str]:
    text = re.escape(action.strip())
    text = text.replace(r"/\*/", "/(?:.*/)?").replace(r"\*", ".*")
    return re.compile(f"^{text}$", re.IGNORECASE)


def matches(pattern: str, operation: str) -> bool:
    return bool(_pattern(pattern).match(operation))


def permits(properties: dict[str, Any], operation: str, data: bool = False) -> bool:
    """Does a role definition's `permissions` allow this operation (a control-plane action, or a data action)?"""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    for block in properties.get("permissions") or []:
        if any(matches(a, operation) for a in block.get(allow) or []) and not any(
            matches(n, operation) for n in block.get(deny) or []
        ):
            return True
    return False
