"""Microsoft.Compute `locations/{location}/usages`: the regional vCPU quota and what uses it.

GET /subscriptions/{sub}/providers/Microsoft.Compute/locations/{location}/usages answers
{"value": [{"unit": "Count", "currentValue", "limit", "name": {"value", "localizedValue"}}, ...]} (the shape of
samples/arm/more/compute-usages-list.json; real names `cores` "Total Regional vCPUs", `virtualMachines`,
`virtualMachineScaleSets`, family items such as `standardDSv3Family`, reference/azure-more.md §(b)).

currentValue counts every managed cluster's nodes in that subscription and region: node count (plus surge nodes
while a pool upgrades, node_counts) times the VM size's vCPUs (vm_sizes), in `cores` and in the size's family;
stopped clusters count too, as "vCPU quota counts cores that are allocated and deallocated" (DOCS
virtual-machines/quotas.md). `virtualMachines` counts nodes, `virtualMachineScaleSets` node pools. Seeded usage of
compute the emulator does not model (otherUsage) adds to currentValue. Green's nodes plus surge must fit both
`cores` and the family while blue still exists (reference/azure-more.md §(b)).

Limits are per subscription and region: seeded with {"type": "emulator/computeQuota", "subscription", "location",
"limits": {"cores": 200, "standardDDSv5Family": 200}, "otherUsage": {...}}, else DEFAULT_LIMITS (a modest
pay-as-you-go subscription: 100 regional vCPUs and 100 per family; 25,000 VMs, 2,500 scale sets and 2,500
availability sets per region, learn.microsoft.com/azure/azure-resource-manager/management/
azure-subscription-service-limits).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from local.azure_emulator import node_counts, vm_sizes
from local.azure_emulator.protocol import SUB, Request, Response, Route, route

if TYPE_CHECKING:
    from local.azure_emulator.world import World

NS = "Microsoft.Compute"
DEFAULT_LIMITS = {"availabilitySets": 2500, "cores": 100, "virtualMachines": 25000, "virtualMachineScaleSets": 2500}
DEFAULT_FAMILY_LIMIT = 100
_LABELS = {
    "availabilitySets": "Availability Sets",
    "cores": "Total Regional vCPUs",
    "virtualMachines": "Virtual Machines",
    "virtualMachineScaleSets": "Virtual Machine Scale Sets",
}


def region(location: str) -> str:
    return location.replace(" ", "").lower()


def current(world: World, sub: str, location: str) -> dict[str, int]:
    """Usage name -> currentValue for one subscription and region."""
    used: dict[str, int] = defaultdict(int)
    for name, value in world.arm.compute_other.get((sub.lower(), region(location)), {}).items():
        used[name] += int(value)
    for cluster in world.clusters.values():
        if cluster.sub.lower() != sub.lower() or region(cluster.location) != region(location):
            continue
        for pool in node_counts.pools(cluster):
            count = node_counts.nodes(pool)
            size = vm_sizes.lookup(node_counts.vm_size(pool))
            used["cores"] += count * size.vcpus
            used["virtualMachines"] += count
            used["virtualMachineScaleSets"] += 1
            if size.family:
                used[size.family] += count * size.vcpus
    return dict(used)


def limits(world: World, sub: str, location: str) -> dict[str, int]:
    seeded = world.arm.compute_limits.get((sub.lower(), region(location)), {})
    merged = {**DEFAULT_LIMITS, **{f: DEFAULT_FAMILY_LIMIT for f in vm_sizes.FAMILIES}}
    merged.update({k: int(v) for k, v in seeded.items()})
    return merged


def usages(world: World, sub: str, location: str) -> list[dict[str, Any]]:
    used, caps = current(world, sub, location), limits(world, sub, location)
    names = sorted(set(caps) | set(used), key=lambda n: (n not in _LABELS, n))
    return [
        {
            "unit": "Count",
            "currentValue": used.get(name, 0),
            "limit": caps.get(name, DEFAULT_FAMILY_LIMIT),
            "name": {"value": name, "localizedValue": _LABELS.get(name) or vm_sizes.family_label(name)},
        }
        for name in names
    ]


def shortfall(world: World, sub: str, location: str, extra_vcpus: dict[str, int]) -> dict[str, int]:
    """For a plan that adds vCPUs (usage name -> vCPUs, `cores` included), how many each usage would exceed its
    limit by; empty when it fits. What an AKS create or scale would be refused for."""
    used, caps = current(world, sub, location), limits(world, sub, location)
    over = {n: used.get(n, 0) + v - caps.get(n, DEFAULT_FAMILY_LIMIT) for n, v in extra_vcpus.items()}
    return {n: v for n, v in over.items() if v > 0}


def cluster_vcpus(cluster_body: dict[str, Any], with_surge: bool = True) -> dict[str, int]:
    """vCPUs a cluster body (about to be PUT) needs by usage name, with upgrade surge when `with_surge`."""
    need: dict[str, int] = defaultdict(int)
    for pool in (cluster_body.get("properties") or {}).get("agentPoolProfiles") or []:
        size = vm_sizes.lookup(node_counts.vm_size(pool))
        vcpus = node_counts.nodes(pool, with_surge) * size.vcpus
        need["cores"] += vcpus
        if size.family:
            need[size.family] += vcpus
    return dict(need)


class ComputeUsages:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        path = SUB + "/providers/Microsoft.Compute/locations/{location}/usages"
        return [route("GET", path, self.list, f"{NS}/locations/usages/read")]

    def list(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, {"value": usages(self.world, m["sub"], m["location"])})
