"""What AKS refuses in a cluster create or update that could never work, with AKS's error codes.

Where AKS's documentation gives no code for a refusal, the closest code in AKS's own error-code list (the Go
package `apierror` AKS publishes, "These codes are from Microsoft.Azure.ResourceProvider.API.ErrorCode") is used
and the comment says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from local.azure_emulator import aks_identity
from local.azure_emulator.directory import TENANT
from local.azure_emulator.errors import ArmError, bad_request

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.world import World

# Add-ons AKS has retired: enabling one is refused.
# - httpApplicationRouting: "HTTP application routing add-on (preview) for Azure Kubernetes Service (AKS) will be
#   retired on 03 March 2025"; it "doesn't work with AKS versions 1.22.6+" and "has been retired and doesn't work on
#   any cluster Kubernetes version currently in support" (learn.microsoft.com/azure/aks/http-application-routing,
#   .../app-routing-migration).
# - kubeDashboard: "The Kubernetes dashboard add-on" is deprecated for AKS (learn.microsoft.com/azure/aks/
#   kubernetes-dashboard) and does not exist on the Kubernetes versions AKS supports.
RETIRED_ADDONS = {
    "httpapplicationrouting": "httpApplicationRouting was retired on 3 March 2025; use the application routing "
    "add-on (ingressProfile.webAppRouting) instead. See https://learn.microsoft.com/azure/aks/app-routing-migration",
    "kubedashboard": "kubeDashboard is retired and not available on supported Kubernetes versions; use the "
    "Kubernetes resource view in the Azure portal instead.",
}


def check(world: World, body: dict[str, Any], existing: Cluster | None, cluster_id: str) -> None:
    """Every refusal, on the body as it will be stored (an update's body merged with what it keeps)."""
    props = body.get("properties") or {}
    _service_principal(world, props, existing)
    _dns_names(props, existing)
    _retired_addons(props)
    _outbound_ips(world, props, cluster_id)
    _kubenet_subnet(world, props, cluster_id)
    _oidc(props, existing)
    if existing is None:
        _subnet_room(world, body, cluster_id)
        _vcpu_quota(world, body, cluster_id)


def _service_principal(world: World, props: dict[str, Any], existing: Cluster | None) -> None:
    """A service-principal cluster needs the principal's secret with every PUT: ARM never returns it (GET and PUT
    responses leave `servicePrincipalProfile.secret` out, SPEC ManagedClustersCreate_Update.json), and the CLI
    drops the profile before re-PUTting a fetched cluster "because validation otherwise fails" (reference/
    azure-more.md (b)). AKS answers a profile it cannot log in with: 400 "The credentials in
    ServicePrincipalProfile were invalid. Please see https://aka.ms/aks-sp-help for more details." (code
    BadRequest, as AKS's users quote it), and an unknown client id with ServicePrincipalNotFound."""
    if aks_identity.uses_msi(props):
        return
    profile = props.get("servicePrincipalProfile") or {}
    client = str(profile.get("clientId"))
    if not profile.get("secret"):
        raise bad_request(
            "BadRequest",
            "The credentials in ServicePrincipalProfile were invalid. Please see https://aka.ms/aks-sp-help for "
            f"more details. (Details: no client secret was given for service principal {client}.)",
        )
    if world.directory.principal_by_app_id(client) is None:
        raise bad_request(
            "ServicePrincipalNotFound",
            f"Service principal clientID: {client} not found in Active Directory tenant {TENANT}, Please see "
            "https://aka.ms/aks-sp-help for more details.",
        )


def _dns_names(props: dict[str, Any], existing: Cluster | None) -> None:
    """`dnsPrefix` and `fqdnSubdomain` are mutually exclusive ("Azure's API requires these to be mutually
    exclusive", Azure/terraform-azurerm-avm-res-containerservice-managedcluster #167; the CLI refuses both
    flags: "--dns-name-prefix and --fqdn-subdomain cannot be used at same time", Azure/azure-cli #17430) and
    neither can change after create (reference/azure-more.md (b)). No AKS code is documented for the pair: the
    closest in AKS's list is InvalidParameterConflictingProperties."""
    if props.get("dnsPrefix") and props.get("fqdnSubdomain"):
        raise bad_request(
            "InvalidParameterConflictingProperties",
            "The properties 'dnsPrefix' and 'fqdnSubdomain' cannot be used at the same time: a private cluster "
            "with a custom private DNS zone uses fqdnSubdomain, every other cluster dnsPrefix.",
        )
    if existing is not None:
        before, after = existing.props.get("fqdnSubdomain"), props.get("fqdnSubdomain")
        if before and after and str(before).lower() != str(after).lower():
            raise bad_request("PropertyChangeNotAllowed", "Changing property 'fqdnSubdomain' is not allowed.")


def _retired_addons(props: dict[str, Any]) -> None:
    """A retired add-on cannot be enabled, with the answers AKS's users quote: HTTP application routing,
    400 BadRequest "Client Error: The HTTPApplicationRouting add-on can no longer be enabled on new clusters. Please
    use the Application Routing Add-on instead: https://aka.ms/app-routing-migration" (kata-containers #11156); the
    dashboard, AddonInvalid "Kubernetes Dashboard addon is deprecated for Kubernetes version >= 1.19.0." with target
    AddonProfiles.KubeDashboard (hashicorp/terraform-provider-azurerm #13119)."""
    for key, profile in (props.get("addonProfiles") or {}).items():
        if not (isinstance(profile, dict) and profile.get("enabled")):
            continue
        if key.lower() == "httpapplicationrouting":
            raise bad_request(
                "BadRequest",
                "Client Error: The HTTPApplicationRouting add-on can no longer be enabled on new clusters. Please "
                "use the Application Routing Add-on instead: https://aka.ms/app-routing-migration",
            )
        if key.lower() == "kubedashboard":
            raise ArmError(
                400,
                "AddonInvalid",
                "Kubernetes Dashboard addon is deprecated for Kubernetes version >= 1.19.0.",
                target="AddonProfiles.KubeDashboard",
            )


def _lb_profile(props: dict[str, Any]) -> dict[str, Any]:
    profile: dict[str, Any] = (props.get("networkProfile") or {}).get("loadBalancerProfile") or {}
    return profile


def _ids(profile: dict[str, Any], field: str, inner: str) -> list[str]:
    return [str(item["id"]) for item in (profile.get(field) or {}).get(inner) or [] if item.get("id")]


def _rg_of(resource_id: str) -> str:
    parts = resource_id.lower().split("/")
    return parts[parts.index("resourcegroups") + 1] if "resourcegroups" in parts else ""


def _outbound_ips(world: World, props: dict[str, Any], cluster_id: str) -> None:
    """Bring-your-own outbound IPs and prefixes must be yours alone: "A public IP created by AKS can't be reused as
    a custom bring-your-own public IP address for outbound" (learn.microsoft.com/azure/aks/load-balancer-standard,
    limitations; AKS's code LoadBalancerProfileOutboundIPHasManagedOutboundIPTag, "has managed outbound IP tag, so
    it cannot be used as customer provided outbound IP"), and one that another cluster's load balancer uses is
    LoadBalancerProfileOutboundIPAttachedToAnotherIPConfiguration ("already attached to another IP
    configuration") or, for a prefix, PublicIPPrefixIsAttachedToLoadBalancer (AKS's error-code list). One that does
    not exist is LoadBalancerProfileOutboundIPNotExist / LoadBalancerProfileOutboundIPPrefixNotExist (same list;
    existence as the emulated Microsoft.Network knows it, arm_exists)."""
    from local.azure_emulator.arm_exists import exists  # Microsoft.Network's public IPs and prefixes

    profile = _lb_profile(props)
    ips = _ids(profile, "outboundIPs", "publicIPs")
    prefixes = _ids(profile, "outboundIPPrefixes", "publicIPPrefixes")
    if not ips and not prefixes:
        return
    for other in world.clusters.values():
        if other.id.lower() == cluster_id.lower():
            continue
        theirs = _lb_profile(other.props)
        node_rg = str(other.props.get("nodeResourceGroup", "")).lower()
        managed = {str(i.get("id", "")).lower() for i in theirs.get("effectiveOutboundIPs") or []}
        managed -= {i.lower() for i in _ids(theirs, "outboundIPs", "publicIPs")}
        for ip in ips:
            if ip.lower() in managed or _rg_of(ip) == node_rg:
                raise bad_request(
                    "LoadBalancerProfileOutboundIPHasManagedOutboundIPTag",
                    f"Outbound IP '{ip}' was created by AKS for managed cluster '{other.name}' (it has the managed "
                    "outbound IP tag) and cannot be used as a customer-provided outbound IP. Create and use a "
                    "public IP of your own.",
                )
            if ip.lower() in {i.lower() for i in _ids(theirs, "outboundIPs", "publicIPs")}:
                raise bad_request(
                    "LoadBalancerProfileOutboundIPAttachedToAnotherIPConfiguration",
                    f"Outbound IP '{ip}' is already attached to another IP configuration (the load balancer of "
                    f"managed cluster '{other.name}') and cannot be used as a customer-provided outbound IP.",
                )
        for prefix in prefixes:
            if _rg_of(prefix) == node_rg or prefix.lower() in {
                p.lower() for p in _ids(theirs, "outboundIPPrefixes", "publicIPPrefixes")
            }:
                raise bad_request(
                    "PublicIPPrefixIsAttachedToLoadBalancer",
                    f"Public IP prefix '{prefix}' is already attached to the load balancer of managed cluster "
                    f"'{other.name}'.",
                )
    for ip in ips:
        if not exists(world, ip):
            raise bad_request(
                "LoadBalancerProfileOutboundIPNotExist",
                f"Outbound IP '{ip}' in the load balancer profile does not exist.",
            )
    for prefix in prefixes:
        if not exists(world, prefix):
            raise bad_request(
                "LoadBalancerProfileOutboundIPPrefixNotExist",
                f"Outbound IP prefix '{prefix}' in the load balancer profile does not exist.",
            )


def _subnet_room(world: World, body: dict[str, Any], cluster_id: str) -> None:
    """A create names subnets that exist and hold its nodes. Missing: 400 SubnetNotFound "Could not find subnet {s}
    in vnet {v} from resource group {rg} of subscription {sub}." (viya4-iac-azure #163, Azure/AKS-Construction
    #584). Too small: InsufficientSubnetSize "Pre-allocated IPs N exceeds IPs available M in Subnet Cidr C, Subnet
    Name S. If Autoscaler is enabled, the max-count from each nodepool is counted towards this total ...", target
    agentPoolProfile; Azure CNI counts maxPods + 1 per node, overlay and kubenet one (SupportArticles
    insufficientsubnetsize-error-advanced-networking.md)."""
    from local.azure_emulator import network_usage

    props = body.get("properties") or {}
    for subnet in sorted(
        {str(p["vnetSubnetID"]) for p in props.get("agentPoolProfiles") or [] if p.get("vnetSubnetID")}
    ):
        parts = subnet.split("/")
        stored = world.arm.get(subnet)
        if stored is None:
            raise bad_request(
                "SubnetNotFound",
                f"Could not find subnet {parts[-1]} in vnet {parts[-3]} from resource group {parts[4]} of "
                f"subscription {parts[2]}.",
            )
        at_most = {
            **body,
            "properties": {
                **props,
                "agentPoolProfiles": [
                    {
                        **p,
                        "count": p.get("maxCount")
                        if p.get("enableAutoScaling") and p.get("maxCount")
                        else p.get("count"),
                    }
                    for p in props.get("agentPoolProfiles") or []
                ],
            },
        }
        needed = network_usage.required(at_most, subnet, with_surge=False)
        available = network_usage.free(world, subnet)
        if needed > available:
            cidr = ",".join(network_usage.prefixes_of(stored))
            raise ArmError(
                400,
                "InsufficientSubnetSize",
                f"Pre-allocated IPs {needed} exceeds IPs available {available} in Subnet Cidr {cidr}, Subnet Name "
                f"{parts[-1]}. If Autoscaler is enabled, the max-count from each nodepool is counted towards this "
                "total (which means that all nodes in the cluster are considered). http://aka.ms/aks/insufficientsubnetsize",
                target="agentPoolProfile",
            )


def _vcpu_quota(world: World, body: dict[str, Any], cluster_id: str) -> None:
    """The create's nodes must fit the region's vCPU quota, in total and per VM family (allocated and deallocated
    cores both count, virtual-machines/quotas.md). QuotaExceeded, with the wording of SupportArticles
    quota-exceeded-during-creation-upgrade.md: "Operation results in exceeding quota limits of Core. Maximum
    allowed: X, Current in use: Y, Additional requested: Z." / "Insufficient vcpu quota requested N, remaining M for
    family F for region R." """
    from local.azure_emulator import compute_usages

    sub, location = cluster_id.split("/")[2], str(body.get("location") or "")
    wanted = compute_usages.cluster_vcpus(body, with_surge=False)
    over = compute_usages.shortfall(world, sub, location, wanted)
    if not over:
        return
    used, caps = compute_usages.current(world, sub, location), compute_usages.limits(world, sub, location)
    family = next((name for name in over if name != "cores"), None)
    if family is not None:
        remaining = max(caps.get(family, 0) - used.get(family, 0), 0)
        raise bad_request(
            "QuotaExceeded",
            f"Insufficient vcpu quota requested {wanted[family]}, remaining {remaining} for family {family} for "
            f"region {location}.",
        )
    raise bad_request(
        "QuotaExceeded",
        "Operation results in exceeding quota limits of Core. Maximum allowed: "
        f"{caps.get('cores', 0)}, Current in use: {used.get('cores', 0)}, Additional requested: {wanted['cores']}.",
    )


def _subnets(props: dict[str, Any]) -> set[str]:
    return {str(p["vnetSubnetID"]).lower() for p in props.get("agentPoolProfiles") or [] if p.get("vnetSubnetID")}


def _kubenet_subnet(world: World, props: dict[str, Any], cluster_id: str) -> None:
    """ "Multiple kubenet clusters can't share a subnet" (AKSDOCS configure-kubenet.md): a subnet has one route
    table and each kubenet cluster needs its own ("an Azure subnet can only have one route table, and each k8s
    cluster using [kubenet] requires a route table", AKS maintainer, Azure/AKS #1639). No code is documented; the
    closest in AKS's list is ExistingRouteTableInSubnetNotSupported ("there is already a route table in subnet")."""
    if str((props.get("networkProfile") or {}).get("networkPlugin", "")).lower() != "kubenet":
        return
    mine = _subnets(props)
    for other in world.clusters.values():
        if other.id.lower() == cluster_id.lower():
            continue
        shared = mine & _subnets(other.props)
        if shared:
            raise bad_request(
                "ExistingRouteTableInSubnetNotSupported",
                f"Subnet '{sorted(shared)[0]}' is already used by managed cluster '{other.name}': kubenet clusters "
                "cannot share a subnet (a subnet has one route table, and each kubenet cluster needs its own). "
                "Use a subnet of its own.",
            )


def _oidc(props: dict[str, Any], existing: Cluster | None) -> None:
    """Once enabled, the OIDC issuer stays: "After you enable the OIDC issuer on the cluster, disabling it is not
    supported" (AKSDOCS use-oidc-issuer.md); AKS's code OIDCIssuerCannotBeDisabled (error-code list, "Error codes
    related to OIDC")."""
    if existing is None:
        return
    before = (existing.props.get("oidcIssuerProfile") or {}).get("enabled")
    after = props.get("oidcIssuerProfile")
    if before and isinstance(after, dict) and after.get("enabled") is False:
        raise bad_request("OIDCIssuerCannotBeDisabled", "The OIDC issuer of a managed cluster cannot be disabled.")


def run_command_disabled(cluster: Cluster) -> ArmError | None:
    """`apiServerAccessProfile.disableRunCommand: true` turns run command off ("the only way you can disable the
    Run command feature", AKSDOCS access-private-cluster.md). No answer is documented for a run command sent
    anyway; the closest documented one is AKS's 409 OperationNotAllowed for an action the cluster's state refuses
    ("managed cluster is not currently running, stopping cannot be performed", learn.microsoft.com/troubleshoot/
    azure/azure-kubernetes/create-upgrade-delete/operationnotallowed). Waiting does not fix it."""
    if not (cluster.props.get("apiServerAccessProfile") or {}).get("disableRunCommand"):
        return None
    return ArmError(
        409,
        "OperationNotAllowed",
        f"Run command is disabled for managed cluster '{cluster.name}' (apiServerAccessProfile.disableRunCommand "
        "is true), run command cannot be performed. Enable it with `az aks update --enable-run-command`.",
    )


def forget_secrets(body: dict[str, Any]) -> None:
    """What a PUT sends but ARM never returns: `servicePrincipalProfile.secret` and `windowsProfile.adminPassword`
    (SPEC ManagedClustersCreate_Update.json: the 200/201 bodies return only clientId and adminUsername)."""
    props = body.get("properties") or {}
    for profile, secret in (("servicePrincipalProfile", "secret"), ("windowsProfile", "adminPassword")):
        if isinstance(props.get(profile), dict):
            props[profile].pop(secret, None)
