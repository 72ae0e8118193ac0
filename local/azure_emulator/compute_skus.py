"""Microsoft.Compute resource SKUs: GET /subscriptions/{sub}/providers/Microsoft.Compute/skus[?$filter=location eq 'x'].

The VM sizes of vm_sizes, each `{"resourceType": "virtualMachines", "name", "tier": "Standard", "size", "family",
"locations": [region], "locationInfo": [{"location", "zones"}], "capabilities": [{"name": "vCPUs", "value"},
{"name": "vCPUsAvailable", "value"}], "restrictions": []}` per region (the ResourceSku model of azure-mgmt-compute;
`family` is the quota family the usages API counts, e.g. standardDDSv5Family). "Only **location** filter is
supported currently" (the SDK's docstring of resource_skus.list, from the spec); any other filter answers every
region.
Regions offered: the usual AKS regions plus every region a cluster is in. Not modelled: restrictions
(NotAvailableForSubscription), other resource types (disks, availabilitySets).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from local.azure_emulator import vm_sizes
from local.azure_emulator.compute_usages import region
from local.azure_emulator.protocol import SUB, Request, Response, Route, route

if TYPE_CHECKING:
    from local.azure_emulator.world import World

REGIONS = ("centralus", "eastus", "eastus2", "northeurope", "southcentralus", "uksouth", "westeurope", "westus2")
_FILTER = re.compile(r"location\s+eq\s+'([^']+)'", re.IGNORECASE)


def sku(size: vm_sizes.VmSize, location: str) -> dict[str, Any]:
    return {
        "resourceType": "virtualMachines",
        "name": size.name,
        "tier": "Standard",
        "size": size.name.split("_", 1)[-1],
        "family": size.family,
        "locations": [location],
        "locationInfo": [{"location": location, "zones": ["1", "2", "3"]}],
        "capabilities": [
            {"name": "vCPUs", "value": str(size.vcpus)},
            {"name": "vCPUsAvailable", "value": str(size.vcpus)},
        ],
        "restrictions": [],
    }


class ComputeSkus:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [route("GET", SUB + "/providers/Microsoft.Compute/skus", self.list, "Microsoft.Compute/skus/read")]

    def list(self, req: Request, m: dict[str, str]) -> Response:
        wanted = _FILTER.search(req.query.get("$filter", ""))
        with self.world.lock:
            regions = sorted(set(REGIONS) | {region(c.location) for c in self.world.clusters.values()})
        if wanted:
            regions = [region(wanted.group(1))]
        items = [sku(size, r) for r in regions for _, size in sorted(vm_sizes.CATALOG.items())]
        return Response(200, {"value": items})
