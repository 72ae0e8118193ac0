"""Front Door Standard/Premium: profiles, origin groups and origins (PUT / PATCH are long-running)."""

from __future__ import annotations

import copy
import uuid
from datetime import datetime
from typing import Any

from local.azure_emulator.errors import ArmError, bad_request
from local.azure_emulator.lro import Operation, lro_headers
from local.azure_emulator.protocol import RG, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.Cdn"
PROFILE = RG + "/providers/Microsoft.Cdn/profiles/{profile}"
GROUP = PROFILE + "/originGroups/{group}"
ORIGIN = GROUP + "/origins/{origin}"
API = "2026-10-01"
_ORIGIN_READ_ONLY = ("provisioningState", "deploymentStatus", "originGroupName")


def profile_id(sub: str, rg: str, profile: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Cdn/profiles/{profile}"


def group_id(sub: str, rg: str, profile: str, group: str) -> str:
    return f"{profile_id(sub, rg, profile)}/originGroups/{group}"


def or_default(value: Any, default: Any) -> Any:
    return default if value is None else value


def validate_target(props: dict[str, Any], what: str) -> None:
    """Ranges from the SDK docstrings: priority 1-5, weight 1-1000 (null or absent: 1 and 50)."""
    priority, weight = or_default(props.get("priority"), 1), or_default(props.get("weight"), 50)
    state = or_default(props.get("enabledState"), "Enabled")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise bad_request("BadRequest", f"{what} priority must be between 1 and 5, not {priority!r}.")
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 1000:
        raise bad_request("BadRequest", f"{what} weight must be between 1 and 1000, not {weight!r}.")
    if state not in ("Enabled", "Disabled"):
        raise bad_request("BadRequest", f"{what} enabledState must be Enabled or Disabled, not {state!r}.")


class FrontDoorStd:
    def __init__(self, world: World) -> None:
        self.world = world
        # When each origin's last write counts as deployed (deploymentStatus InProgress until then): once half
        # of the edges serve it (Deployment.reported), before the last edge does.
        self.effective: dict[str, datetime] = {}

    def routes(self) -> list[Route]:
        origins = f"{NS}/profiles/originGroups/origins"
        return [
            route("GET", PROFILE, self.get_profile, f"{NS}/profiles/read"),
            route("GET", PROFILE + "/originGroups", self.list_groups, f"{NS}/profiles/originGroups/read"),
            route("GET", GROUP, self.get_group, f"{NS}/profiles/originGroups/read"),
            route("GET", GROUP + "/origins", self.list_origins, f"{origins}/read"),
            route("GET", ORIGIN, self.get_origin, f"{origins}/read"),
            route("PUT", ORIGIN, self.put_origin, f"{origins}/write", in_force=self.in_force),
            route("PATCH", ORIGIN, self.patch_origin, f"{origins}/write", in_force=self.in_force),
        ]

    # -- model -------------------------------------------------------------------------------------------------

    def ensure_parents(self, sub: str, rg: str, profile: str, group: str | None) -> None:
        """Seeding an origin group or origin implies its profile (and group) exist."""
        pid = profile_id(sub, rg, profile)
        self.world.afd.setdefault(
            pid.lower(),
            {
                "id": pid,
                "type": "Microsoft.Cdn/profiles",
                "name": profile,
                "location": "Global",
                "kind": "frontdoor",
                "sku": {"name": "Standard_AzureFrontDoor"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "resourceState": "Active",
                    "frontDoorId": str(uuid.uuid5(uuid.NAMESPACE_URL, pid.lower())),
                },
            },
        )
        if group:
            gid = group_id(sub, rg, profile, group)
            self.world.afd.setdefault(
                gid.lower(),
                {
                    "id": gid,
                    "type": "Microsoft.Cdn/profiles/origingroups",
                    "name": group,
                    "properties": {"provisioningState": "Succeeded", "deploymentStatus": "Succeeded"},
                },
            )

    def origins_of(self, gid: str) -> list[dict[str, Any]]:
        prefix = gid.lower() + "/origins/"
        return [
            body
            for key, body in sorted(self.world.afd.items())
            if key.startswith(prefix) and "/" not in key[len(prefix) :]
        ]

    def groups_of(self, pid: str) -> list[str]:
        prefix = pid.lower() + "/origingroups/"
        return [key for key in sorted(self.world.afd) if key.startswith(prefix) and "/" not in key[len(prefix) :]]

    def snapshot(self, gid: str) -> list[tuple[str, bool, int, int]]:
        """(host, enabled, priority, weight) per origin; a priority never set counts as 1, a weight as 50."""
        result = []
        for body in self.origins_of(gid):
            p = body["properties"]
            result.append(
                (
                    str(p.get("hostName", "")),
                    p.get("enabledState", "Enabled") == "Enabled",
                    int(or_default(p.get("priority"), 1)),
                    int(or_default(p.get("weight"), 50)),
                )
            )
        return result

    def latency_window(self, gid: str) -> float:
        """The origin group's loadBalancingSettings.additionalLatencyInMilliseconds (absent: 0 ms, routing-methods)."""
        body = self.world.afd.get(gid.lower()) or {}
        settings = (body.get("properties") or {}).get("loadBalancingSettings") or {}
        return float(or_default(settings.get("additionalLatencyInMilliseconds"), 0))

    def enabled_count(self, gid: str) -> int:
        return sum(1 for _, enabled, _, _ in self.snapshot(gid) if enabled)

    def _view(self, body: dict[str, Any]) -> dict[str, Any]:
        view = copy.deepcopy(body)
        until = self.effective.get(body["id"].lower())
        if until is not None:
            view["properties"]["deploymentStatus"] = "InProgress" if self.world.now() < until else "Succeeded"
        return view

    def _get(self, key: str, what: str, name: str) -> dict[str, Any]:
        body = self.world.afd.get(key.lower())
        if body is None:
            raise ArmError(404, "NotFound", f"The {what} '{name}' was not found.")
        return body

    # -- handlers ------------------------------------------------------------------------------------------------

    def get_profile(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            body = self._get(profile_id(m["sub"], m["rg"], m["profile"]), "profile", m["profile"])
            return Response(200, copy.deepcopy(body))

    def list_groups(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            pid = profile_id(m["sub"], m["rg"], m["profile"])
            self._get(pid, "profile", m["profile"])
            return Response(200, {"value": [copy.deepcopy(self.world.afd[g]) for g in self.groups_of(pid)]})

    def get_group(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            body = self._get(group_id(m["sub"], m["rg"], m["profile"], m["group"]), "origin group", m["group"])
            return Response(200, copy.deepcopy(body))

    def list_origins(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            gid = group_id(m["sub"], m["rg"], m["profile"], m["group"])
            self._get(gid, "origin group", m["group"])
            return Response(200, {"value": [self._view(b) for b in self.origins_of(gid)]})

    def get_origin(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            oid = group_id(m["sub"], m["rg"], m["profile"], m["group"]) + f"/origins/{m['origin']}"
            return Response(200, self._view(self._get(oid, "origin", m["origin"])))

    def put_origin(self, req: Request, m: dict[str, str]) -> Response:
        props = req.json_object().get("properties")
        if not isinstance(props, dict) or not props.get("hostName"):
            raise bad_request("BadRequest", "An origin needs properties.hostName.")
        return self._write(req, m, props, replace=True)

    def patch_origin(self, req: Request, m: dict[str, str]) -> Response:
        props = req.json_object().get("properties") or {}
        if not isinstance(props, dict):
            raise bad_request("BadRequest", "properties must be an object.")
        return self._write(req, m, props, replace=False)

    def _write(self, req: Request, m: dict[str, str], props: dict[str, Any], replace: bool) -> Response:
        props = {k: v for k, v in props.items() if k not in _ORIGIN_READ_ONLY and v is not None}
        with self.world.lock:
            self.world.settle()
            gid = group_id(m["sub"], m["rg"], m["profile"], m["group"])
            self._get(gid, "origin group", m["group"])
            oid = f"{gid}/origins/{m['origin']}"
            existing = self.world.afd.get(oid.lower())
            if existing is None and not replace:
                raise ArmError(404, "NotFound", f"The origin '{m['origin']}' was not found.")
            merged = dict(props) if replace or existing is None else {**existing["properties"], **props}
            validate_target(merged, f"Origin {m['origin']}")
            merged.update(
                originGroupName=m["group"],
                provisioningState="Updating" if existing else "Creating",
                deploymentStatus="InProgress",
            )
            body: dict[str, Any] = {
                "id": oid,
                "type": "Microsoft.Cdn/profiles/origingroups/origins",
                "name": m["origin"],
                "properties": merged,
            }
            key = oid.lower()

            def done(op: Operation) -> None:
                body["properties"]["provisioningState"] = "Succeeded"

            def failed(op: Operation) -> None:
                # Only a write whose operation was set to fail gets here, and it never replaced the origin.
                if existing is not None and self.world.afd.get(key) is existing:
                    existing["properties"]["provisioningState"] = "Failed"

            # The operation starts first: one set to fail (fail_next_operation, fail_front_door_writes) is
            # accepted like any other but never applied, propagated or routed to.
            op = self.world.ops.start(
                oid,
                self.world.now(),
                self.world.timings.afd_provisioning,
                done,
                failed,
                subscription=m["sub"],
                namespace=NS,
                location="global",
                retry_after=self.world.timings.retry_after_afd,
            )
            headers = lro_headers(op, req.base_url, req.query.get("api-version", API))
            # "An asynchronous operation initially returns an HTTP status code of either 201 (Created) or
            # 202 (Accepted)" (learn.microsoft.com/azure/azure-resource-manager/management/async-operations).
            status = 202 if existing else 201
            if op.error:
                if existing is not None:
                    existing["properties"]["provisioningState"] = "Updating"
                return Response(status, copy.deepcopy(body), headers)
            self.world.afd[key] = body
            deployment = self.world.record_deployment(gid.lower(), self.snapshot(gid))
            # deploymentStatus: Succeeded once half of the edges serve this write (world.STATUS_EDGES), while the
            # other half still routes by the configuration before it; traffic follows the edges, not the status.
            self.effective[key] = deployment.reported
            return Response(status, self._view(body), headers, enabled_origins=self.enabled_count(gid))

    def in_force(self, m: dict[str, str]) -> int | None:
        """Origins enabled in the group's configuration now (None when the group does not exist)."""
        gid = group_id(m["sub"], m["rg"], m["profile"], m["group"])
        return self.enabled_count(gid) if gid.lower() in self.world.afd else None
