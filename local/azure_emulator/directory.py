"""The directory the emulated Azure keeps: principals, user-assigned identities and their federated credentials,
role definitions and role assignments, and the resources grants are about (container registries, key vaults).

Every record carries when it took effect and (once removed) until when, so access at a past moment is what it was
then: metrics and probes of the past never change. Effective access is one question: does principal P hold an
operation (or a role, by its GUID) at scope S or an ancestor of S, at moment M. Nothing grants by itself: a new
identity holds no role anywhere ("Kubelet ... Default permissions: N/A", AKSDOCS managed-identity-overview.md,
"Summary of managed identities used by AKS"), and the emulator adds no assignment Azure would not add.

What is deliberately stricter than Azure: an assignment with an ABAC `condition` grants nothing here (conditions
are not evaluated), and a deleted assignment or identity stops granting at once (ARM's cache may keep it a while).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from local.azure_emulator import rbac_roles

# The emulated tenant: the one the bundled estate's aadProfile.tenantID and Key Vault's challenge name.
TENANT = "72f988bf-0000-4000-8000-000000000002"
IDENTITY_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities"
FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
ASSIGNMENT_TYPE = "Microsoft.Authorization/roleAssignments"
REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"
VAULT_TYPE = "Microsoft.KeyVault/vaults"
EPOCH = datetime.min.replace(tzinfo=UTC)


def norm_scope(scope: str) -> str:
    text = "/" + scope.strip().strip("/")
    return text.lower()


def covers(assigned: str, target: str) -> bool:
    """An assignment at `assigned` applies at `target`: the same scope, or an ancestor of it (RBAC inheritance:
    "If you assign a role at a parent scope, those permissions are inherited to the child scopes",
    learn.microsoft.com/azure/role-based-access-control/scope-overview)."""
    a, t = norm_scope(assigned), norm_scope(target)
    return a == "/" or t == a or t.startswith(a + "/")


def role_guid(role_definition_id: str) -> str:
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def _live(since: datetime, until: datetime | None, moment: datetime) -> bool:
    return since <= moment and (until is None or moment < until)


@dataclass
class Principal:
    object_id: str
    kind: str  # ServicePrincipal | User | Group | ForeignGroup | Device
    since: datetime
    until: datetime | None = None
    app_id: str | None = None
    name: str = ""

    def alive(self, moment: datetime) -> bool:
        return _live(self.since, self.until, moment)


@dataclass
class Identity:
    """A user-assigned identity (an ARM resource); AKS-managed ones name their cluster in `managed_by`."""

    body: dict[str, Any]
    since: datetime
    managed_by: str | None = None

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def principal_id(self) -> str:
        return str(self.body["properties"]["principalId"])

    @property
    def client_id(self) -> str:
        return str(self.body["properties"]["clientId"])


@dataclass
class Federation:
    identity_key: str
    body: dict[str, Any]
    since: datetime
    until: datetime | None = None

    @property
    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body["properties"]
        return props


@dataclass
class Grant:
    body: dict[str, Any]
    since: datetime
    until: datetime | None = None

    @property
    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body["properties"]
        return props

    @property
    def principal_id(self) -> str:
        return str(self.props["principalId"]).lower()

    @property
    def role(self) -> str:
        return role_guid(str(self.props["roleDefinitionId"]))

    @property
    def scope(self) -> str:
        return str(self.props["scope"])


@dataclass
class Directory:
    principals: dict[str, Principal] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)
    federations: list[Federation] = field(default_factory=list)
    grants: dict[str, Grant] = field(default_factory=dict)
    removed_grants: list[Grant] = field(default_factory=list)
    custom_roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seeded resources grants are about: container registries and key vaults (ARM bodies), by lowercased id.
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Federated credential writes in flight, per identity (concurrency detection; managed_identity).
    fic_writes: dict[str, int] = field(default_factory=dict)
    _generations: dict[str, int] = field(default_factory=dict)

    # -- ids -------------------------------------------------------------------------------------------------

    def mint(self, resource_id: str, purpose: str) -> str:
        """A GUID for `purpose` of the resource, new each time the resource is created again: deterministic for
        the same sequence of writes, yet a re-created identity (or cluster) never gets its predecessor's ids."""
        key = f"{resource_id.lower()}#{purpose}"
        self._generations[key] = self._generations.get(key, 0) + 1
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{key}#{self._generations[key]}"))

    # -- principals ------------------------------------------------------------------------------------------

    def add_principal(
        self, object_id: str, kind: str, since: datetime, app_id: str | None = None, name: str = ""
    ) -> Principal:
        principal = Principal(object_id.lower(), kind, since, None, app_id.lower() if app_id else None, name)
        self.principals[principal.object_id] = principal
        return principal

    def remove_principal(self, object_id: str, at: datetime) -> None:
        principal = self.principals.get(object_id.lower())
        if principal is not None and principal.until is None:
            principal.until = at

    def principal(self, object_id: str, moment: datetime | None = None) -> Principal | None:
        found = self.principals.get(str(object_id).lower())
        if found is None:
            return None
        alive = found.until is None if moment is None else found.alive(moment)
        return found if alive else None

    def principal_by_app_id(self, app_id: str) -> Principal | None:
        return next(
            (p for p in self.principals.values() if p.app_id == app_id.lower() and p.until is None),
            None,
        )

    # -- user-assigned identities ----------------------------------------------------------------------------

    def create_identity(
        self,
        resource_id: str,
        location: str,
        since: datetime,
        *,
        tags: dict[str, str] | None = None,
        managed_by: str | None = None,
        client_id: str | None = None,
        principal_id: str | None = None,
    ) -> Identity:
        name = resource_id.rstrip("/").rsplit("/", 1)[-1]
        body: dict[str, Any] = {
            "id": resource_id,
            "name": name,
            "type": IDENTITY_TYPE,
            "location": location,
            "tags": dict(tags or {}),
            "properties": {
                "tenantId": TENANT,
                "principalId": (principal_id or self.mint(resource_id, "principal")).lower(),
                "clientId": (client_id or self.mint(resource_id, "client")).lower(),
            },
        }
        identity = Identity(body, since, managed_by.lower() if managed_by else None)
        self.identities[resource_id.lower()] = identity
        self.add_principal(identity.principal_id, "ServicePrincipal", since, identity.client_id, name)
        return identity

    def identity(self, resource_id: str) -> Identity | None:
        return self.identities.get(resource_id.rstrip("/").lower())

    def identity_by_client_id(self, client_id: str) -> Identity | None:
        return next((i for i in self.identities.values() if i.client_id == client_id.lower()), None)

    def delete_identity(self, resource_id: str, at: datetime) -> Identity | None:
        """Deleting an identity deletes its federated credentials; its role assignments stay, pointing at a
        principal the directory no longer knows ("Identity not found" in the portal): they grant nothing."""
        identity = self.identities.pop(resource_id.rstrip("/").lower(), None)
        if identity is None:
            return None
        self.remove_principal(identity.principal_id, at)
        for fic in self.federations:
            if fic.identity_key == resource_id.lower() and fic.until is None:
                fic.until = at
        return identity

    def managed_by(self, cluster_id: str) -> list[Identity]:
        return [i for i in self.identities.values() if i.managed_by == cluster_id.lower()]

    # -- federated identity credentials ----------------------------------------------------------------------

    def federations_of(self, identity_id: str) -> list[Federation]:
        key = identity_id.rstrip("/").lower()
        return sorted(
            (f for f in self.federations if f.identity_key == key and f.until is None),
            key=lambda f: str(f.body["name"]).lower(),
        )

    def federation(self, identity_id: str, name: str) -> Federation | None:
        return next((f for f in self.federations_of(identity_id) if str(f.body["name"]).lower() == name.lower()), None)

    def trusts(self, identity: Identity, issuer: str, subject: str, audience: str, moment: datetime) -> bool:
        """Entra exchanges a token with this issuer and subject for the identity: a credential matches both
        exactly ("the issuer and subject values ... are checked against the issuer and subject claims",
        ENTRA docs/workload-id/includes/federated-credential-configuration-considerations.md)."""
        return any(
            f.identity_key == identity.id.lower()
            and _live(f.since, f.until, moment)
            and f.props.get("issuer") == issuer
            and f.props.get("subject") == subject
            and audience in (f.props.get("audiences") or [])
            for f in self.federations
        )

    # -- role definitions ------------------------------------------------------------------------------------

    def role(self, guid: str) -> dict[str, Any] | None:
        """A role definition's properties: a built-in one, or a custom one."""
        guid = guid.lower()
        if rbac_roles.is_built_in(guid):
            return rbac_roles.built_in_body(guid)
        custom = self.custom_roles.get(guid)
        return custom["properties"] if custom else None

    # -- role assignments ------------------------------------------------------------------------------------

    def remove_grant(self, assignment_id: str, at: datetime) -> Grant | None:
        grant = self.grants.pop(assignment_id.lower(), None)
        if grant is not None:
            grant.until = at
            self.removed_grants.append(grant)
        return grant

    def _all_grants(self) -> Iterator[Grant]:
        yield from self.grants.values()
        yield from self.removed_grants

    def permits(self, principal_id: str, operation: str, scope: str, moment: datetime, data: bool = False) -> bool:
        """Effective access: an assignment to this principal, in force at `moment`, at `scope` or an ancestor,
        whose role allows the operation."""
        if self.principal(principal_id, moment) is None:
            return False
        for grant in self._all_grants():
            if grant.principal_id != principal_id.lower() or not _live(grant.since, grant.until, moment):
                continue
            if grant.props.get("condition") or not covers(grant.scope, scope):
                continue  # conditions are not evaluated: a conditional assignment grants nothing here
            role = self.role(grant.role)
            if role is not None and rbac_roles.permits(role, operation, data):
                return True
        return False

    def holds(self, principal_id: str, role: str, scope: str, moment: datetime) -> bool:
        """Does the principal hold this role (by its GUID) at `scope` or an ancestor of it, at `moment`?"""
        if self.principal(principal_id, moment) is None:
            return False
        return any(
            g.principal_id == principal_id.lower()
            and g.role == role_guid(role)
            and _live(g.since, g.until, moment)
            and covers(g.scope, scope)
            for g in self._all_grants()
        )

    # -- resources -------------------------------------------------------------------------------------------

    def registry_for(self, login_server: str) -> dict[str, Any] | None:
        host = login_server.lower()
        for body in self.resources.values():
            if str(body.get("type", "")).lower() != REGISTRY_TYPE.lower():
                continue
            props = body.get("properties") or {}
            server = str(props.get("loginServer") or f"{body.get('name', '')}.azurecr.io").lower()
            if server == host:
                return body
        return None

    def vault_named(self, name: str) -> dict[str, Any] | None:
        return next(
            (
                b
                for b in self.resources.values()
                if str(b.get("type", "")).lower() == VAULT_TYPE.lower() and str(b.get("name", "")).lower() == name
            ),
            None,
        )

    # -- time ------------------------------------------------------------------------------------------------

    def change_points(self) -> set[datetime]:
        """Every moment at which some record took or lost effect."""
        points: set[datetime] = set()
        records: list[Any] = [*self.principals.values(), *self.federations, *self._all_grants()]
        for record in records:
            points.add(record.since)
            if record.until is not None:
                points.add(record.until)
        return points

    def bodies(self) -> list[dict[str, Any]]:
        """Every resource here as ARM GET returns it (the emulator's resources dump)."""
        found = [i.body for i in self.identities.values()]
        found += [f.body for f in self.federations if f.until is None]
        found += [g.body for g in self.grants.values()]
        found += list(self.custom_roles.values())
        found += list(self.resources.values())
        return [copy.deepcopy(b) for b in found]
