"""Does an ARM id name something that exists in the emulated Azure, and where is it?

Alert scopes, diagnostic setting targets and destinations, system topic sources and Azure Function destinations
must exist: ARM refuses references to nothing. What counts: managed clusters and their agent pools, Front Door
(Standard/Premium and classic), Microsoft.KubernetesConfiguration resources, everything in the ArmStore (Event
Grid, Insights, Network), the public IPs AKS created for clusters, and resources declared as existing without an
emulated API (emulator/resource seed items). A subscription or resource group exists when something emulated is in
it (a cluster's node resource group counts): the emulator keeps no list of either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from local.azure_emulator.arm_store import key, resource_type, segment

if TYPE_CHECKING:
    from local.azure_emulator.world import World


def _all_ids(world: World) -> list[str]:
    from local.azure_emulator.network_public_ips import outbound_ips  # a cluster's AKS-created outbound IPs

    ids = list(world.clusters) + list(world.afd) + list(world.classic) + list(world.extensions) + list(world.flux)
    ids += list(world.arm.bodies) + list(world.arm.declared)
    ids += [key(ip["id"]) for ip in outbound_ips(world)]
    return ids


def exists(world: World, resource_id: str) -> bool:
    rid = key(resource_id)
    rtype = resource_type(resource_id).lower()
    if rtype == "microsoft.resources/subscriptions":
        return any(segment(i, "subscriptions") == segment(rid, "subscriptions") for i in _all_ids(world))
    if rtype == "microsoft.resources/resourcegroups":
        sub, rg = segment(rid, "subscriptions"), segment(rid, "resourcegroups")
        node_rgs = {(c.sub.lower(), str(c.props.get("nodeResourceGroup", "")).lower()) for c in world.clusters.values()}
        return (sub, rg) in node_rgs or any(
            segment(i, "subscriptions") == sub and segment(i, "resourcegroups") == rg for i in _all_ids(world)
        )
    if rtype == "microsoft.containerservice/managedclusters/agentpools":
        cluster = world.clusters.get(rid.rsplit("/agentpools/", 1)[0])
        return cluster is not None and cluster.pool(rid.rsplit("/", 1)[-1]) is not None
    return rid in set(_all_ids(world))


def location_of(world: World, resource_id: str) -> str | None:
    """The region of a regional resource (lowercase, no spaces); "global" or None when unknown."""
    rid = key(resource_id)
    body = world.clusters[rid].body if rid in world.clusters else None
    body = body or world.arm.bodies.get(rid) or world.arm.declared.get(rid) or world.afd.get(rid)
    location = (body or {}).get("location")
    return str(location).replace(" ", "").lower() if location else None
