"""Pre-checks that block a run before anything is written: room in the subnet, vCPU quota, and for a gradual
switch Front Door's latency window in every origin group.

All are read, never reserved: they say whether green fits now, next to blue (blue stays until the end).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients
from bluegreen.contract import Check
from bluegreen.errors import classify
from bluegreen.traffic import TrafficProvider

# AKS's default surge for a pool that sets none (one extra node per pool during an upgrade).
DEFAULT_SURGE_NODES = 1


@dataclass(frozen=True)
class PoolNeed:
    name: str
    vm_size: str
    nodes: int  # what the create allocates
    max_nodes: int  # what the autoscaler may grow to
    surge: int  # extra nodes while green is upgraded
    addresses_per_node: int
    subnet: str | None


def surge_nodes(pool: dict[str, Any], nodes: int) -> int:
    """`upgradeSettings.maxSurge`: a node count ("3") or a percentage of the pool ("33%"), rounded up."""
    surge = str((pool.get("upgradeSettings") or {}).get("maxSurge") or "").strip()
    if not surge:
        return DEFAULT_SURGE_NODES
    if surge.endswith("%"):
        return math.ceil(nodes * float(surge[:-1]) / 100)
    return int(surge)


def addresses_per_node(network: dict[str, Any], pool: dict[str, Any]) -> int:
    """Azure CNI (flat) gives every pod a subnet address: maxPods + 1 per node. Overlay, kubenet and a separate
    pod subnet take one per node (learn.microsoft.com/azure/aks/azure-cni-overlay, configure-azure-cni)."""
    flat = (
        str(network.get("networkPlugin") or "").lower() == "azure"
        and str(network.get("networkPluginMode") or "").lower() != "overlay"
        and not pool.get("podSubnetID")
    )
    return int(pool.get("maxPods") or 30) + 1 if flat else 1


def pool_needs(definition: dict[str, Any]) -> list[PoolNeed]:
    props = definition.get("properties") or {}
    network = props.get("networkProfile") or {}
    needs = []
    for pool in props.get("agentPoolProfiles") or []:
        nodes = int(pool.get("count") or 0)
        most = int(pool.get("maxCount") or nodes) if pool.get("enableAutoScaling") else nodes
        needs.append(
            PoolNeed(
                name=str(pool.get("name")),
                vm_size=str(pool.get("vmSize") or ""),
                nodes=nodes,
                max_nodes=max(most, nodes),
                surge=surge_nodes(pool, max(most, nodes)),
                addresses_per_node=addresses_per_node(network, pool),
                subnet=pool.get("vnetSubnetID"),
            )
        )
    return needs


class Capacity:
    """Reads of the network and compute providers for the checks."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def subnet_checks(self, definition: dict[str, Any]) -> list[Check]:
        """Free addresses in each subnet green's pools use, for their max node counts plus surge."""
        wanted: dict[str, int] = defaultdict(int)
        for need in pool_needs(definition):
            if need.subnet:
                wanted[need.subnet] += need.addresses_per_node * (need.max_nodes + need.surge)
        if not wanted:
            return [Check(name="SubnetAddresses", status="ok", detail="AKS makes green's virtual network")]
        checks = []
        for subnet, addresses in sorted(wanted.items()):
            free = self._free_addresses(subnet)
            name = ResourceId.parse(subnet).name
            if free is None:
                checks.append(Check(name="SubnetAddresses", status="block", detail=f"subnet {subnet} does not exist"))
            elif addresses > free:
                checks.append(
                    Check(
                        name="SubnetAddresses",
                        status="block",
                        detail=f"green's pools need {addresses} addresses in {name} at their max node counts plus "
                        f"surge; {free} are free: set clusters.green_subnet to a larger subnet, or lower maxCount",
                    )
                )
            else:
                checks.append(
                    Check(name="SubnetAddresses", status="ok", detail=f"{name}: {addresses} needed, {free} free")
                )
        return checks

    def _free_addresses(self, subnet_id: str) -> int | None:
        rid = ResourceId.parse(subnet_id)
        vnet = rid.segments[0][1]
        try:
            usages = list(self._clients.network(rid.subscription).virtual_networks.list_usage(rid.resource_group, vnet))
        except Exception as exc:
            error = classify(exc)
            if error.status == 404:
                return None
            raise error from exc
        for usage in usages:
            if str(usage.id or "").rstrip("/").lower() == subnet_id.rstrip("/").lower():
                return int(usage.limit) - int(usage.current_value)
        return None

    def quota_checks(self, definition: dict[str, Any], location: str, subscription: str) -> list[Check]:
        """Green's vCPUs (nodes plus surge) against the region's free quota: per VM family and in total."""
        needs = pool_needs(definition)
        sizes = self._sizes(subscription, location)
        by_family: dict[str, int] = defaultdict(int)
        unknown = []
        total = 0
        for need in needs:
            size = sizes.get(need.vm_size.lower())
            if size is None:
                unknown.append(need.vm_size)
                continue
            family, vcpus = size
            cores = vcpus * (need.nodes + need.surge)
            by_family[family] += cores
            total += cores
        if unknown:
            return [
                Check(
                    name="VmSizesOffered",
                    status="block",
                    detail=f"{location} does not offer {', '.join(sorted(set(unknown)))}",
                )
            ]
        free = self._free_quota(subscription, location)
        short = [
            f"{family}: {cores} vCPUs needed, {free.get(family.lower(), 0)} free"
            for family, cores in sorted(by_family.items())
            if cores > free.get(family.lower(), 0)
        ]
        if total > free.get("cores", 0):
            short.append(f"regional total: {total} vCPUs needed, {free.get('cores', 0)} free")
        if short:
            detail = "; ".join(short) + f" in {location}: request a quota increase, or retire an idle cluster first"
            return [Check(name="VcpuQuota", status="block", detail=detail)]
        return [
            Check(
                name="VcpuQuota",
                status="ok",
                detail=f"{total} vCPUs for green's nodes and surge fit {location}'s free quota",
            )
        ]

    def _sizes(self, subscription: str, location: str) -> dict[str, tuple[str, int]]:
        """VM size (lowercased) -> (quota family, vCPUs), from the region's resource SKUs."""
        try:
            skus = self._clients.compute(subscription).resource_skus.list(filter=f"location eq '{location}'")
            found = {}
            for sku in skus:
                if str(sku.resource_type or "").lower() != "virtualmachines" or not sku.family:
                    continue
                vcpus = next((c.value for c in sku.capabilities or [] if c.name == "vCPUs"), None)
                if vcpus is not None:
                    found[str(sku.name).lower()] = (str(sku.family), int(vcpus))
            return found
        except Exception as exc:
            raise classify(exc) from exc

    def _free_quota(self, subscription: str, location: str) -> dict[str, int]:
        try:
            usages = self._clients.compute(subscription).usage.list(location)
            return {str(u.name.value).lower(): int(u.limit) - int(u.current_value) for u in usages}
        except Exception as exc:
            raise classify(exc) from exc


# What a latency window should be for weights to apply (Front Door's own example value is 50 ms).
SUGGESTED_LATENCY_MS = 50


def traffic_weight_checks(provider: TrafficProvider, groups: list[str]) -> list[Check]:
    """A gradual switch moves traffic by origin weight: one `TrafficWeights` check per origin group.

    Front Door applies weights only among the origins within the group's additional latency window of the
    fastest; with a window of 0 (the default) it sends everything to the fastest and the steps mean nothing
    (reference: azure-more.md (h)). Session affinity keeps a session on the origin that served it first, so
    blue's sessions stay on blue until blue's origin is disabled at the last step.
    """
    checks = []
    for group in groups:
        lb = provider.load_balancing(group)
        sticky = (
            f"; session affinity is on ({lb.affinity_setting}): sessions that started on blue stay on blue until "
            "blue's origin is disabled at the last step, so each step's share counts new sessions only"
            if lb.session_affinity
            else ""
        )
        if not lb.additional_latency_ms:
            shown = "not set" if lb.additional_latency_ms is None else "0"
            checks.append(
                Check(
                    name="TrafficWeights",
                    status="block",
                    detail=f"{group}: the latency window is {shown} ({lb.latency_setting}), so Front Door sends every "
                    f"request to the fastest origin and ignores the weights of a gradual switch: set it to "
                    f"{SUGGESTED_LATENCY_MS} (ms) or more, or use switch.mode = all-at-once{sticky}",
                )
            )
            continue
        checks.append(
            Check(
                name="TrafficWeights",
                status="warn" if lb.session_affinity else "ok",
                detail=f"{group}: weights apply among origins within {lb.additional_latency_ms} ms of the fastest"
                + sticky,
            )
        )
    return checks
