"""Front Door (classic): GET and whole-resource PUT (long-running) of Microsoft.Network/frontDoors."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from local.azure_emulator.errors import ArmError, bad_request
from local.azure_emulator.frontdoor_std import or_default, validate_target
from local.azure_emulator.lro import Operation, lro_headers
from local.azure_emulator.protocol import RG, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.Network"
FD = RG + "/providers/Microsoft.Network/frontDoors/{name}"
API = "2025-10-01"
_READ_ONLY = ("provisioningState", "resourceState", "cname", "frontdoorId", "rulesEngines", "extendedProperties")
_CHILD_LISTS = ("frontendEndpoints", "loadBalancingSettings", "healthProbeSettings", "backendPools", "routingRules")


def front_door_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/frontDoors/{name}"


def pool_key(fd_id: str, pool_name: str) -> str:
    return f"{fd_id.lower()}#backendpool#{pool_name.lower()}"


def pools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body.get("properties", {}).get("backendPools") or [])


def snapshot(pool: dict[str, Any]) -> list[tuple[str, bool, int, int]]:
    """(address, enabled, priority, weight) per backend; a priority never set counts as 1, a weight as 50."""
    backends = (pool.get("properties") or {}).get("backends") or []
    return [
        (
            str(b.get("address", "")),
            b.get("enabledState", "Enabled") == "Enabled",
            int(or_default(b.get("priority"), 1)),
            int(or_default(b.get("weight"), 50)),
        )
        for b in backends
    ]


def latency_window(body: dict[str, Any], pool: dict[str, Any]) -> float:
    """additionalLatencyMilliseconds of the loadBalancingSettings the pool references (absent: 0 ms)."""
    ref = ((pool.get("properties") or {}).get("loadBalancingSettings") or {}).get("id") or ""
    wanted = ref.lower().rstrip("/")
    for settings in (body.get("properties") or {}).get("loadBalancingSettings") or []:
        if not isinstance(settings, dict):
            continue
        own = str(settings.get("id") or "").lower().rstrip("/")
        if wanted and (own == wanted or wanted.endswith("/loadbalancingsettings/" + str(settings.get("name")).lower())):
            value = (settings.get("properties") or {}).get("additionalLatencyMilliseconds")
            return float(or_default(value, 0))
    return 0.0


def deployed_view(body: dict[str, Any], pool: dict[str, Any]) -> tuple[list[tuple[str, bool, int, int]], float]:
    """What the edges route a pool by: its backends and its latency window."""
    return snapshot(pool), latency_window(body, pool)


def fill_read_only(body: dict[str, Any], fd_id: str, name: str) -> None:
    body.update(id=fd_id, name=name, type="Microsoft.Network/frontDoors")
    body.setdefault("location", "Global")
    props = body.setdefault("properties", {})
    props.setdefault("cname", f"{name.lower()}.azurefd.net")
    props.setdefault("frontdoorId", str(uuid.uuid5(uuid.NAMESPACE_URL, fd_id.lower())))
    props.setdefault("resourceState", "Enabled")
    props.setdefault("provisioningState", "Succeeded")
    for key in _CHILD_LISTS:
        for child in props.get(key) or []:
            if isinstance(child, dict) and child.get("name"):
                child.setdefault("id", f"{fd_id}/{key}/{child['name']}")


class FrontDoorClassic:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            route("GET", FD, self.get, f"{NS}/frontDoors/read"),
            route("PUT", FD, self.put, f"{NS}/frontDoors/write", in_force=self.in_force),
            route("GET", RG + "/providers/Microsoft.Network/frontDoors", self.list_rg, f"{NS}/frontDoors/read"),
        ]

    def seed(self, body: dict[str, Any], sub: str, rg: str, name: str) -> None:
        fd_id = front_door_id(sub, rg, name)
        body = copy.deepcopy(body)
        fill_read_only(body, fd_id, name)
        body["properties"]["provisioningState"] = "Succeeded"
        self.world.classic[fd_id.lower()] = body
        for pool in pools(body):
            targets, window = deployed_view(body, pool)
            self.world.record_deployment(pool_key(fd_id, pool["name"]), targets, seeded=True, window=window)

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            body = self.world.classic.get(front_door_id(m["sub"], m["rg"], m["name"]).lower())
            if body is None:
                raise ArmError(
                    404,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.Network/frontDoors/{m['name']}' "
                    f"under resource group '{m['rg']}' was not found.",
                )
            return Response(200, copy.deepcopy(body))

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            prefix = f"/subscriptions/{m['sub']}/resourcegroups/{m['rg']}/".lower()
            items = [copy.deepcopy(b) for k, b in sorted(self.world.classic.items()) if k.startswith(prefix)]
            return Response(200, {"value": items})

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        if not isinstance(body.get("properties"), dict):
            raise bad_request("BadRequest", "A Front Door needs a properties object.")
        props = {k: v for k, v in body["properties"].items() if k not in _READ_ONLY}
        for pool in props.get("backendPools") or []:
            for backend in (pool.get("properties") or {}).get("backends") or []:
                validate_target(backend, f"Backend {backend.get('address')}")
        for settings in props.get("loadBalancingSettings") or []:
            latency = ((settings or {}).get("properties") or {}).get("additionalLatencyMilliseconds")
            if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int) or latency < 0):
                raise bad_request(
                    "BadRequest", f"additionalLatencyMilliseconds must be a whole number of ms, not {latency!r}."
                )
        with self.world.lock:
            self.world.settle()
            fd_id = front_door_id(m["sub"], m["rg"], m["name"])
            existing = self.world.classic.get(fd_id.lower())
            if existing is None:
                # Microsoft stopped accepting new classic profiles on 1 April 2025; updates still work.
                raise bad_request(
                    "BadRequest",
                    "Creating a new Front Door (classic) is no longer supported; use Front Door Standard/Premium.",
                )
            new = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "name", "type", "properties")}
            new["properties"] = copy.deepcopy(props)
            for generated in ("cname", "frontdoorId", "resourceState"):
                new["properties"][generated] = existing["properties"].get(generated)
            fill_read_only(new, fd_id, m["name"])
            new["properties"]["provisioningState"] = "Updating"
            key = fd_id.lower()

            def done(op: Operation) -> None:
                new["properties"]["provisioningState"] = "Succeeded"

            def failed(op: Operation) -> None:
                # Only a PUT whose operation was set to fail gets here, and it never replaced the Front Door.
                if self.world.classic.get(key) is existing:
                    existing["properties"]["provisioningState"] = "Failed"

            # The operation starts first: one set to fail is accepted but never applied or propagated.
            op = self.world.ops.start(
                fd_id,
                self.world.now(),
                self.world.timings.classic_put,
                done,
                failed,
                subscription=m["sub"],
                namespace=NS,
                location="global",
                retry_after=self.world.timings.retry_after_afd,
            )
            headers = lro_headers(op, req.base_url, req.query.get("api-version", API))
            # An accepted asynchronous write answers 202 (learn.microsoft.com/azure/azure-resource-manager/
            # management/async-operations); an update is never a create here.
            if op.error:
                existing["properties"]["provisioningState"] = "Updating"
                return Response(202, copy.deepcopy(new), headers)
            enabled = self._record(fd_id, existing, new)
            self.world.classic[key] = new
            return Response(202, copy.deepcopy(new), headers, enabled_origins=enabled)

    def in_force(self, m: dict[str, str]) -> int | None:
        """Backends enabled over every pool of the Front Door as configured now (None when it does not exist)."""
        body = self.world.classic.get(front_door_id(m["sub"], m["rg"], m["name"]).lower())
        if body is None:
            return None
        return sum(1 for pool in pools(body) for target in snapshot(pool) if target[1])

    def _record(self, fd_id: str, old: dict[str, Any], new: dict[str, Any]) -> int:
        """Record each changed pool's new deployment; return enabled backends in the changed pools (all if none)."""
        before = {p["name"].lower(): deployed_view(old, p) for p in pools(old)}
        changed = 0
        touched = False
        for pool in pools(new):
            view = deployed_view(new, pool)
            if before.get(pool["name"].lower()) != view:
                targets, window = view
                # The pool's new configuration reaches the edges progressively (world.edge_delays), like a
                # Standard origin's; the PUT's provisioningState stays classic's only deployment signal.
                self.world.record_deployment(pool_key(fd_id, pool["name"]), targets, window=window)
                changed += sum(1 for t in targets if t[1])
                touched = True
        if touched:
            return changed
        return sum(1 for p in pools(new) for t in snapshot(p) if t[1])
