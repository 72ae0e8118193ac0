"""Microsoft.Network public IP addresses and prefixes: GET, list, PUT, DELETE; who uses each one.

- AKS's own outbound IPs: a cluster with a Standard load balancer and outboundType loadBalancer (the defaults)
  has `loadBalancerProfile.managedOutboundIPs.count` (default 1) public IPs that AKS created in its node resource
  group, named as in `effectiveOutboundIPs` when the body lists them (a GUID otherwise). They exist while the
  cluster does and "are deleted with blue"; "A public IP that AKS created cannot be reused as a bring-your-own
  outbound IP" (learn.microsoft.com/azure/aks/load-balancer-standard, limitations; reference/azure-more.md §(b)).
- `properties.ipConfiguration` names the load balancer frontend that uses an IP: the cluster's `kubernetes` load
  balancer in its node resource group, for its AKS-created IPs and for the customer-owned ones it lists in
  `loadBalancerProfile.outboundIPs.publicIPs`. A prefix in `outboundIPPrefixes.publicIPPrefixes` shows
  `loadBalancerFrontendIpConfiguration` the same way. ip_in_use_by / prefix_in_use_by answer this for the AKS
  rules (refuse an IP another cluster already uses).
- Deleting an IP a load balancer uses is refused: 400 PublicIPAddressInUse "Public IP address {id} can not be
  deleted since it is still allocated to resource {ipConfiguration}." (the code and wording ARM gives, as seen in
  provider issues); the same for a prefix (PublicIpPrefixInUse).
Not modelled: Basic SKU, IPv6, DNS labels, zones beyond storing them, allocation from a prefix.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from local.azure_emulator import arm_lro
from local.azure_emulator.arm_store import key, view
from local.azure_emulator.errors import ArmError, not_found
from local.azure_emulator.lro import Operation
from local.azure_emulator.network_rules import location_required
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import short_hash

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.world import World

NS = "Microsoft.Network"
API = "2026-03-01"
IP_TYPE = "Microsoft.Network/publicIPAddresses"
PREFIX_TYPE = "Microsoft.Network/publicIPPrefixes"
IP = RG + "/providers/Microsoft.Network/publicIPAddresses/{name}"
PREFIX = RG + "/providers/Microsoft.Network/publicIPPrefixes/{name}"
_READ_ONLY: tuple[str, ...] = ("provisioningState", "ipConfiguration", "ipAddress", "resourceGuid", "ipPrefix")
_READ_ONLY += ("publicIPAddresses", "loadBalancerFrontendIpConfiguration")


def _address(rid: str) -> str:
    digest = short_hash(rid, 6)
    return f"20.{int(digest[0:2], 16)}.{int(digest[2:4], 16)}.{max(int(digest[4:6], 16), 1) % 254 + 1}"


def _lb(cluster: Cluster) -> str:
    node_rg = cluster.props.get("nodeResourceGroup") or ""
    return f"/subscriptions/{cluster.sub}/resourceGroups/{node_rg}/providers/Microsoft.Network/loadBalancers/kubernetes"


def _lb_profile(cluster: Cluster) -> dict[str, Any] | None:
    network = cluster.props.get("networkProfile") or {}
    if str(network.get("outboundType") or "loadBalancer") != "loadBalancer":
        return None
    if str(network.get("loadBalancerSku") or "standard").lower() != "standard":
        return None
    return dict(network.get("loadBalancerProfile") or {})


def _ids(refs: Any) -> list[str]:
    return [str(r["id"]) for r in refs or [] if isinstance(r, dict) and r.get("id")]


def outbound_ips(world: World) -> list[dict[str, Any]]:
    """Every AKS-created outbound public IP of every cluster, as a GET returns it."""
    found = []
    for _, cluster in sorted(world.clusters.items()):
        profile = _lb_profile(cluster)
        if profile is None or profile.get("outboundIPs") or profile.get("outboundIPPrefixes"):
            continue  # customer-owned outbound IPs instead of managed ones
        count = int((profile.get("managedOutboundIPs") or {}).get("count") or 1)
        node_rg = str(cluster.props.get("nodeResourceGroup") or "")
        ids = [
            i for i in _ids(profile.get("effectiveOutboundIPs")) if f"/resourcegroups/{node_rg.lower()}/" in i.lower()
        ]
        base = f"/subscriptions/{cluster.sub}/resourceGroups/{node_rg}/providers/Microsoft.Network/publicIPAddresses/"
        while len(ids) < count:
            ids.append(base + str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.id.lower()}#outbound#{len(ids)}")))
        for rid in ids[:count]:
            name = rid.rsplit("/", 1)[-1]
            found.append(
                {
                    "id": rid,
                    "name": name,
                    "type": IP_TYPE,
                    "location": cluster.location,
                    "tags": {"aks-managed-type": "aks-slb-managed-outbound-ip"},
                    "sku": {"name": "Standard", "tier": "Regional"},
                    "properties": {
                        "provisioningState": "Succeeded",
                        "ipAddress": _address(rid),
                        "publicIPAddressVersion": "IPv4",
                        "publicIPAllocationMethod": "Static",
                        "idleTimeoutInMinutes": 30,
                        "ipConfiguration": {"id": f"{_lb(cluster)}/frontendIPConfigurations/{name}"},
                    },
                }
            )
    return found


def ip_in_use_by(world: World, public_ip_id: str) -> str | None:
    """The load balancer frontend ipConfiguration that uses a public IP, or None."""
    target = key(public_ip_id)
    for ip in outbound_ips(world):
        if key(ip["id"]) == target:
            return str(ip["properties"]["ipConfiguration"]["id"])
    for _, cluster in sorted(world.clusters.items()):
        profile = _lb_profile(cluster) or {}
        if target in {key(i) for i in _ids((profile.get("outboundIPs") or {}).get("publicIPs"))}:
            return f"{_lb(cluster)}/frontendIPConfigurations/{public_ip_id.rsplit('/', 1)[-1]}"
    return None


def prefix_in_use_by(world: World, prefix_id: str) -> str | None:
    target = key(prefix_id)
    for _, cluster in sorted(world.clusters.items()):
        profile = _lb_profile(cluster) or {}
        if target in {key(i) for i in _ids((profile.get("outboundIPPrefixes") or {}).get("publicIPPrefixes"))}:
            return f"{_lb(cluster)}/frontendIPConfigurations/{prefix_id.rsplit('/', 1)[-1]}"
    return None


class PublicIps:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        ips, prefixes = f"{NS}/publicIPAddresses", f"{NS}/publicIPPrefixes"
        return [
            route("GET", SUB + "/providers/Microsoft.Network/publicIPAddresses", self.list_ips_sub, f"{ips}/read"),
            route("GET", RG + "/providers/Microsoft.Network/publicIPAddresses", self.list_ips_rg, f"{ips}/read"),
            route("GET", IP, self.get_ip, f"{ips}/read"),
            route("PUT", IP, self.put_ip, f"{ips}/write"),
            route("DELETE", IP, self.delete_ip, f"{ips}/delete"),
            route(
                "GET", RG + "/providers/Microsoft.Network/publicIPPrefixes", self.list_prefixes_rg, f"{prefixes}/read"
            ),
            route("GET", PREFIX, self.get_prefix, f"{prefixes}/read"),
            route("PUT", PREFIX, self.put_prefix, f"{prefixes}/write"),
            route("DELETE", PREFIX, self.delete_prefix, f"{prefixes}/delete"),
        ]

    # -- views ---------------------------------------------------------------------------------------------

    def ip_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        body = view(stored)
        user = ip_in_use_by(self.world, stored["id"])
        if user:
            body["properties"]["ipConfiguration"] = {"id": user}
        return body

    def prefix_view(self, stored: dict[str, Any]) -> dict[str, Any]:
        body = view(stored)
        user = prefix_in_use_by(self.world, stored["id"])
        if user:
            body["properties"]["loadBalancerFrontendIpConfiguration"] = {"id": user}
        return body

    def all_ips(self, sub: str, rg: str | None = None) -> list[dict[str, Any]]:
        stored = {key(b["id"]): self.ip_view(b) for b in self.world.arm.of_type(IP_TYPE, sub=sub, rg=rg)}
        for ip in outbound_ips(self.world):
            parts = key(ip["id"]).split("/")
            if parts[2] == sub.lower() and (rg is None or parts[4] == rg.lower()):
                stored.setdefault(key(ip["id"]), ip)
        return [stored[k] for k in sorted(stored)]

    # -- public IP addresses ---------------------------------------------------------------------------------

    def _ip_id(self, m: dict[str, str]) -> str:
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{IP_TYPE}/{m['name']}"

    def list_ips_sub(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, {"value": self.all_ips(m["sub"])})

    def list_ips_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, {"value": self.all_ips(m["sub"], m["rg"])})

    def get_ip(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            rid = key(self._ip_id(m))
            found = next((ip for ip in self.all_ips(m["sub"], m["rg"]) if key(ip["id"]) == rid), None)
            if found is None:
                raise not_found(IP_TYPE, m["name"], m["rg"])
            return Response(200, found)

    def put_ip(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            self.world.settle()
            rid = self._ip_id(m)
            existing = self.world.arm.get(rid)
            location = body.get("location") or (existing or {}).get("location")
            if not location:
                raise location_required()
            props = {k: copy.deepcopy(v) for k, v in (body.get("properties") or {}).items() if k not in _READ_ONLY}
            props.setdefault("publicIPAddressVersion", "IPv4")
            props.setdefault("publicIPAllocationMethod", "Static")
            props.setdefault("idleTimeoutInMinutes", 4)
            props.update(ipAddress=_address(rid), provisioningState="Updating")
            stored = {
                "id": rid,
                "name": m["name"],
                "type": IP_TYPE,
                "location": location,
                "tags": body.get("tags") or {},
                "sku": body.get("sku") or {"name": "Standard", "tier": "Regional"},
                "properties": props,
            }
            if body.get("zones"):
                stored["zones"] = list(body["zones"])
            self.world.arm.put(stored)
            op = self._finish(rid, m["sub"], str(location), stored)
            return Response(200 if existing else 201, self.ip_view(stored), arm_lro.put_headers(op, req, API))

    def delete_ip(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            rid = self._ip_id(m)
            user = ip_in_use_by(self.world, rid)
            if user:
                raise ArmError(
                    400,
                    "PublicIPAddressInUse",
                    f"Public IP address {rid} can not be deleted since it is still allocated to resource {user}.",
                )
            stored = self.world.arm.get(rid)
            if stored is None:
                return Response(204)
            return self._delete(req, stored, m["sub"])

    # -- public IP prefixes ----------------------------------------------------------------------------------

    def _prefix_id(self, m: dict[str, str]) -> str:
        return f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{PREFIX_TYPE}/{m['name']}"

    def list_prefixes_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            items = [self.prefix_view(b) for b in self.world.arm.of_type(PREFIX_TYPE, sub=m["sub"], rg=m["rg"])]
            return Response(200, {"value": items})

    def get_prefix(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            stored = self.world.arm.get(self._prefix_id(m))
            if stored is None:
                raise not_found(PREFIX_TYPE, m["name"], m["rg"])
            return Response(200, self.prefix_view(stored))

    def put_prefix(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            self.world.settle()
            rid = self._prefix_id(m)
            existing = self.world.arm.get(rid)
            location = body.get("location") or (existing or {}).get("location")
            if not location:
                raise location_required()
            props = {k: copy.deepcopy(v) for k, v in (body.get("properties") or {}).items() if k not in _READ_ONLY}
            length = int(props.get("prefixLength") or 28)
            props.setdefault("publicIPAddressVersion", "IPv4")
            address = _address(rid).rsplit(".", 1)[0] + ".0"
            props.update(prefixLength=length, ipPrefix=f"{address}/{length}", provisioningState="Updating")
            stored = {
                "id": rid,
                "name": m["name"],
                "type": PREFIX_TYPE,
                "location": location,
                "tags": body.get("tags") or {},
                "sku": body.get("sku") or {"name": "Standard", "tier": "Regional"},
                "properties": props,
            }
            self.world.arm.put(stored)
            op = self._finish(rid, m["sub"], str(location), stored)
            return Response(200 if existing else 201, self.prefix_view(stored), arm_lro.put_headers(op, req, API))

    def delete_prefix(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            rid = self._prefix_id(m)
            user = prefix_in_use_by(self.world, rid)
            if user:
                raise ArmError(
                    400,
                    "PublicIpPrefixInUse",
                    f"Public IP prefix {rid} can not be deleted since it is still allocated to resource {user}.",
                )
            stored = self.world.arm.get(rid)
            if stored is None:
                return Response(204)
            return self._delete(req, stored, m["sub"])

    # -- helpers ---------------------------------------------------------------------------------------------

    def _finish(self, rid: str, sub: str, location: str, stored: dict[str, Any]) -> Operation:
        def done(op: Operation) -> None:
            stored["properties"]["provisioningState"] = "Succeeded"

        def failed(op: Operation) -> None:
            stored["properties"]["provisioningState"] = "Failed"

        seconds = self.world.timings.network_write
        return arm_lro.start(self.world, rid, "write", sub, NS, location, seconds, done, failed)

    def _delete(self, req: Request, stored: dict[str, Any], sub: str) -> Response:
        stored["properties"]["provisioningState"] = "Deleting"
        rid = stored["id"]

        def done(op: Operation) -> None:
            self.world.arm.pop(rid)

        seconds = self.world.timings.network_write
        op = arm_lro.start(self.world, rid, "delete", sub, NS, str(stored.get("location", "")), seconds, done)
        return Response(202, None, arm_lro.delete_headers(op, req, API))
