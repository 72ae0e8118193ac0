"""A managed cluster as ARM keeps it: the body, with read-only fields stripped on write and filled on read."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.azure_emulator.k8s_objects import ClusterObjects
from local.azure_emulator.lro import Operation
from local.azure_emulator.world import short_hash

CLUSTER_TYPE = "Microsoft.ContainerService/ManagedClusters"
POOL_TYPE = "Microsoft.ContainerService/managedClusters/agentPools"
NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202611.04.0"

_TOP_READ_ONLY = ("id", "name", "type", "systemData", "etag", "resourceGroup")
_PROPS_READ_ONLY = (
    "provisioningState",
    "powerState",
    "currentKubernetesVersion",
    "fqdn",
    "azurePortalFQDN",
    "privateFQDN",
    "maxAgentPools",
    "resourceUID",
)
_POOL_READ_ONLY = ("currentOrchestratorVersion", "provisioningState", "nodeImageVersion", "eTag", "etag")


def cluster_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"


@dataclass
class Cluster:
    sub: str
    rg: str
    name: str
    body: dict[str, Any]
    created: datetime
    pools_created: dict[str, datetime] = field(default_factory=dict)
    # The operation running on the cluster (or on `op_pool`), named as AKS names it in a 409: the
    # provisioning state it gives (Creating, Upgrading, Updating, Stopping, Starting, Deleting).
    op: Operation | None = None
    op_name: str = ""
    op_pool: str | None = None
    # The Kubernetes objects the cluster runs (k8s_objects, kube): AKS's own until someone deploys more.
    kube: ClusterObjects = field(default_factory=ClusterObjects)
    # What Azure lets its workloads do: pull images, get tokens (workload_access.WorkloadGate; set by aks_identity).
    gate: Any = None

    @property
    def id(self) -> str:
        return str(self.body["id"])

    @property
    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body.setdefault("properties", {})
        return props

    @property
    def location(self) -> str:
        return str(self.body.get("location", "eastus"))

    def pools(self) -> list[dict[str, Any]]:
        pools: list[dict[str, Any]] = self.props.setdefault("agentPoolProfiles", [])
        return pools

    def pool(self, name: str) -> dict[str, Any] | None:
        return next((p for p in self.pools() if p.get("name", "").lower() == name.lower()), None)

    def running(self) -> bool:
        return self.props.get("powerState", {}).get("code") == "Running"

    def busy(self) -> bool:
        return self.op is not None and self.op.status == "InProgress"


def strip_read_only(body: dict[str, Any]) -> dict[str, Any]:
    """What ARM keeps of a PUT body: read-only fields are ignored, not rejected."""
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in _TOP_READ_ONLY}
    props = clean.setdefault("properties", {})
    for key in _PROPS_READ_ONLY:
        props.pop(key, None)
    oidc = props.get("oidcIssuerProfile")
    if isinstance(oidc, dict):
        oidc.pop("issuerURL", None)
    identity = clean.get("identity")
    if isinstance(identity, dict):
        identity.pop("principalId", None)
        identity.pop("tenantId", None)
        for entry in (identity.get("userAssignedIdentities") or {}).values():
            if isinstance(entry, dict):
                entry.pop("principalId", None)
                entry.pop("clientId", None)
    # An add-on's identity is AKS's to create and read-only ("addonProfiles.azureKeyvaultSecretsProvider.identity
    # ... is created by AKS and read-only", reference/azure-more.md (d)).
    for addon in (props.get("addonProfiles") or {}).values():
        if isinstance(addon, dict):
            addon.pop("identity", None)
    web_app_routing = (props.get("ingressProfile") or {}).get("webAppRouting")
    if isinstance(web_app_routing, dict):
        web_app_routing.pop("identity", None)
    lb = props.get("networkProfile", {}).get("loadBalancerProfile")
    if isinstance(lb, dict):
        lb.pop("effectiveOutboundIPs", None)
    for pool in props.get("agentPoolProfiles") or []:
        strip_pool(pool)
    return clean


def strip_pool(pool: dict[str, Any]) -> dict[str, Any]:
    for key in _POOL_READ_ONLY:
        pool.pop(key, None)
    return pool


def default_node_rg(rg: str, name: str, location: str) -> str:
    return f"MC_{rg}_{name}_{location}"


def fill_read_only(cluster: Cluster) -> None:
    """Generated fields a real cluster has; kept once set so repeated GETs agree."""
    body, props = cluster.body, cluster.props
    body["id"] = cluster_id(cluster.sub, cluster.rg, cluster.name)
    body["name"] = cluster.name
    body["type"] = CLUSTER_TYPE
    location = cluster.location
    digest = short_hash(body["id"])
    subdomain = props.get("fqdnSubdomain")
    if subdomain:
        # A private cluster with a custom private DNS zone names its API server from fqdnSubdomain instead of a
        # dnsPrefix (`<fqdnSubdomain>.privatelink.<region>.azmk8s.io`, reference/azure-more.md (b)).
        props.setdefault("privateFQDN", f"{subdomain}.privatelink.{location}.azmk8s.io")
        props.setdefault("azurePortalFQDN", f"{subdomain}-{digest}.portal.hcp.{location}.azmk8s.io")
    else:
        props.setdefault("dnsPrefix", f"{cluster.name[:40]}-dns")
        props.setdefault("fqdn", f"{props['dnsPrefix']}-{digest}.hcp.{location}.azmk8s.io")
        props.setdefault("azurePortalFQDN", f"{props['dnsPrefix']}-{digest}.portal.hcp.{location}.azmk8s.io")
    props.setdefault("nodeResourceGroup", default_node_rg(cluster.rg, cluster.name, location))
    props.setdefault("maxAgentPools", 100)
    props.setdefault("powerState", {"code": "Running"})
    # Identities, the OIDC issuer URL and add-on identities are AKS's to make: aks_identity.
    for pool in cluster.pools():
        pool.setdefault("count", 1)
        pool.setdefault("mode", "System")
        pool.setdefault("osType", "Linux")
        pool.setdefault("type", "VirtualMachineScaleSets")
        pool.setdefault("nodeImageVersion", NODE_IMAGE)
        pool.setdefault("powerState", {"code": "Running"})
        pool.setdefault("provisioningState", "Succeeded")


def pool_body(cluster: Cluster, pool: dict[str, Any]) -> dict[str, Any]:
    """The agentPools sub-resource view of one agentPoolProfiles entry."""
    props = {k: v for k, v in pool.items() if k != "name"}
    return {
        "id": f"{cluster.id}/agentPools/{pool['name']}",
        "name": pool["name"],
        "type": POOL_TYPE,
        "properties": props,
    }
