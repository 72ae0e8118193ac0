"""Which addresses of a subnet AKS node pools use: the subnet's read-only `ipConfigurations`, and what is left.

Per node of every pool whose `vnetSubnetID` is the subnet (node_counts: the count, plus surge nodes while the
pool upgrades; stopped clusters still hold their NICs):
- Azure CNI (networkPlugin azure, no overlay, no pod subnet): the node's address plus one per pod it may run,
  `maxPods + 1`: "IP addresses for the pods and the cluster's nodes are assigned from the specified subnet",
  planned as (nodes + 1) * (maxPods + 1) (learn.microsoft.com/azure/aks/configure-azure-cni, "Plan IP
  addressing for your cluster"); the +1 node is the upgrade surge, modelled here as the surge nodes themselves.
- Azure CNI Overlay (networkPluginMode overlay): one per node; pods get addresses from the overlay podCidr
  ("Only the nodes get IPs from the subnet", learn.microsoft.com/azure/aks/azure-cni-overlay).
- Azure CNI with a pod subnet (pool podSubnetID): one per node in the node subnet, maxPods per node in the pod
  subnet (dynamic IP allocation, learn.microsoft.com/azure/aks/configure-azure-cni-dynamic-ip-allocation; counted
  at its ceiling, the harsher reading).
- kubenet and BYO CNI (none): one per node ("Only the nodes receive a routable IP address",
  learn.microsoft.com/azure/aks/configure-kubenet).
maxPods defaults when a pool leaves it out: 30 (Azure CNI), 250 (overlay), 110 (kubenet) (learn.microsoft.com/
azure/aks/concepts-network-ip-address-planning, "Maximum pods per node").

"Azure reserves the first four and last IP address for a total of 5 IP addresses within each subnet"
(learn.microsoft.com/azure/virtual-network/virtual-networks-faq), so a /24 has 251 usable addresses.
A pool without vnetSubnetID uses the VNet AKS manages in the node resource group, which is not modelled.

The ids are those of VMSS NIC ipConfigurations in the node resource group:
`.../virtualMachineScaleSets/aks-{pool}-{n}-vmss/virtualMachines/{i}/networkInterfaces/aks-{pool}-{n}-vmss/
ipConfigurations/ipconfig{j}` (samples/arm/more/SOURCES.md: "a read-only list of {id} of NIC or VMSS
ipConfigurations", inferred).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from local.azure_emulator import node_counts
from local.azure_emulator.arm_store import key
from local.azure_emulator.world import short_hash

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.world import World

RESERVED_PER_SUBNET = 5
_DEFAULT_MAX_PODS = {"azure": 30, "overlay": 250, "kubenet": 110, "none": 110}


def _plugin(cluster_props: dict[str, Any]) -> str:
    network = cluster_props.get("networkProfile") or {}
    plugin = str(network.get("networkPlugin") or "kubenet").lower()
    if plugin == "azure" and str(network.get("networkPluginMode") or "").lower() == "overlay":
        return "overlay"
    return plugin


def max_pods(cluster_props: dict[str, Any], pool: dict[str, Any]) -> int:
    return int(pool.get("maxPods") or _DEFAULT_MAX_PODS.get(_plugin(cluster_props), 110))


def per_node(cluster_props: dict[str, Any], pool: dict[str, Any], subnet_id: str) -> int:
    """Addresses one node of `pool` takes in `subnet_id` (0 when the pool does not use that subnet)."""
    plugin, target = _plugin(cluster_props), key(subnet_id)
    node_subnet = key(str(pool.get("vnetSubnetID") or ""))
    pod_subnet = key(str(pool.get("podSubnetID") or ""))
    taken = 0
    if node_subnet == target:
        taken += max_pods(cluster_props, pool) + 1 if plugin == "azure" and not pod_subnet else 1
    if pod_subnet and pod_subnet == target and plugin == "azure":
        taken += max_pods(cluster_props, pool)
    return taken


def required(cluster_body: dict[str, Any], subnet_id: str, with_surge: bool = True) -> int:
    """Addresses a cluster (an ARM body, e.g. the one about to be PUT) needs in a subnet, with surge room for an
    upgrade of every pool when `with_surge`: what to compare with free_addresses before creating green."""
    props = cluster_body.get("properties") or {}
    return sum(
        node_counts.nodes(pool, with_surge) * per_node(props, pool, subnet_id)
        for pool in props.get("agentPoolProfiles") or []
    )


def _vmss(cluster: Cluster, pool: dict[str, Any]) -> str:
    digits = str(int(short_hash(cluster.id), 16) % 10**8).zfill(8)
    node_rg = cluster.props.get("nodeResourceGroup") or ""
    name = f"aks-{pool.get('name', 'pool')}-{digits}-vmss"
    group = f"/subscriptions/{cluster.sub}/resourceGroups/{node_rg}"
    return f"{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}"


def ip_configurations(world: World, subnet_id: str) -> list[dict[str, str]]:
    """The subnet's `ipConfigurations`, one {id} per address AKS node pools use in it now."""
    found: list[dict[str, str]] = []
    for _, cluster in sorted(world.clusters.items()):
        for pool in node_counts.pools(cluster):
            each = per_node(cluster.props, pool, subnet_id)
            if not each:
                continue
            vmss = _vmss(cluster, pool)
            nic = vmss.rsplit("/", 1)[-1]
            for index in range(node_counts.nodes(pool)):
                base = f"{vmss}/virtualMachines/{index}/networkInterfaces/{nic}/ipConfigurations/ipconfig"
                found += [{"id": f"{base}{j}"} for j in range(1, each + 1)]
    return found


def users(world: World, subnet_id: str) -> list[str]:
    """Ids of the clusters whose pools use the subnet."""
    return [
        cluster.id
        for _, cluster in sorted(world.clusters.items())
        if any(per_node(cluster.props, pool, subnet_id) for pool in node_counts.pools(cluster))
    ]


def used(world: World, subnet_id: str) -> int:
    return sum(
        node_counts.nodes(pool) * per_node(cluster.props, pool, subnet_id)
        for cluster in world.clusters.values()
        for pool in node_counts.pools(cluster)
    )


def capacity(prefixes: list[str]) -> int:
    """Usable addresses of a subnet with these prefixes: each prefix's size less the 5 Azure reserves."""
    return sum(max(ipaddress.ip_network(p).num_addresses - RESERVED_PER_SUBNET, 0) for p in prefixes)


def prefixes_of(subnet_body: dict[str, Any]) -> list[str]:
    props = subnet_body.get("properties") or {}
    return list(props.get("addressPrefixes") or ([props["addressPrefix"]] if props.get("addressPrefix") else []))


def free(world: World, subnet_id: str) -> int:
    """Usable addresses nobody holds (negative when the subnet is over-committed)."""
    body = world.arm.get(subnet_id)
    if body is None:
        raise KeyError(f"no subnet {subnet_id}")
    return capacity(prefixes_of(body)) - used(world, subnet_id)
