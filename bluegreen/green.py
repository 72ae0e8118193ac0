"""Green's definition: blue's, with what cannot be copied handled rather than copied.

Every writable setting of blue is carried over, except what ARM refuses twice, never returns, or what
must be green's own. Each such rule says why (the facts are in shared/reference/azure-more.md (b)).
`define()` returns the PUT body, the diff an operator reads in `plan` (carried / changed / dropped,
each with its reason), and the checks that block a run before anything is written.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from azure.mgmt.containerservice.models import ManagedCluster

from bluegreen.clusters import ENVIRONMENT_TAG, ORIGIN_TAG, RUN_TAG
from bluegreen.contract import Check, DefinitionChange, GreenOverrides

# Add-ons AKS has retired: a create that names them is refused. HTTP application routing was retired on
# 3 March 2025 (learn.microsoft.com/azure/aks/http-application-routing); the dashboard long before.
RETIRED_ADDONS = {
    "httpapplicationrouting": "HTTP application routing was retired in March 2025 (use the app routing add-on)",
    "kubedashboard": "the Kubernetes dashboard add-on was retired (AKS 1.19+)",
}


@dataclass
class GreenDefinition:
    body: dict[str, Any]
    changes: list[DefinitionChange] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def change(self, path: str, kind: str, reason: str, blue: Any = None, green: Any = None) -> None:
        self.changes.append(DefinitionChange(field=path, change=kind, reason=reason, blue=blue, green=green))

    def block(self, name: str, detail: str) -> None:
        self.checks.append(Check(name=name, status="block", detail=detail))

    def warn(self, name: str, detail: str) -> None:
        self.checks.append(Check(name=name, status="warn", detail=detail))


def carries_kubelet_identity(blue: dict[str, Any]) -> bool:
    """Green keeps blue's kubelet identity only if it is a pre-created one (outside blue's node resource group) on
    a cluster with a user-assigned identity: AKS refuses any other (CustomKubeletIdentityOnlySupportedOnUserAssigned
    MSICluster; learn.microsoft.com/azure/aks/use-managed-identity, "Use a pre-created kubelet managed identity")."""
    props = blue.get("properties") or {}
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
    node_rg = str(props.get("nodeResourceGroup") or "").lower()
    in_node_rg = bool(node_rg) and f"/resourcegroups/{node_rg}/" in str(kubelet.get("resourceId", "")).lower()
    user_assigned = str((blue.get("identity") or {}).get("type", "")).lower() == "userassigned"
    return bool(kubelet) and user_assigned and not in_node_rg


def dns_label(name: str, limit: int = 54) -> str:
    # dnsPrefix: 1-54 alphanumerics and hyphens, starting and ending alphanumeric.
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in name)[:limit]
    return cleaned.strip("-") or "aks"


def define(
    blue: dict[str, Any],
    *,
    name: str,
    version: str,
    run_id: str,
    environment: str,
    origin: str,
    overrides: GreenOverrides,
    service_principal_secret: str | None = None,
) -> GreenDefinition:
    """Green's ARM PUT body from blue's GET body. `service_principal_secret`: the value, when the create
    itself asks (the plan passes None and shows the reference)."""
    body = ManagedCluster(copy.deepcopy(blue)).as_dict(exclude_readonly=True)
    props = body.setdefault("properties", {})
    blue_props = blue.get("properties") or {}
    result = GreenDefinition(body)

    props["kubernetesVersion"] = version
    result.change(
        "kubernetesVersion",
        "changed",
        "green starts at its clone version",
        blue_props.get("kubernetesVersion"),
        version,
    )
    _names(result, props, blue_props, name)
    if props.pop("nodeResourceGroup", None) is not None:
        result.change("nodeResourceGroup", "dropped", "must be new: AKS refuses to reuse blue's; it names green's")
    _identities(result, props, blue, overrides, service_principal_secret)
    _network(result, props, overrides)
    _addons(result, props)
    _run_command(result, props)
    _pools(result, props, version, overrides)
    tags = dict(body.get("tags") or {})
    tags.update({RUN_TAG: run_id, ENVIRONMENT_TAG: environment, ORIGIN_TAG: origin})
    body["tags"] = tags
    result.change("tags", "changed", "blue's tags, plus this run's (run, environment, origin)")
    touched = {c.field.split(".", 1)[0] for c in result.changes}
    for key in sorted(props):
        if key not in touched:
            result.change(key, "carried", "as blue has it")
    return result


def _names(result: GreenDefinition, props: dict[str, Any], blue_props: dict[str, Any], name: str) -> None:
    private = bool((props.get("apiServerAccessProfile") or {}).get("enablePrivateCluster"))
    if private and props.get("fqdnSubdomain"):
        # A private cluster with a custom private DNS zone uses fqdnSubdomain, never with dnsPrefix (the CLI
        # refuses both); like dnsPrefix it cannot change after create, so green needs its own.
        props.pop("dnsPrefix", None)
        props["fqdnSubdomain"] = dns_label(name)
        result.change(
            "fqdnSubdomain",
            "changed",
            "private cluster: green's own subdomain, no dnsPrefix",
            blue_props.get("fqdnSubdomain"),
            props["fqdnSubdomain"],
        )
        return
    props.pop("fqdnSubdomain", None)
    props["dnsPrefix"] = dns_label(name)
    result.change(
        "dnsPrefix",
        "changed",
        "immutable and part of the API server's FQDN: green's own",
        blue_props.get("dnsPrefix"),
        props["dnsPrefix"],
    )


def _identities(
    result: GreenDefinition,
    props: dict[str, Any],
    blue: dict[str, Any],
    overrides: GreenOverrides,
    secret: str | None,
) -> None:
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity")
    if kubelet and not carries_kubelet_identity(blue):
        props["identityProfile"].pop("kubeletidentity")
        if not props["identityProfile"]:
            props.pop("identityProfile")
        node_rg = str((blue.get("properties") or {}).get("nodeResourceGroup") or "").lower()
        managed = bool(node_rg) and f"/resourcegroups/{node_rg}/" in str(kubelet.get("resourceId", "")).lower()
        why = (
            "AKS-managed (in blue's node resource group)"
            if managed
            else "a pre-created kubelet identity needs a user-assigned cluster identity, which blue does not have"
        )
        result.change(
            "identityProfile.kubeletidentity",
            "dropped",
            f"{why}: AKS makes green its own, and blue's grants are copied to it",
        )
    profile = props.get("servicePrincipalProfile") or {}
    if not profile:
        return
    if profile.get("clientId") == "msi":
        props.pop("servicePrincipalProfile")  # a managed-identity cluster; the CLI drops it too
        result.change("servicePrincipalProfile", "dropped", "a managed-identity cluster: nothing to send")
        return
    # A service-principal cluster: ARM never returns the secret, and a create needs it.
    if overrides.service_principal_secret is None:
        result.block(
            "ServicePrincipalSecret",
            f"blue authenticates with service principal {profile.get('clientId')}, whose secret ARM never returns: "
            "set clusters.service_principal_secret to a Key Vault secret reference, or move blue to managed "
            "identity first (az aks update --enable-managed-identity)",
        )
        return
    if secret is not None:
        profile["secret"] = secret
    result.change(
        "servicePrincipalProfile.secret",
        "changed",
        f"never returned by ARM: read from {overrides.service_principal_secret}",
    )


def _network(result: GreenDefinition, props: dict[str, Any], overrides: GreenOverrides) -> None:
    network = props.get("networkProfile") or {}
    balancer = network.get("loadBalancerProfile") or {}
    byo = {key: balancer.pop(key) for key in ("outboundIPs", "outboundIPPrefixes") if key in balancer}
    if overrides.outbound_ips:
        balancer["outboundIPs"] = {"publicIPs": [{"id": i} for i in overrides.outbound_ips]}
    if overrides.outbound_ip_prefixes:
        balancer["outboundIPPrefixes"] = {"publicIPPrefixes": [{"id": i} for i in overrides.outbound_ip_prefixes]}
    if byo and not (overrides.outbound_ips or overrides.outbound_ip_prefixes):
        balancer.setdefault("managedOutboundIPs", {"count": 1})
        result.change(
            "networkProfile.loadBalancerProfile",
            "changed",
            "blue's outbound IPs stay blue's: AKS gives green managed ones",
        )
        result.warn(
            "EgressAddresses",
            "green egresses from new public IPs (blue's own outbound IPs cannot be shared): update partners' "
            "allow-lists, or set clusters.green_outbound_ips",
        )
    elif byo:
        result.change("networkProfile.loadBalancerProfile", "changed", "outbound IPs from clusters.green_outbound_ips")


def _addons(result: GreenDefinition, props: dict[str, Any]) -> None:
    addons = props.get("addonProfiles") or {}
    for key in [k for k in addons if k.lower() in RETIRED_ADDONS]:
        addons.pop(key)
        result.change(f"addonProfiles.{key}", "dropped", RETIRED_ADDONS[key.lower()])


def _run_command(result: GreenDefinition, props: dict[str, Any]) -> None:
    if (props.get("apiServerAccessProfile") or {}).get("disableRunCommand"):
        result.block(
            "RunCommandDisabled",
            "blue has apiServerAccessProfile.disableRunCommand = true, so green could never be verified from the "
            "inside: enable run command on blue (az aks command ... --enable-run-command, or az aks update "
            "--enable-run-command), then start the run again",
        )


def _pools(result: GreenDefinition, props: dict[str, Any], version: str, overrides: GreenOverrides) -> None:
    kubenet = str((props.get("networkProfile") or {}).get("networkPlugin") or "").lower() == "kubenet"
    for pool in props.get("agentPoolProfiles") or []:
        pool["orchestratorVersion"] = version
        for dropped in ("nodeImageVersion", "creationData", "powerState"):
            pool.pop(dropped, None)
        subnet = pool.get("vnetSubnetID")
        if not subnet:
            continue
        if overrides.subnet_id:
            pool["vnetSubnetID"] = overrides.subnet_id
            result.change(
                f"agentPoolProfiles.{pool.get('name')}.vnetSubnetID",
                "changed",
                "from clusters.green_subnet",
                subnet,
                overrides.subnet_id,
            )
        elif kubenet:
            result.block(
                "SubnetCannotBeShared",
                f"blue uses kubenet in {subnet}; two kubenet clusters cannot share a subnet: set clusters.green_subnet",
            )
    result.change(
        "agentPoolProfiles", "changed", "each pool at green's version; node images and snapshots are AKS's choice"
    )
