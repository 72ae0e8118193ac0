"""Microsoft.Authorization: role assignments at any scope, role definitions (built-in and custom).

Request and response bodies per SPEC authorization/…/Authorization/stable/2022-04-01/
authorization-RoleAssignmentsCalls.json: `roleDefinitionId` and `principalId` required; `principalType`
(User|Group|ServicePrincipal|ForeignGroup|Device), `description`, `condition` / `conditionVersion` ("Currently the
only accepted value is '2.0'") and `delegatedManagedIdentityResourceId` optional; `scope`, `createdOn`,
`updatedOn`, `createdBy`, `updatedBy` read-only; the name "can be any valid GUID". PUT answers 201 (create) or 200
(update), DELETE 200 with the assignment or 204 when there is none. The response shows a built-in role as
`/providers/Microsoft.Authorization/roleDefinitions/<guid>` whatever id the request used (SPEC
RoleAssignments_CreateForResourceGroup example): compare roles by their GUID.

ARM's refusals, with the codes and wordings ARM answers (as its users quote them; reference/azure-more.md (d)):
- the same principal, role and scope under another name: 409 RoleAssignmentExists "The role assignment already
  exists.";
- a principal the directory does not know: 400 PrincipalNotFound "Principal {id} does not exist in the directory
  {tenant}. ..." (the emulator's directory never lags: principalType does not help an unknown principal here);
- a principalType that is not the principal's: 400 UnmatchedPrincipalType "The PrincipalId '{id}' has type
  '{actual}' , which is different from specified PrincipalType '{given}'.";
- changing anything but condition, conditionVersion and description of an existing assignment: 400
  RoleAssignmentUpdateNotPermitted "Tenant ID, application ID, principal ID, and scope are not allowed to be
  updated." ("only condition, conditionVersion and description can change", DOCS
  role-based-access-control/conditions-role-assignments-rest.md);
- a role that does not exist: 400 RoleDefinitionDoesNotExist "The specified role definition with ID '{id}' does
  not exist." (404 for a GET of the definition);
- a name that is not a GUID: 400 InvalidRoleAssignmentId;
- a custom role still assigned cannot be deleted: 409 RoleDefinitionHasAssignments; a custom role name is unique:
  409 RoleDefinitionWithSameNameExists.

Lists: `$filter=atScope()` returns the assignments at or above the scope, `$filter=principalId eq '{id}'` those of
the principal at, above or below it (the spec's description of $filter), and no filter all at, above or below it.
Not modelled: who the caller is (any token may write), ABAC conditions (stored, never evaluated; a conditional
assignment grants nothing), a custom role's assignableScopes limiting where it can be assigned, deny assignments.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator import rbac_roles, workload_access
from local.azure_emulator.directory import (
    ASSIGNMENT_TYPE,
    REGISTRY_TYPE,
    TENANT,
    VAULT_TYPE,
    Directory,
    Grant,
    covers,
    norm_scope,
    role_guid,
)
from local.azure_emulator.errors import ArmError, bad_request
from local.azure_emulator.lro import iso
from local.azure_emulator.protocol import Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.Authorization"
ASSIGNMENTS = r"(?P<scope>.*?)/providers/Microsoft\.Authorization/roleAssignments"
DEFINITIONS = r"(?P<scope>.*?)/providers/Microsoft\.Authorization/roleDefinitions"
PRINCIPAL_TYPES = ("User", "Group", "ServicePrincipal", "ForeignGroup", "Device")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_PRINCIPAL_FILTER = re.compile(r"^principalId\s+eq\s+'?([0-9a-fA-F-]+)'?$", re.IGNORECASE)
_ASSIGNED_TO = re.compile(r"^assignedTo\('([0-9a-fA-F-]+)'\)$", re.IGNORECASE)
# Resource types whose existence the emulator knows: a scope of one of these types must exist (ARM answers
# ResourceNotFound for a resource that is not there). Subscriptions, resource groups and other types are not
# modelled, so an assignment there is accepted.
_KNOWN = {
    "microsoft.containerservice/managedclusters",
    "microsoft.managedidentity/userassignedidentities",
    REGISTRY_TYPE.lower(),
    VAULT_TYPE.lower(),
    "microsoft.cdn/profiles",
    "microsoft.network/frontdoors",
}


def is_guid(text: str) -> bool:
    return bool(_GUID.match(text))


def scope_type(scope: str) -> tuple[str, str, str] | None:
    """(type, name, resource group) of the innermost resource a scope names; None for a subscription or group."""
    parts = scope.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    if "providers" not in lowered:
        return None
    at = len(lowered) - 1 - lowered[::-1].index("providers")
    rest = parts[at + 1 :]
    if len(rest) < 3:
        return None
    rtype = "/".join([rest[0], *rest[1::2]])
    rg = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""
    return rtype, rest[-1], rg


def check_scope(world: World, scope: str) -> None:
    found = scope_type(scope)
    if found is None or found[0].lower() not in _KNOWN:
        return
    rtype, name, rg = found
    key = scope.rstrip("/").lower()
    directory: Directory = world.directory
    known = (
        key in world.clusters
        or key in directory.identities
        or key in directory.resources
        or key in world.afd
        or key in world.classic
    )
    if not known:
        raise ArmError(
            404, "ResourceNotFound", f"The Resource '{rtype}/{name}' under resource group '{rg}' was not found."
        )


def shown_role_id(directory: Directory, guid: str) -> str:
    if rbac_roles.is_built_in(guid):
        return f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    custom = directory.custom_roles.get(guid)
    return str(custom["id"]) if custom else f"/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def admit_assignment(
    world: World, scope: str, name: str, props: Any, now: datetime
) -> tuple[dict[str, Any], Grant | None]:
    """Validate a role assignment PUT; (the body to store, the existing assignment it updates or None)."""
    directory: Directory = world.directory
    if not is_guid(name):
        raise bad_request(
            "InvalidRoleAssignmentId",
            f"The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID.",
        )
    if not isinstance(props, dict):
        raise bad_request("InvalidRequestContent", "The request content must have 'properties'.")
    for required in ("roleDefinitionId", "principalId"):
        if not props.get(required):
            raise bad_request("InvalidRequestContent", f"The property 'properties.{required}' is required.")
    check_scope(world, scope)
    guid = role_guid(str(props["roleDefinitionId"]))
    if directory.role(guid) is None:
        raise bad_request(
            "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{guid}' does not exist."
        )
    principal_id = str(props["principalId"]).lower()
    principal = directory.principal(principal_id)
    if principal is None:
        raise bad_request(
            "PrincipalNotFound",
            f"Principal {principal_id.replace('-', '')} does not exist in the directory {TENANT}. Check that you "
            "have the correct principal ID. If you are creating this principal and then immediately assigning a "
            "role, this error might be related to a replication delay. In this case, set the role assignment "
            "principalType property to a value, such as ServicePrincipal, User, or Group.  See "
            "https://aka.ms/docs-principaltype",
        )
    given_type = props.get("principalType")
    if given_type and str(given_type).lower() != principal.kind.lower():
        raise bad_request(
            "UnmatchedPrincipalType",
            f"The PrincipalId '{principal_id.replace('-', '')}' has type '{principal.kind}' , which is different "
            f"from specified PrincipalType '{given_type}'.",
        )
    condition = props.get("condition") or None
    version = props.get("conditionVersion") or None
    if version is not None and str(version) != "2.0":
        # The spec: "Currently the only accepted value is '2.0'". No code documented: InvalidConditionVersion.
        raise bad_request("InvalidConditionVersion", f"The condition version '{version}' is not supported: use '2.0'.")
    if condition and version is None:
        version = "2.0"
    assignment_id = f"{'' if norm_scope(scope) == '/' else scope.rstrip('/')}/providers/{NS}/roleAssignments/{name}"
    existing = directory.grants.get(assignment_id.lower())
    if existing is not None:
        if (
            existing.principal_id != principal_id
            or existing.role != guid
            or norm_scope(existing.scope) != norm_scope(scope)
        ):
            raise bad_request(
                "RoleAssignmentUpdateNotPermitted",
                "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
            )
    else:
        for other in directory.grants.values():
            if (
                other.principal_id == principal_id
                and other.role == guid
                and norm_scope(other.scope) == norm_scope(scope)
            ):
                raise ArmError(
                    409,
                    "RoleAssignmentExists",
                    # ARM prints the existing assignment's name as 32 hex digits, without dashes (as AKS's and
                    # Terraform's users quote it).
                    "The role assignment already exists. The ID of the existing role assignment is "
                    f"{str(other.body['name']).replace('-', '')}.",
                )
    stamp = iso(now)
    body = {
        "properties": {
            "roleDefinitionId": shown_role_id(directory, guid),
            "principalId": principal_id,
            "principalType": principal.kind,
            "scope": "/" if norm_scope(scope) == "/" else scope.rstrip("/"),
            "condition": condition,
            "conditionVersion": version,
            "createdOn": existing.props["createdOn"] if existing else stamp,
            "updatedOn": stamp,
            "createdBy": None,
            "updatedBy": None,
            "delegatedManagedIdentityResourceId": props.get("delegatedManagedIdentityResourceId"),
            "description": props.get("description"),
        },
        "id": assignment_id,
        "type": ASSIGNMENT_TYPE,
        "name": name,
    }
    return body, existing


class Authorization:
    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def directory(self) -> Directory:
        directory: Directory = self.world.directory
        return directory

    def routes(self) -> list[Route]:
        ra, rd = f"{NS}/roleAssignments", f"{NS}/roleDefinitions"
        return [
            route("GET", ASSIGNMENTS + r"/(?P<name>[^/]+)", self.get_assignment, f"{ra}/read"),
            route("PUT", ASSIGNMENTS + r"/(?P<name>[^/]+)", self.put_assignment, f"{ra}/write"),
            route("DELETE", ASSIGNMENTS + r"/(?P<name>[^/]+)", self.delete_assignment, f"{ra}/delete"),
            route("GET", ASSIGNMENTS, self.list_assignments, f"{ra}/read"),
            route("GET", DEFINITIONS + r"/(?P<name>[^/]+)", self.get_definition, f"{rd}/read"),
            route("PUT", DEFINITIONS + r"/(?P<name>[^/]+)", self.put_definition, f"{rd}/write"),
            route("DELETE", DEFINITIONS + r"/(?P<name>[^/]+)", self.delete_definition, f"{rd}/delete"),
            route("GET", DEFINITIONS, self.list_definitions, f"{rd}/read"),
        ]

    # -- role assignments ------------------------------------------------------------------------------------

    def _assignment_id(self, m: dict[str, str]) -> str:
        return f"{m['scope']}/providers/{NS}/roleAssignments/{m['name']}".lower()

    def get_assignment(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            grant = self.directory.grants.get(self._assignment_id(m))
            if grant is None:
                raise ArmError(404, "RoleAssignmentNotFound", f"The role assignment '{m['name']}' is not found.")
            return Response(200, copy.deepcopy(grant.body))

    def put_assignment(self, req: Request, m: dict[str, str]) -> Response:
        props = req.json_object().get("properties")
        with self.world.lock:
            now = self.world.settle()
            body, existing = admit_assignment(self.world, m["scope"] or "/", m["name"], props, now)
            if existing is not None:
                existing.body = body
                return Response(200, copy.deepcopy(body))
            since = now + timedelta(seconds=self.world.timings.rbac_propagation)
            self.directory.grants[body["id"].lower()] = Grant(body, since)
            workload_access.notify(self.world, now)
            return Response(201, copy.deepcopy(body))

    def delete_assignment(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            grant = self.directory.remove_grant(self._assignment_id(m), now)
            if grant is None:
                return Response(204)
            workload_access.notify(self.world, now)
            return Response(200, copy.deepcopy(grant.body))

    def list_assignments(self, req: Request, m: dict[str, str]) -> Response:
        scope = m["scope"] or "/"
        at_scope, principal = False, None
        text = (req.query.get("$filter") or "").strip()
        for term in filter(None, (t.strip() for t in re.split(r"\s+and\s+", text, flags=re.IGNORECASE))):
            found = _PRINCIPAL_FILTER.match(term) or _ASSIGNED_TO.match(term)
            if term.lower().replace(" ", "") == "atscope()":
                at_scope = True
            elif found:
                principal = found.group(1).lower()
            else:
                # No code is documented for an unsupported filter: ARM's generic BadRequest.
                raise bad_request("BadRequest", f"The filter '{term}' is not supported.")
        with self.world.lock:
            items = []
            for grant in sorted(self.directory.grants.values(), key=lambda g: str(g.body["id"]).lower()):
                above = covers(grant.scope, scope)
                below = covers(scope, grant.scope)
                if not (above or (below and not at_scope)):
                    continue
                if principal is not None and grant.principal_id != principal:
                    continue
                items.append(copy.deepcopy(grant.body))
        return Response(200, {"value": items})

    # -- role definitions ------------------------------------------------------------------------------------

    def _definition(self, scope: str, guid: str) -> dict[str, Any] | None:
        guid = guid.lower()
        if rbac_roles.is_built_in(guid):
            sub = re.match(r"^/subscriptions/([^/]+)", scope, re.IGNORECASE)
            prefix = f"/subscriptions/{sub.group(1)}" if sub else ""
            return {
                "id": f"{prefix}/providers/{NS}/roleDefinitions/{guid}",
                "name": guid,
                "type": rbac_roles.ROLE_DEFINITION_TYPE,
                "properties": rbac_roles.built_in_body(guid),
            }
        custom = self.directory.custom_roles.get(guid)
        return copy.deepcopy(custom) if custom else None

    def get_definition(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            found = self._definition(m["scope"], m["name"])
        if found is None:
            raise ArmError(
                404,
                "RoleDefinitionDoesNotExist",
                f"The specified role definition with ID '{m['name']}' does not exist.",
            )
        return Response(200, found)

    def list_definitions(self, req: Request, m: dict[str, str]) -> Response:
        text = (req.query.get("$filter") or "").strip()
        name_filter = re.match(r"^roleName\s+eq\s+'(.*)'$", text, re.IGNORECASE)
        type_filter = re.match(r"^type\s+eq\s+'(BuiltInRole|CustomRole)'$", text, re.IGNORECASE)
        if text and not (name_filter or type_filter):
            raise bad_request("BadRequest", f"The filter '{text}' is not supported.")
        with self.world.lock:
            guids = rbac_roles.built_in_ids() + sorted(self.directory.custom_roles)
            bodies = [b for g in guids if (b := self._definition(m["scope"], g)) is not None]
        if name_filter:
            bodies = [b for b in bodies if str(b["properties"]["roleName"]).lower() == name_filter.group(1).lower()]
        if type_filter:
            bodies = [b for b in bodies if str(b["properties"]["type"]).lower() == type_filter.group(1).lower()]
        return Response(200, {"value": bodies})

    def put_definition(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            now = self.world.settle()
            stored, created = custom_role(self.directory, m["scope"], m["name"], body, now)
            return Response(201 if created else 200, copy.deepcopy(stored))

    def delete_definition(self, req: Request, m: dict[str, str]) -> Response:
        guid = m["name"].lower()
        with self.world.lock:
            if rbac_roles.is_built_in(guid):
                raise bad_request("BadRequest", f"The built-in role definition '{guid}' cannot be deleted.")
            custom = self.directory.custom_roles.get(guid)
            if custom is None:
                return Response(204)
            if any(g.role == guid for g in self.directory.grants.values()):
                raise ArmError(
                    409,
                    "RoleDefinitionHasAssignments",
                    f"There are existing role assignments referencing role '{guid}'. Delete them first.",
                )
            self.directory.custom_roles.pop(guid)
            return Response(200, copy.deepcopy(custom))


def custom_role(
    directory: Directory, scope: str, name: str, body: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], bool]:
    """Create or update a custom role definition (DOCS role-based-access-control/custom-roles-rest.md); (stored
    body, created?)."""
    guid = name.lower()
    if not is_guid(guid):
        raise bad_request(
            "InvalidRoleDefinitionId", f"The role definition ID '{name}' is not valid: it must be a GUID."
        )
    if rbac_roles.is_built_in(guid):
        raise bad_request("BadRequest", f"The built-in role definition '{guid}' cannot be modified.")
    props = dict(body.get("properties") or {})
    role_name = str(props.get("roleName") or "")
    if not role_name:
        raise bad_request("InvalidRequestContent", "The property 'properties.roleName' is required.")
    scopes = list(props.get("assignableScopes") or [])
    if not scopes:
        raise bad_request("InvalidRequestContent", "The property 'properties.assignableScopes' must not be empty.")
    taken = [
        g
        for g in rbac_roles.built_in_ids()
        if str(rbac_roles.built_in_body(g)["roleName"]).lower() == role_name.lower()
    ]
    taken += [
        g
        for g, b in directory.custom_roles.items()
        if g != guid and str(b["properties"]["roleName"]).lower() == role_name.lower()
    ]
    if taken:
        raise ArmError(
            409,
            "RoleDefinitionWithSameNameExists",
            "A custom role with the same name already exists in this directory. Use a different name.",
        )
    existing = directory.custom_roles.get(guid)
    sub = re.match(r"^/subscriptions/([^/]+)", scope, re.IGNORECASE)
    prefix = f"/subscriptions/{sub.group(1)}" if sub else ""
    stamp = iso(now)
    stored = {
        "id": f"{prefix}/providers/{NS}/roleDefinitions/{guid}",
        "name": guid,
        "type": rbac_roles.ROLE_DEFINITION_TYPE,
        "properties": {
            "roleName": role_name,
            "type": "CustomRole",
            "description": props.get("description"),
            "assignableScopes": scopes,
            "permissions": [
                {
                    "actions": list(p.get("actions") or []),
                    "notActions": list(p.get("notActions") or []),
                    "dataActions": list(p.get("dataActions") or []),
                    "notDataActions": list(p.get("notDataActions") or []),
                }
                for p in props.get("permissions") or []
            ],
            "createdOn": existing["properties"]["createdOn"] if existing else stamp,
            "updatedOn": stamp,
            "createdBy": None,
            "updatedBy": None,
        },
    }
    directory.custom_roles[guid] = stored
    return stored, existing is None


def assignment_name(scope: str, principal_id: str, role: str) -> str:
    """A role assignment name derived from (scope, principal, role): retries stay idempotent (azure-more (d))."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{norm_scope(scope)}|{principal_id.lower()}|{role_guid(role)}"))
