"""Seed items for identities and access: what exists, and has been granted, before the emulator starts.

- {"type": "emulator/principal", "id": "<object id>", "principalType": "User" | "Group" | "ServicePrincipal",
   "displayName": ..., "appId": ...}: a principal of the directory that no emulated resource owns (a user, a group,
  an application's service principal; `appId` is a service principal's client id). Not an ARM resource.
- Microsoft.ManagedIdentity/userAssignedIdentities (with the `clientId` / `principalId` to keep, or generated) and
  their federatedIdentityCredentials (Entra's rules apply: managed_identity.check_federation).
- Microsoft.ContainerRegistry/registries and Microsoft.KeyVault/vaults (grant_targets).
- Microsoft.Authorization/roleDefinitions (custom roles) and roleAssignments at any scope (authorization's rules
  apply: the principal must be known, the role must exist).
Seeded records have been in force all along. A managed cluster's own identities come with the cluster (aks_identity).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from local.azure_emulator import authorization, grant_targets, managed_identity, workload_access
from local.azure_emulator.directory import EPOCH, Directory, Federation, Grant
from local.azure_emulator.errors import ArmError

if TYPE_CHECKING:
    from local.azure_emulator.world import World

PRINCIPAL_TYPE = "emulator/principal"
_ANY = r"^(?P<scope>.*?)/providers/microsoft\.authorization/"
_UAMI = (
    r"^(?P<parent>/subscriptions/[^/]+/resourcegroups/[^/]+/providers/"
    r"microsoft\.managedidentity/userassignedidentities/[^/]+)"
)
KINDS = [
    ("role_assignment", re.compile(_ANY + r"roleassignments/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("role_definition", re.compile(_ANY + r"roledefinitions/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("federated_credential", re.compile(_UAMI + r"/federatedidentitycredentials/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("identity", re.compile(_UAMI + "$", re.IGNORECASE)),
    (
        "registry",
        re.compile(
            r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.containerregistry/registries/[^/]+$",
            re.IGNORECASE,
        ),
    ),
    (
        "vault",
        re.compile(
            r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+$", re.IGNORECASE
        ),
    ),
]
# Load order: principals and the resources grants name, then identities and their credentials, then roles and
# the assignments that use them.
ORDER = ["principal", "registry", "vault", "identity", "federated_credential", "role_definition", "role_assignment"]


class IdentitySeedError(ValueError):
    """A seed item of this module the emulator cannot load (seed.py reports it as a SeedError)."""


def classify(body: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    if str(body.get("type", "")).lower() == PRINCIPAL_TYPE:
        if not isinstance(body.get("id") or body.get("objectId"), str):
            raise IdentitySeedError(f"an {PRINCIPAL_TYPE} item needs an 'id' (its object id)")
        return "principal", {}
    resource_id = body.get("id")
    if not isinstance(resource_id, str):
        return None
    for kind, pattern in KINDS:
        match = pattern.match(resource_id)
        if match:
            return kind, match.groupdict()
    return None


def _field(body: dict[str, Any], name: str) -> Any:
    return body.get(name, (body.get("properties") or {}).get(name))


def load(world: World, kind: str, body: dict[str, Any], parts: dict[str, str]) -> None:
    directory: Directory = world.directory
    try:
        globals()[f"_{kind}"](world, directory, body, parts)
    except ArmError as exc:
        raise IdentitySeedError(f"{body.get('id')}: {exc.code}: {exc.message}") from exc
    workload_access.notify(world, world.now())


def _principal(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    kind = str(_field(body, "principalType") or "User")
    name = str(_field(body, "displayName") or "")
    app_id = _field(body, "appId")
    directory.add_principal(str(body.get("id") or body.get("objectId")), kind, EPOCH, app_id, name)


def _registry(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    body.setdefault("name", body["id"].rstrip("/").rsplit("/", 1)[-1])
    grant_targets.registry_body(body)
    directory.resources[body["id"].lower()] = body


def _vault(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    body.setdefault("name", body["id"].rstrip("/").rsplit("/", 1)[-1])
    grant_targets.vault_body(body)
    directory.resources[body["id"].lower()] = body


def _identity(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    if not body.get("location"):
        raise IdentitySeedError(f"{body['id']}: a user-assigned identity needs a location")
    props = body.get("properties") or {}
    existing = directory.identity(body["id"])
    if existing is not None:  # already there with its cluster (an AKS-made identity in a resources dump)
        existing.body["tags"] = dict(body.get("tags") or existing.body.get("tags") or {})
        return
    directory.create_identity(
        body["id"],
        str(body["location"]),
        EPOCH,
        tags=body.get("tags") or {},
        client_id=props.get("clientId"),
        principal_id=props.get("principalId"),
    )


def _federated_credential(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    parent = directory.identity(parts["parent"])
    if parent is None:
        raise IdentitySeedError(f"{body['id']}: seed its user-assigned identity too (none with that id)")
    clean = managed_identity.check_federation(
        parts["name"], body.get("properties"), directory.federations_of(parent.id)
    )
    stored = {
        "id": f"{parent.id}/federatedIdentityCredentials/{parts['name']}",
        "name": parts["name"],
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": clean,
    }
    directory.federations.append(Federation(parent.id.lower(), stored, EPOCH))


def _role_definition(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    authorization.custom_role(directory, parts["scope"] or "/", parts["name"], body, world.now())


def _role_assignment(world: World, directory: Directory, body: dict[str, Any], parts: dict[str, str]) -> None:
    stored, existing = authorization.admit_assignment(
        world, parts["scope"] or "/", parts["name"], body.get("properties"), world.now()
    )
    if existing is not None:
        existing.body = stored
        return
    directory.grants[stored["id"].lower()] = Grant(stored, EPOCH)
