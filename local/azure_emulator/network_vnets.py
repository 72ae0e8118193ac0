"""Microsoft.Network virtual networks and subnets: GET, list, PUT, DELETE (writes long-running, arm_lro).

A VNet's GET shows its subnets inline; each subnet is also its own resource (`.../subnets/{name}`), as ARM
has it. A subnet's GET carries the read-only `ipConfigurations` of what uses it (network_usage: the NICs of AKS
node pools whose vnetSubnetID or podSubnetID it is) and its `delegations` (name, serviceName; the response adds
id, type, `actions` and provisioningState, as in samples/arm/more/network-subnet-get-with-delegation.json).
What is refused, and how: network_rules. Not modelled: NSGs, route tables, NAT gateways, service endpoints and
peering beyond storing what is sent; concurrent-write throttling (AnotherOperationInProgress).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from local.azure_emulator import arm_lro, network_rules, network_usage
from local.azure_emulator.arm_store import key, last_name, view
from local.azure_emulator.errors import ArmError, not_found
from local.azure_emulator.lro import Operation
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.Network"
API = "2026-03-01"
VNET_TYPE = "Microsoft.Network/virtualNetworks"
SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets"
VNET = RG + "/providers/Microsoft.Network/virtualNetworks/{vnet}"
SUBNET = VNET + "/subnets/{subnet}"
_READ_ONLY = ("provisioningState", "ipConfigurations", "purpose", "resourceGuid", "etag", "privateEndpoints")
# Actions a delegation grants, by service (as subnet GETs show them; others get the join action).
_DELEGATION_ACTIONS = {
    "microsoft.containerservice/managedclusters": ["Microsoft.Network/virtualNetworks/subnets/join/action"],
    "microsoft.web/serverfarms": ["Microsoft.Network/virtualNetworks/subnets/action"],
    "microsoft.app/environments": ["Microsoft.Network/virtualNetworks/subnets/join/action"],
}


def vnet_id(sub: str, rg: str, vnet: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/{vnet}"


class VirtualNetworks:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        read, write, delete = (f"{NS}/virtualNetworks/{v}" for v in ("read", "write", "delete"))
        sread, swrite, sdelete = (f"{NS}/virtualNetworks/subnets/{v}" for v in ("read", "write", "delete"))
        return [
            route("GET", SUB + "/providers/Microsoft.Network/virtualNetworks", self.list_sub, read),
            route("GET", RG + "/providers/Microsoft.Network/virtualNetworks", self.list_rg, read),
            route("GET", VNET, self.get_vnet, read),
            route("PUT", VNET, self.put_vnet, write),
            route("DELETE", VNET, self.delete_vnet, delete),
            route("GET", VNET + "/usages", self.usages, read),
            route("GET", VNET + "/subnets", self.list_subnets, sread),
            route("GET", SUBNET, self.get_subnet, sread),
            route("PUT", SUBNET, self.put_subnet, swrite),
            route("DELETE", SUBNET, self.delete_subnet, sdelete),
        ]

    # -- views ---------------------------------------------------------------------------------------------

    def subnet_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        body = view(stored)
        configs = network_usage.ip_configurations(self.world, stored["id"])
        if configs:
            body["properties"]["ipConfigurations"] = configs
        return body

    def vnet_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        body = view(stored)
        body["properties"]["subnets"] = [self.subnet_view(s) for s in self.world.arm.children(stored["id"], "subnets")]
        return body

    def _vnet(self, m: dict[str, str]) -> dict[str, Any]:
        stored = self.world.arm.get(vnet_id(m["sub"], m["rg"], m["vnet"]))
        if stored is None:
            raise not_found(VNET_TYPE, m["vnet"], m["rg"])
        return stored

    def _subnet(self, m: dict[str, str]) -> dict[str, Any]:
        vnet = self._vnet(m)
        stored = self.world.arm.get(f"{vnet['id']}/subnets/{m['subnet']}")
        if stored is None:
            raise not_found(SUBNET_TYPE, f"{m['vnet']}/{m['subnet']}", m["rg"])
        return stored

    # -- reads ---------------------------------------------------------------------------------------------

    def list_sub(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            items = [self.vnet_view(b) for b in self.world.arm.of_type(VNET_TYPE, sub=m["sub"])]
            return Response(200, {"value": items})

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            items = [self.vnet_view(b) for b in self.world.arm.of_type(VNET_TYPE, sub=m["sub"], rg=m["rg"])]
            return Response(200, {"value": items})

    def get_vnet(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, self.vnet_view(self._vnet(m)))

    def usages(self, req: Request, m: dict[str, str]) -> Response:
        """Per subnet: usable addresses (limit: size less the 5 reserved) and those in use (currentValue), as
        VirtualNetworks_ListUsage answers (SPEC example VirtualNetworkListUsage.json: a /16 has limit 65531)."""
        with self.world.lock:
            self.world.settle()
            vnet = self._vnet(m)
            items = [
                {
                    "id": s["id"],
                    "currentValue": float(network_usage.used(self.world, s["id"])),
                    "limit": float(network_usage.capacity(network_usage.prefixes_of(s))),
                    "name": {"value": "Subnet size and usage", "localizedValue": "Subnet size and usage"},
                    "unit": "Count",
                }
                for s in self.world.arm.children(vnet["id"], "subnets")
            ]
            return Response(200, {"value": items})

    def list_subnets(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            vnet = self._vnet(m)
            return Response(
                200, {"value": [self.subnet_view(s) for s in self.world.arm.children(vnet["id"], "subnets")]}
            )

    def get_subnet(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, self.subnet_view(self._subnet(m)))

    # -- writes --------------------------------------------------------------------------------------------

    def put_vnet(self, req: Request, m: dict[str, str]) -> Response:
        body = _strip(req.json_object())
        with self.world.lock:
            self.world.settle()
            rid = vnet_id(m["sub"], m["rg"], m["vnet"])
            existing = self.world.arm.get(rid)
            location = body.get("location") or (existing or {}).get("location")
            if not location:
                raise network_rules.location_required()
            props = body.setdefault("properties", {})
            space = list((props.get("addressSpace") or {}).get("addressPrefixes") or [])
            if not space:
                raise ArmError(
                    400, "InvalidRequestFormat", f"Virtual network {rid} needs addressSpace.addressPrefixes."
                )
            for prefix in space:
                network_rules.parse(prefix, rid)
            subnets = props.pop("subnets", None) or []
            wanted = {str(s.get("name", "")).lower(): s for s in subnets if isinstance(s, dict)}
            if "" in wanted:
                raise ArmError(400, "InvalidRequestFormat", "Every subnet needs a name.")
            # A VNet PUT replaces the subnet list: the ones it leaves out go, unless something uses them.
            current = self.world.arm.children(rid, "subnets")
            for old in current:
                if last_name(old["id"]).lower() not in wanted:
                    self._refuse_if_used(old, network_rules.in_use)
            planned = {n: self._subnet_body(rid, m["vnet"], s, space) for n, s in wanted.items()}
            nets = {
                b["name"]: [network_rules.parse(p, b["id"]) for p in network_usage.prefixes_of(b)]
                for b in planned.values()
            }
            for name, own in nets.items():
                network_rules.check_overlap(name, own, nets, m["vnet"])
            for old in current:
                new = planned.get(last_name(old["id"]).lower())
                if new is not None and network_usage.prefixes_of(new) != network_usage.prefixes_of(old):
                    self._refuse_if_used(old, network_rules.in_use_update)
            stored = {
                **{k: v for k, v in body.items() if k != "properties"},
                "id": rid,
                "name": m["vnet"],
                "type": VNET_TYPE,
                "location": location,
                "etag": _etag(),
                "properties": {
                    **props,
                    "addressSpace": {"addressPrefixes": space},
                    "resourceGuid": (existing or {}).get("properties", {}).get("resourceGuid") or _guid(rid),
                    "provisioningState": "Updating",
                },
            }
            for old in current:
                if last_name(old["id"]).lower() not in wanted:
                    self.world.arm.pop(old["id"])
            self.world.arm.put(stored)
            for sub_body in planned.values():
                self.world.arm.put(sub_body)
            op = self._start(rid, "write", m["sub"], location, [stored, *planned.values()])
            status = 200 if existing else 201
            return Response(status, self.vnet_view(stored), arm_lro.put_headers(op, req, API))

    def put_subnet(self, req: Request, m: dict[str, str]) -> Response:
        body = _strip(req.json_object())
        with self.world.lock:
            self.world.settle()
            vnet = self._vnet(m)
            space = list(vnet["properties"]["addressSpace"]["addressPrefixes"])
            body["name"] = m["subnet"]
            planned = self._subnet_body(vnet["id"], m["vnet"], body, space)
            own = [network_rules.parse(p, planned["id"]) for p in network_usage.prefixes_of(planned)]
            others = {
                s["name"]: [network_rules.parse(p, s["id"]) for p in network_usage.prefixes_of(s)]
                for s in self.world.arm.children(vnet["id"], "subnets")
            }
            network_rules.check_overlap(m["subnet"], own, others, m["vnet"])
            existing = self.world.arm.get(planned["id"])
            if existing is not None and network_usage.prefixes_of(existing) != network_usage.prefixes_of(planned):
                self._refuse_if_used(existing, network_rules.in_use_update)
            self.world.arm.put(planned)
            op = self._start(planned["id"], "write", m["sub"], str(vnet.get("location", "")), [planned])
            status = 200 if existing else 201
            return Response(status, self.subnet_view(planned), arm_lro.put_headers(op, req, API))

    def delete_subnet(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            vnet = self._vnet(m)
            stored = self.world.arm.get(f"{vnet['id']}/subnets/{m['subnet']}")
            if stored is None:
                return Response(204)
            self._refuse_if_used(stored, network_rules.in_use)
            return self._delete(req, [stored], str(vnet.get("location", "")), m["sub"])

    def delete_vnet(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            stored = self.world.arm.get(vnet_id(m["sub"], m["rg"], m["vnet"]))
            if stored is None:
                return Response(204)
            subnets = self.world.arm.children(stored["id"], "subnets")
            for subnet in subnets:
                self._refuse_if_used(subnet, network_rules.in_use)
            return self._delete(req, [*subnets, stored], str(stored.get("location", "")), m["sub"])

    # -- helpers -------------------------------------------------------------------------------------------

    def _subnet_body(self, vnet: str, vnet_name: str, body: dict[str, Any], space: list[str]) -> dict[str, Any]:
        name = str(body.get("name"))
        rid = f"{vnet}/subnets/{name}"
        props = {k: copy.deepcopy(v) for k, v in (body.get("properties") or {}).items() if k not in _READ_ONLY}
        prefixes = list(
            props.get("addressPrefixes") or ([props["addressPrefix"]] if props.get("addressPrefix") else [])
        )
        network_rules.check_subnet_prefixes(name, vnet_name, rid, prefixes, space)
        delegations = []
        for delegation in props.get("delegations") or []:
            service = str(
                (delegation.get("properties") or {}).get("serviceName") or delegation.get("serviceName") or ""
            )
            if not delegation.get("name") or not service:
                raise ArmError(
                    400, "InvalidRequestFormat", f"Delegations of subnet {rid} need a name and a serviceName."
                )
            delegations.append(
                {
                    "name": delegation["name"],
                    "id": f"{rid}/delegations/{delegation['name']}",
                    "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
                    "properties": {
                        "serviceName": service,
                        "actions": _DELEGATION_ACTIONS.get(
                            service.lower(), ["Microsoft.Network/virtualNetworks/subnets/join/action"]
                        ),
                        "provisioningState": "Succeeded",
                    },
                }
            )
        props["delegations"] = delegations
        props["provisioningState"] = "Updating"
        props.setdefault("privateEndpointNetworkPolicies", "Disabled")
        props.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
        return {"id": rid, "name": name, "type": SUBNET_TYPE, "etag": _etag(), "properties": props}

    def _refuse_if_used(self, subnet: dict[str, Any], error: Any) -> None:
        configs = network_usage.ip_configurations(self.world, subnet["id"])
        if configs:
            raise error(subnet["name"], configs[0]["id"])

    def _start(self, rid: str, kind: str, sub: str, location: str, bodies: list[dict[str, Any]]) -> Operation:
        def finish(state: str) -> Any:
            def effect(op: Operation) -> None:
                for body in bodies:
                    body["properties"]["provisioningState"] = state

            return effect

        seconds = self.world.timings.network_write
        return arm_lro.start(self.world, rid, kind, sub, NS, location, seconds, finish("Succeeded"), finish("Failed"))

    def _delete(self, req: Request, bodies: list[dict[str, Any]], location: str, sub: str) -> Response:
        for body in bodies:
            body["properties"]["provisioningState"] = "Deleting"
        keys = [key(b["id"]) for b in bodies]

        def done(op: Operation) -> None:
            for k in keys:
                self.world.arm.bodies.pop(k, None)

        op = arm_lro.start(
            self.world, bodies[-1]["id"], "delete", sub, NS, location, self.world.timings.network_write, done
        )
        return Response(202, None, arm_lro.delete_headers(op, req, API))


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "type", "etag") and not k.startswith("_")}
    props = clean.get("properties")
    clean["properties"] = dict(props) if isinstance(props, dict) else {}
    for k in _READ_ONLY:
        clean["properties"].pop(k, None)
    return clean


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _guid(rid: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, rid.lower()))
