"""A managed cluster's identities, as AKS gives them, and AKS's rules about them.

- Control plane (`identity`): SystemAssigned gets a new principal when the cluster is created (kept on updates);
  UserAssigned names existing identities (reported back with their principalId / clientId). A body with neither
  an identity nor a service principal gets SystemAssigned, as `az aks create` does by default.
- Kubelet (`identityProfile.kubeletidentity`): "If you don't specify a user-assigned managed identity for kubelet,
  AKS creates a user-assigned kubelet identity in the node resource group", named `<cluster>-agentpool`
  (AKSDOCS managed-identity-overview.md). A pre-created one must exist and "must be a user-assigned managed
  identity" (AKSDOCS pre-created-kubelet-managed-identity.md); the cluster identity must then be user-assigned
  (AKS answers CustomKubeletIdentityOnlySupportedOnUserAssignedMSICluster), and "for a user-assigned kubelet
  identity outside the default worker node resource group, you need to assign the Managed Identity Operator role
  on the kubelet identity for control plane managed identity" (managed-identity-overview.md), else
  CustomKubeletIdentityMissingPermissionError ("The cluster using user-assigned managed identity must be granted
  'Managed Identity Operator' role to assign kubelet identity ...", AKS's message as quoted by its users). Both
  codes are in AKS's error-code list ("Error codes related to byo kubelet identity").
- Add-ons: AKS creates an identity per add-on that needs one, in the node resource group, and reports it
  read-only in the add-on's `identity` (azureKeyvaultSecretsProvider: "a user-assigned managed identity ...
  named azurekeyvaultsecretsprovider-*", learn.microsoft.com/azure/aks/csi-secrets-store-driver; omsagent,
  ingressApplicationGateway, aciConnectorLinux and application routing per the table "Summary of managed
  identities used by AKS"; azurepolicy needs none there). Disabling the add-on removes its identity.
- OIDC issuer: a new `oidcIssuerProfile.issuerURL` (https://{region}.oic.prod-aks.azure.com/{tenant}/{guid}/,
  reference/azure-more.md (e)) for every cluster created with it enabled, or when it is enabled later.

None of these identities has any role assignment. Deleting the cluster deletes the identities AKS made for it:
their assignments remain, granting nothing.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any

from local.azure_emulator import workload_access
from local.azure_emulator.catalogue import parse
from local.azure_emulator.directory import EPOCH, IDENTITY_TYPE, TENANT, Directory, Identity
from local.azure_emulator.errors import bad_request

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.world import World

ASSIGN = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"
# Add-ons AKS gives an identity of their own, by addonProfiles key (case-insensitive) -> identity name prefix.
ADDON_IDENTITIES = {
    "azurekeyvaultsecretsprovider": "azurekeyvaultsecretsprovider",
    "omsagent": "omsagent",
    "ingressapplicationgateway": "ingressapplicationgateway",
    "aciconnectorlinux": "aciconnectorlinux",
}
WEB_APP_ROUTING = "webapprouting"


def uses_msi(props: dict[str, Any]) -> bool:
    client = str((props.get("servicePrincipalProfile") or {}).get("clientId") or "msi")
    return client.lower() == "msi"


def identity_type(body: dict[str, Any]) -> str:
    return str((body.get("identity") or {}).get("type") or "").lower()


def _identity_id(sub: str, node_rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/{IDENTITY_TYPE}/{name}"


def _rg_of(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered else ""


def _reference(identity: Identity) -> dict[str, str]:
    return {"resourceId": identity.id, "clientId": identity.client_id, "objectId": identity.principal_id}


# -- validation ---------------------------------------------------------------------------------------------------


def check(world: World, body: dict[str, Any], existing: Cluster | None, node_rg: str, now: datetime) -> None:
    """AKS's refusals about identities, on create and update (before anything is stored)."""
    directory: Directory = world.directory
    props = body.get("properties") or {}
    effective = body if body.get("identity") or existing is None else existing.body  # an update may leave it out
    kind = identity_type(effective)
    assigned = list(((effective.get("identity") or {}).get("userAssignedIdentities") or {}).keys())
    if kind == "userassigned":
        if not assigned:
            # Closest documented code: InvalidManagedIdentityResourceID (AKS's error-code list).
            raise bad_request(
                "InvalidManagedIdentityResourceID",
                "identity.userAssignedIdentities must name the user-assigned identity of the managed cluster.",
            )
        for resource_id in assigned:
            if directory.identity(resource_id) is None:
                raise bad_request(
                    "InvalidManagedIdentityResourceID",
                    f"The user assigned identity '{resource_id}' of the managed cluster was not found.",
                )
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
    requested = str(kubelet.get("resourceId") or "")
    current = ""
    if existing is not None:
        current = str(((existing.props.get("identityProfile") or {}).get("kubeletidentity") or {}).get("resourceId"))
    if not requested or requested.lower() == current.lower():
        return
    if kind != "userassigned":
        raise bad_request(
            "CustomKubeletIdentityOnlySupportedOnUserAssignedMSICluster",
            "A pre-created kubelet identity (identityProfile.kubeletidentity) is only supported on a cluster whose "
            "identity is user-assigned: set identity.type to UserAssigned.",
        )
    target = directory.identity(requested)
    if target is None:
        raise bad_request(
            "CustomKubeletIdentityPropertyError",
            f"The kubelet identity '{requested}' (identityProfile.kubeletidentity.resourceId) was not found.",
        )
    if _rg_of(requested).lower() == node_rg.lower():
        return
    for resource_id in assigned:
        control_plane = directory.identity(resource_id)
        if control_plane is not None and directory.permits(control_plane.principal_id, ASSIGN, target.id, now):
            return
    raise bad_request(
        "CustomKubeletIdentityMissingPermissionError",
        "The cluster using user-assigned managed identity must be granted 'Managed Identity Operator' role to "
        "assign kubelet identity. You can run 'az role assignment create --assignee <control-plane-identity-"
        f"principal-id> --role 'Managed Identity Operator' --scope {target.id}' to grant the permission. See "
        "https://learn.microsoft.com/azure/aks/use-managed-identity#add-role-assignment for more details.",
    )


# -- what a PUT stores ----------------------------------------------------------------------------------------------


def default_oidc(props: dict[str, Any], version: str) -> None:
    """ "Starting with Kubernetes version 1.34+, new AKS clusters have the OIDC issuer enabled by default"
    (AKSDOCS use-oidc-issuer.md)."""
    if "oidcIssuerProfile" not in props and parse(version) >= (1, 34):
        props["oidcIssuerProfile"] = {"enabled": True}


def prepare(world: World, cluster_id: str, body: dict[str, Any], old: dict[str, Any] | None, now: datetime) -> None:
    """Fill the identities a PUT's response shows: the control plane's principal, user-assigned identities' ids,
    a pre-created kubelet identity's ids, and the add-on identities that already exist (kept on updates)."""
    directory: Directory = world.directory
    props = body.setdefault("properties", {})
    old_props = (old or {}).get("properties") or {}
    if "servicePrincipalProfile" not in props and "servicePrincipalProfile" in old_props:
        props["servicePrincipalProfile"] = copy.deepcopy(old_props["servicePrincipalProfile"])  # an update keeps it
    if "oidcIssuerProfile" not in props and (old_props.get("oidcIssuerProfile") or {}).get("enabled"):
        # An issuer once enabled stays ("disabling it is not supported", use-oidc-issuer.md), with its URL.
        props["oidcIssuerProfile"] = copy.deepcopy(old_props["oidcIssuerProfile"])
    if "identity" not in body and uses_msi(props):
        # An update that leaves the identity out keeps it (an identity is never removed); a create gets
        # SystemAssigned, the default `az aks create` uses.
        previous = (old or {}).get("identity")
        body["identity"] = copy.deepcopy(previous) if previous else {"type": "SystemAssigned"}
    identity = body.get("identity")
    if isinstance(identity, dict):
        old_identity = (old or {}).get("identity") or {}
        if identity_type(body) == "systemassigned":
            if str(old_identity.get("type", "")).lower() == "systemassigned" and old_identity.get("principalId"):
                identity.update(principalId=old_identity["principalId"], tenantId=old_identity.get("tenantId", TENANT))
            else:
                principal = directory.mint(cluster_id, "control-plane")
                directory.add_principal(principal, "ServicePrincipal", now, name=cluster_id.rsplit("/", 1)[-1])
                identity.update(principalId=principal, tenantId=TENANT)
        elif str(old_identity.get("type", "")).lower() == "systemassigned" and old_identity.get("principalId"):
            directory.remove_principal(str(old_identity["principalId"]), now)  # the system identity goes
        for resource_id in list((identity.get("userAssignedIdentities") or {}).keys()):
            found = directory.identity(resource_id)
            if found is not None:
                identity["userAssignedIdentities"][resource_id] = {
                    "principalId": found.principal_id,
                    "clientId": found.client_id,
                }
    kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
    if kubelet.get("resourceId"):
        found = directory.identity(str(kubelet["resourceId"]))
        if found is not None:
            props["identityProfile"]["kubeletidentity"] = _reference(found)
    if old is not None:
        _keep_addon_identities(props, old.get("properties") or {})


def _addon_profiles(props: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Add-on key (lowercase) -> its profile, for add-ons with an identity; application routing included."""
    found = {
        key.lower(): value
        for key, value in (props.get("addonProfiles") or {}).items()
        if isinstance(value, dict) and key.lower() in ADDON_IDENTITIES
    }
    routing = (props.get("ingressProfile") or {}).get("webAppRouting")
    if isinstance(routing, dict):
        found[WEB_APP_ROUTING] = routing
    return found


def _keep_addon_identities(props: dict[str, Any], old_props: dict[str, Any]) -> None:
    old = _addon_profiles(old_props)
    for key, profile in _addon_profiles(props).items():
        if profile.get("enabled") and (old.get(key) or {}).get("identity"):
            profile["identity"] = old[key]["identity"]


# -- lifecycle ------------------------------------------------------------------------------------------------------


def on_ready(world: World, cluster: Cluster, at: datetime, seeded: bool = False) -> None:
    """After a create or update succeeded (or when a cluster is seeded): the identities AKS makes exist, those of
    add-ons disabled since are gone, and an enabled OIDC issuer has its URL."""
    directory: Directory = world.directory
    props = cluster.props
    since = EPOCH if seeded else at
    node_rg = str(props.get("nodeResourceGroup"))
    if uses_msi(props):
        profile = props.setdefault("identityProfile", {})
        kubelet = profile.get("kubeletidentity") or {}
        if not kubelet.get("resourceId"):
            identity_id = _identity_id(cluster.sub, node_rg, f"{cluster.name}-agentpool")
            profile["kubeletidentity"] = _reference(_make(directory, identity_id, cluster, since))
        elif directory.identity(str(kubelet["resourceId"])) is None and seeded:
            profile["kubeletidentity"] = _reference(_register(directory, kubelet, cluster, node_rg))
        for key, addon in _addon_profiles(props).items():
            prefix = ADDON_IDENTITIES.get(key, WEB_APP_ROUTING)
            given = addon.get("identity") or {}
            if not addon.get("enabled"):
                if given.get("resourceId"):
                    _drop(directory, str(given["resourceId"]), cluster, at)
                    addon.pop("identity", None)
                continue
            if given.get("resourceId") and directory.identity(str(given["resourceId"])) is not None:
                continue
            if given.get("resourceId") and seeded:
                addon["identity"] = _reference(_register(directory, given, cluster, node_rg))
                continue
            identity_id = _identity_id(cluster.sub, node_rg, f"{prefix}-{cluster.name}")
            addon["identity"] = _reference(_make(directory, identity_id, cluster, since))
        # The identities AKS made for add-ons disabled since (or dropped from the body) are gone.
        referenced = {
            str((a.get("identity") or {}).get("resourceId", "")).lower() for a in _addon_profiles(props).values()
        }
        referenced.add(str((profile.get("kubeletidentity") or {}).get("resourceId", "")).lower())
        for stale in directory.managed_by(cluster.id):
            if stale.id.lower() not in referenced:
                directory.delete_identity(stale.id, at)
    if seeded:
        identity = cluster.body.get("identity") or {}
        if str(identity.get("type", "")).lower() == "systemassigned":
            principal = str(identity.get("principalId") or directory.mint(cluster.id, "control-plane"))
            identity.update(principalId=principal, tenantId=identity.get("tenantId") or TENANT)
            directory.add_principal(principal, "ServicePrincipal", EPOCH, name=cluster.name)
        for resource_id, entry in (identity.get("userAssignedIdentities") or {}).items():
            found = directory.identity(resource_id) or directory.create_identity(
                resource_id,
                cluster.location,
                EPOCH,
                client_id=(entry or {}).get("clientId"),
                principal_id=(entry or {}).get("principalId"),
            )
            identity["userAssignedIdentities"][resource_id] = {
                "principalId": found.principal_id,
                "clientId": found.client_id,
            }
    oidc = props.get("oidcIssuerProfile")
    if isinstance(oidc, dict) and oidc.get("enabled") and not oidc.get("issuerURL"):
        # A new issuer per cluster: workload identities federated to blue do not carry over to green.
        oidc["issuerURL"] = (
            f"https://{cluster.location}.oic.prod-aks.azure.com/{TENANT}/{directory.mint(cluster.id, 'oidc')}/"
        )
    workload_access.attach(world, cluster)
    workload_access.notify(world, at)


def _make(directory: Directory, identity_id: str, cluster: Cluster, since: datetime) -> Identity:
    return directory.create_identity(identity_id, cluster.location, since, managed_by=cluster.id)


def _register(directory: Directory, given: dict[str, Any], cluster: Cluster, node_rg: str) -> Identity:
    """A seeded cluster's identity, with the ids its body shows (AKS-managed when it sits in the node group)."""
    resource_id = str(given["resourceId"])
    managed = _rg_of(resource_id).lower() == node_rg.lower()
    return directory.create_identity(
        resource_id,
        cluster.location,
        EPOCH,
        managed_by=cluster.id if managed else None,
        client_id=given.get("clientId"),
        principal_id=given.get("objectId"),
    )


def _drop(directory: Directory, identity_id: str, cluster: Cluster, at: datetime) -> None:
    identity = directory.identity(identity_id)
    if identity is not None and identity.managed_by == cluster.id.lower():
        directory.delete_identity(identity_id, at)


def on_deleted(world: World, cluster: Cluster, at: datetime) -> None:
    """The cluster is gone, and with it the identities AKS made for it (its system-assigned one included)."""
    directory: Directory = world.directory
    for identity in directory.managed_by(cluster.id):
        directory.delete_identity(identity.id, at)
    principal = (cluster.body.get("identity") or {}).get("principalId")
    if principal:
        directory.remove_principal(str(principal), at)
    workload_access.notify(world, at)
