"""Microsoft.ManagedIdentity: user-assigned identities and their federated identity credentials.

Bodies per SPEC msi/…/ManagedIdentity/stable (IdentityGet.json, FederatedIdentityCredentialGet.json; the PUT's
200/201 bodies equal the GET): an identity has `location`, `tags` and read-only `properties.{tenantId,
principalId, clientId}`, generated here deterministically and new for every identity created (a re-created
identity is a new principal). A new identity holds no role anywhere.

A federated identity credential has `issuer`, `subject` and `audiences`. Entra's rules and answers (ENTRA
docs/workload-id/workload-identity-federation-considerations.md, "Errors", and the include
federated-credential-configuration-considerations.md):
- 400 "Federated identity credentials must have exactly one audience." (the value must be
  "api://AzureADTokenExchange");
- 400 "Federated Identity Credential from HTTP body has empty properties" (issuer, subject, audiences required);
- 400 "Federated Identity Credential name '{ficName}' is invalid." (3-120 letters, digits, '-' or '_', the first
  a letter or digit);
- 404 "The parent user-assigned identity doesn't exist.";
- 400 "Issuer and subject combination already exists for this Managed Identity.";
- 409 "Conflict": "Concurrent write request to federated identity credential resources under the same user-assigned
  identity has been denied" (a write while another under the same identity is in flight; Timings.fic_write_latency);
- "A maximum of 20 federated identity credentials can be added to ... a user-assigned managed identity": the 21st
  is refused with 400 (no message is documented; the wording here is the emulator's);
- issuer and subject are at most 600 characters; "Wildcard characters aren't supported in any federated identity
  credential property value" (400, the emulator's wording).
A credential takes effect Timings.federation_propagation after its write (Entra: "It takes time for the federated
identity credential to be propagated").
"""

from __future__ import annotations

import copy
import re
import time
from datetime import timedelta
from typing import Any

from local.azure_emulator import workload_access
from local.azure_emulator.directory import FIC_TYPE, Directory, Federation
from local.azure_emulator.errors import ArmError, bad_request, not_found
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.ManagedIdentity"
UAMI = RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
FIC = UAMI + "/federatedIdentityCredentials/{fic}"
AUDIENCE = "api://AzureADTokenExchange"
MAX_FICS = 20
MAX_CLAIM = 600
# ARM's naming rules for userAssignedIdentities: 3-128 characters, letters, digits, hyphens and underscores,
# starting with a letter or digit (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules).
_IDENTITY_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,127}$")
_FIC_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{2,119}$")


def identity_id(sub: str, rg: str, name: str) -> str:
    """The id as the service writes it (lowercase `resourcegroups`, SPEC IdentityGet.json)."""
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


def check_federation(name: str, props: Any, others: list[Federation]) -> dict[str, Any]:
    """Entra's validation of a federated credential write; the properties to store."""
    if not _FIC_NAME.match(name):
        raise bad_request("BadRequest", f"Federated Identity Credential name '{name}' is invalid.")
    if not isinstance(props, dict) or not props.get("issuer") or not props.get("subject") or "audiences" not in props:
        raise bad_request("BadRequest", "Federated Identity Credential from HTTP body has empty properties")
    audiences = props.get("audiences")
    if not isinstance(audiences, list) or len(audiences) != 1:
        raise bad_request("BadRequest", "Federated identity credentials must have exactly one audience.")
    if audiences[0] != AUDIENCE:
        raise bad_request(
            "BadRequest",
            f"Federated identity credential audience '{audiences[0]}' is invalid: it must be '{AUDIENCE}'.",
        )
    issuer, subject = str(props["issuer"]), str(props["subject"])
    for field, value in (("issuer", issuer), ("subject", subject)):
        if len(value) > MAX_CLAIM:
            raise bad_request("BadRequest", f"Federated identity credential {field} exceeds {MAX_CLAIM} characters.")
        if "*" in value:
            raise bad_request(
                "BadRequest", f"Wildcard characters aren't supported in the federated credential {field}."
            )
    if not issuer.lower().startswith("https://"):
        raise bad_request("BadRequest", f"Federated identity credential issuer '{issuer}' must be an https URL.")
    same_name = [f for f in others if str(f.body["name"]).lower() == name.lower()]
    for other in others:
        if other in same_name:
            continue
        if other.props.get("issuer") == issuer and other.props.get("subject") == subject:
            raise bad_request("BadRequest", "Issuer and subject combination already exists for this Managed Identity.")
    if not same_name and len(others) >= MAX_FICS:
        raise bad_request(
            "BadRequest",
            f"The maximum number of federated identity credentials ({MAX_FICS}) for this user-assigned identity has "
            "been reached.",
        )
    return {"issuer": issuer, "subject": subject, "audiences": [AUDIENCE]}


class ManagedIdentity:
    def __init__(self, world: World) -> None:
        self.world = world

    @property
    def directory(self) -> Directory:
        directory: Directory = self.world.directory
        return directory

    def routes(self) -> list[Route]:
        ua = f"{NS}/userAssignedIdentities"
        fic = f"{ua}/federatedIdentityCredentials"
        return [
            route("GET", FIC, self.get_fic, f"{fic}/read"),
            route("PUT", FIC, self.put_fic, f"{fic}/write"),
            route("DELETE", FIC, self.delete_fic, f"{fic}/delete"),
            route("GET", UAMI + "/federatedIdentityCredentials", self.list_fics, f"{fic}/read"),
            route("GET", UAMI, self.get, f"{ua}/read"),
            route("PUT", UAMI, self.put, f"{ua}/write"),
            route("PATCH", UAMI, self.patch, f"{ua}/write"),
            route("DELETE", UAMI, self.delete, f"{ua}/delete"),
            route(
                "GET", RG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", self.list_rg, f"{ua}/read"
            ),
            route(
                "GET", SUB + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities", self.list_sub, f"{ua}/read"
            ),
        ]

    # -- identities ------------------------------------------------------------------------------------------

    def _id(self, m: dict[str, str]) -> str:
        return identity_id(m["sub"], m["rg"], m["name"])

    def _find(self, m: dict[str, str]) -> Any:
        found = self.directory.identity(self._id(m))
        if found is None:
            raise not_found(f"{NS}/userAssignedIdentities", m["name"], m["rg"])
        return found

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            return Response(200, copy.deepcopy(self._find(m).body))

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        if not _IDENTITY_NAME.match(m["name"]):
            raise bad_request(
                "InvalidResourceName",
                f"Resource name {m['name']} is invalid. The name can be 3-128 characters long, starting with a "
                "letter or number, and contain letters, numbers, hyphens and underscores.",
            )
        with self.world.lock:
            now = self.world.settle()
            existing = self.directory.identity(self._id(m))
            if existing is not None:
                existing.body["tags"] = dict(body.get("tags") or {})
                return Response(200, copy.deepcopy(existing.body))
            if not body.get("location"):
                raise bad_request("LocationRequired", "The location property is required for this definition.")
            created = self.directory.create_identity(
                self._id(m), str(body["location"]), now, tags=body.get("tags") or {}
            )
            workload_access.notify(self.world, now)
            return Response(201, copy.deepcopy(created.body))

    def patch(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            found = self._find(m)
            if "tags" in body:
                found.body["tags"] = dict(body.get("tags") or {})
            return Response(200, copy.deepcopy(found.body))

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            if self.directory.delete_identity(self._id(m), now) is None:
                return Response(204)
            workload_access.notify(self.world, now)
            return Response(200)

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        prefix = f"/subscriptions/{m['sub']}/resourcegroups/{m['rg']}/".lower()
        return self._list(lambda key: key.startswith(prefix))

    def list_sub(self, req: Request, m: dict[str, str]) -> Response:
        prefix = f"/subscriptions/{m['sub']}/".lower()
        return self._list(lambda key: key.startswith(prefix))

    def _list(self, keep: Any) -> Response:
        with self.world.lock:
            items = [copy.deepcopy(i.body) for key, i in sorted(self.directory.identities.items()) if keep(key)]
        return Response(200, {"value": items})

    # -- federated identity credentials ----------------------------------------------------------------------

    def _parent(self, m: dict[str, str]) -> Any:
        found = self.directory.identity(self._id(m))
        if found is None:
            raise ArmError(404, "NotFound", "The parent user-assigned identity doesn't exist.")
        return found

    def get_fic(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            parent = self._parent(m)
            found = self.directory.federation(parent.id, m["fic"])
            if found is None:
                raise not_found(f"{FIC_TYPE}", f"{m['name']}/{m['fic']}", m["rg"])
            return Response(200, copy.deepcopy(found.body))

    def list_fics(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            parent = self._parent(m)
            items = [copy.deepcopy(f.body) for f in self.directory.federations_of(parent.id)]
        top = req.query.get("$top")
        if top and top.isdigit():
            items = items[: int(top)]
        return Response(200, {"value": items})

    def put_fic(self, req: Request, m: dict[str, str]) -> Response:
        props = req.json_object().get("properties")
        latency = float(self.world.timings.fic_write_latency)
        with self.world.lock:
            parent = self._parent(m)
            key = parent.id.lower()
            if self.directory.fic_writes.get(key):
                raise ArmError(409, "Conflict", "Conflict")
            clean = check_federation(m["fic"], props, self.directory.federations_of(parent.id))
            self.directory.fic_writes[key] = self.directory.fic_writes.get(key, 0) + 1
        try:
            if latency:
                time.sleep(latency)  # the write is in flight: another one under this identity gets 409
            with self.world.lock:
                now = self.world.settle()
                existing = self.directory.federation(parent.id, m["fic"])
                body = {
                    "id": f"{parent.id}/federatedIdentityCredentials/{m['fic']}",
                    "name": m["fic"],
                    "type": FIC_TYPE,
                    "properties": clean,
                }
                if existing is not None:
                    existing.until = now
                since = now + timedelta(seconds=self.world.timings.federation_propagation)
                self.directory.federations.append(Federation(key, body, since))
                workload_access.notify(self.world, now)
                return Response(200 if existing else 201, copy.deepcopy(body))
        finally:
            with self.world.lock:
                self.directory.fic_writes[key] -= 1

    def delete_fic(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            parent = self._parent(m)
            found = self.directory.federation(parent.id, m["fic"])
            if found is None:
                return Response(204)
            found.until = now
            workload_access.notify(self.world, now)
            return Response(200)
