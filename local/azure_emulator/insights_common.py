"""What the Microsoft.Insights providers (metricAlerts, activityLogAlerts, actionGroups, diagnosticSettings) share.

Azure Monitor answers request validation with 400 and code BadRequest (e.g. {"code": "BadRequest", "message":
"Alert scope is invalid."} for a metric alert, Azure/ResourceModules#4550; "Category 'X' is not supported." for a
diagnostic setting, hashicorp/terraform#20534); the messages here follow those where one is known and are the
emulator's own otherwise. Alert rules and action groups are global resources: `location` "global" (SPEC
examples for metricAlerts 2018-03-01, activityLogAlerts 2020-10-01 and actionGroups 2023-01-01, whose bodies all
say global / Global).
"""

from __future__ import annotations

import copy
from typing import Any

from local.azure_emulator.arm_store import key, view
from local.azure_emulator.errors import ArmError, not_found
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.Insights"


def bad_request(message: str) -> ArmError:
    return ArmError(400, "BadRequest", message)


def check_global(body: dict[str, Any], what: str) -> str:
    location = str(body.get("location") or "")
    if not location:
        raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
    if location.replace(" ", "").lower() != "global":
        raise bad_request(f"The location of {what} must be 'global', not '{location}'.")
    return location


def rg_resource_id(sub: str, rg: str, rtype: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/microsoft.insights/{rtype}/{name}"


def strip(body: dict[str, Any], read_only: tuple[str, ...] = ()) -> dict[str, Any]:
    clean = {k: v for k, v in body.items() if k not in ("id", "name", "type") and not k.startswith("_")}
    props = clean.get("properties")
    clean["properties"] = (
        {k: v for k, v in (props or {}).items() if k not in read_only} if isinstance(props, dict) else {}
    )
    return clean


class GlobalResources:
    """GET, PUT, list (resource group and subscription) and DELETE of one global Microsoft.Insights resource type.

    A subclass names the type and says what a valid body is (`prepare`); PUT answers 201 on create and 200 on
    update unless the API says 200 for both (metricAlerts 2018-03-01), DELETE 200, or 204 when there was nothing.
    """

    TYPE: str
    COLLECTION: str  # the path segment after providers/Microsoft.Insights, e.g. "actionGroups"
    WHAT: str  # how messages name one, e.g. "an action group"
    READ_ONLY: tuple[str, ...] = ()
    CREATED_STATUS = 201

    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        op = f"{NS}/{self.COLLECTION}"
        one = f"{RG}/providers/{op}/{{name}}"
        return [
            route("GET", f"{SUB}/providers/{op}", self.list_sub, f"{op}/read"),
            route("GET", f"{RG}/providers/{op}", self.list_rg, f"{op}/read"),
            route("GET", one, self.get, f"{op}/read"),
            route("PUT", one, self.put, f"{op}/write"),
            route("DELETE", one, self.delete, f"{op}/delete"),
        ]

    def prepare(self, props: dict[str, Any]) -> None:
        """Refuse an invalid `properties` with ArmError, and fill in the service's defaults in place."""
        raise NotImplementedError

    def stored(self, body: dict[str, Any]) -> None:
        """What else happens once a body is stored (nothing, unless the resource drives something)."""

    def removed(self, resource_id: str) -> None:
        """What else happens once a resource is deleted."""

    def _id(self, m: dict[str, str]) -> str:
        return rg_resource_id(m["sub"], m["rg"], self.COLLECTION, m["name"])

    def list_sub(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            return Response(200, {"value": [view(b) for b in self.world.arm.of_type(self.TYPE, sub=m["sub"])]})

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            items = [view(b) for b in self.world.arm.of_type(self.TYPE, sub=m["sub"], rg=m["rg"])]
            return Response(200, {"value": items})

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            found = self.world.arm.get(self._id(m))
            if found is None:
                raise not_found(self.TYPE, m["name"], m["rg"])
            return Response(200, view(found))

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = strip(req.json_object(), self.READ_ONLY)
        with self.world.lock:
            rid = self._id(m)
            existing = self.world.arm.get(rid)
            location = check_global(body, self.WHAT)
            props = copy.deepcopy(body["properties"])
            self.prepare(props)
            stored = {
                "id": rid,
                "name": m["name"],
                "type": self.TYPE,
                "location": location,
                "tags": body.get("tags") or {},
                "properties": props,
            }
            self.world.arm.put(stored)
            self.stored(stored)
            return Response(200 if existing else self.CREATED_STATUS, view(stored))

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            rid = self._id(m)
            self.removed(rid)
            gone = self.world.arm.bodies.pop(key(rid), None)
            return Response(200 if gone is not None else 204)
