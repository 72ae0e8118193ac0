"""The emulated estate a rehearsal starts from: a live blue cluster behind Front Door, green's origin off.

Built from a blue cluster (the bundled fixture, or the user's `az aks show -o json` / ARM GET body),
so the same options always give the same resource ids.

Blue runs its application from a Flux configuration, as most AKS teams deploy: the microsoft.flux extension and
a fluxConfiguration on blue (Compliant), the public GitHub-like repository it syncs (fixtures/gitops-repo.json:
namespace web with Deployments frontend (3) and api (2) and StatefulSet cache (1); namespace ingress-nginx with the
controller Deployment and its LoadBalancer Service), and the objects Flux applied, already running on blue. Any
blue gets the same application, the bundled one or a user's. Green is created empty, as AKS creates every
cluster: getting the application onto it is the run's business.

What blue's workloads need from Azure, granted to blue's identities and nobody else's: frontend and api pull their
images from an Azure Container Registry (seeded), which blue's kubelet identity may pull from (AcrPull); the api
Deployment runs as the service account web/api, a workload identity of the user-assigned identity `id-{env}-api`
(federated to blue's OIDC issuer); blue's Key Vault CSI add-on identity holds Key Vault Secrets User on a seeded
vault. A green created from blue's definition gets new kubelet and add-on identities and a new issuer: it pulls
nothing and gets no token until someone grants and federates for it.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bluegreen.arm_ids import ResourceId
from local.azure_emulator import rbac_roles
from local.azure_emulator.authorization import assignment_name
from local.azure_emulator.directory import TENANT
from local.azure_emulator.flux_reconcile import substitute
from local.azure_emulator.flux_state import NAME_LABEL, NAMESPACE_LABEL
from local.rehearsal.azure_wiring import blue_wiring

if TYPE_CHECKING:
    from bluegreen.config import Environment

FIXTURES = Path(__file__).with_name("fixtures")
DEFAULT_BLUE = FIXTURES / "blue-cluster.json"
GITOPS_REPO = FIXTURES / "gitops-repo.json"
KC = "providers/Microsoft.KubernetesConfiguration"
# The application's Flux configuration on blue: kustomization -> path in the repository (apps after infra).
KUSTOMIZATIONS = {"infra": "./infrastructure/ingress-nginx", "apps": "./apps/web"}


# The applications behind the rehearsal's extra origin groups (one group each), after the first ("web").
EXTRA_APPS = ("api", "admin", "static", "media", "search", "auth", "docs")


@dataclass(frozen=True)
class FrontDoorGroup:
    """One origin group (std) or backend pool (classic) of the estate: each side's origin and its host name."""

    name: str
    origins: dict[str, str]  # side -> origin key (std: origin name; classic: backend address)
    hosts: dict[str, str]  # side -> origin host name


@dataclass(frozen=True)
class Estate:
    environment: str
    blue_name: str
    green_name: str
    subscription: str
    resource_group: str
    front_door_kind: str
    front_door_id: str
    origin_group: str  # the first origin group (its origins name the slots), as `hosts` and `origins`
    hosts: dict[str, str]  # side -> origin host name
    origins: dict[str, str]  # side -> origin key (std: origin name; classic: backend address)
    resources: list[dict[str, Any]]  # ARM GET bodies and emulator pseudo items to seed
    # How blue gets its application (what green needs too): the microsoft.flux extension's name, the
    # fluxConfiguration's name and namespace, the repository it syncs and its branch, its kustomizations.
    flux_extension: str = "flux"
    flux_configuration: str = "cluster-config"
    flux_namespace: str = "cluster-config"
    repository_url: str = ""
    repository_branch: str = "main"
    kustomizations: dict[str, str] = field(default_factory=lambda: dict(KUSTOMIZATIONS))
    # The application's namespaces, and the one whose LoadBalancer Service is its ingress.
    app_namespaces: tuple[str, ...] = ("web", "ingress-nginx")
    ingress_namespace: str = "ingress-nginx"
    # What blue's workloads are granted in Azure, which green needs too. The registry its images come from (blue's
    # kubelet identity holds AcrPull on it), the vault its Key Vault CSI add-on identity reads (Key Vault Secrets
    # User), the user-assigned identity behind the api workload, and every workload identity as
    # "namespace/serviceaccount" -> identity id (federated to blue's issuer, subject
    # system:serviceaccount:{namespace}:{serviceaccount}).
    registry_id: str = ""
    vault_id: str = ""
    api_identity_id: str = ""
    workload_identities: dict[str, str] = field(default_factory=dict)
    # Blue's grants as (role definition GUID, scope, whose): "kubelet" or "addon:<addonProfiles key>".
    blue_grants: tuple[tuple[str, str, str], ...] = ()
    # Blue's Azure wiring (rehearsal/azure_wiring): the VNet and the node subnet its pools use (room for green too),
    # its Event Grid system topic and subscription (an AzureFunction destination: the app's aks_lifecycle_events),
    # the action group, metric alerts and diagnostic settings scoped to it, the Log Analytics workspace they use.
    vnet_id: str = ""
    subnet_id: str = ""
    system_topic_id: str = ""
    event_subscription_id: str = ""
    event_function_id: str = ""
    action_group_id: str = ""
    metric_alert_ids: tuple[str, ...] = ()
    diagnostic_setting_ids: tuple[str, ...] = ()
    workspace_id: str = ""
    # Every origin group (backend pool) of the environment, the first one first (empty: just the first).
    groups: tuple[FrontDoorGroup, ...] = ()

    def front_door_groups(self) -> tuple[FrontDoorGroup, ...]:
        return self.groups or (FrontDoorGroup(self.origin_group, dict(self.origins), dict(self.hosts)),)

    def cluster_of_host(self, host: str | None) -> str | None:
        """The cluster (by name) behind an origin host name of any group, None if it is not the estate's."""
        for group in self.front_door_groups():
            for side, name in group.hosts.items():
                if host is not None and name.lower() == host.lower():
                    return self.blue_name if side == "blue" else self.green_name
        return None


def bind_hosts(emulator: Any, estate: Estate) -> None:
    """DNS for the emulated Azure: every group's origin host names resolve to the cluster behind them."""
    for group in estate.front_door_groups():
        emulator.bind_host(group.hosts["blue"], estate.blue_name)
        if estate.green_name:
            emulator.bind_host(group.hosts["green"], estate.green_name)


def enabled_hosts(emulator: Any, estate: Estate) -> dict[str, list[str]]:
    """Each of the estate's origin groups (by name) -> the host names of its enabled origins, as configured now."""
    found: dict[str, list[str]] = {group.name.lower(): [] for group in estate.front_door_groups()}
    prefix = estate.front_door_id.lower() + "/origingroups/"
    for body in emulator.resources():
        kind, props = str(body.get("type", "")).lower(), body.get("properties") or {}
        key = str(body.get("id", "")).lower()
        if kind == "microsoft.cdn/profiles/origingroups/origins" and key.startswith(prefix):
            group = key[len(prefix) :].split("/", 1)[0]
            if group in found and props.get("enabledState") == "Enabled":
                found[group].append(str(props.get("hostName")))
        if kind == "microsoft.network/frontdoors" and key == estate.front_door_id.lower():
            for pool in props.get("backendPools") or []:
                group = str(pool.get("name", "")).lower()
                for backend in (pool.get("properties") or {}).get("backends") or []:
                    if group in found and backend.get("enabledState") == "Enabled":
                        found[group].append(str(backend.get("address")))
    return {group.name: found[group.name.lower()] for group in estate.front_door_groups()}


def group_histories(emulator: Any, estate: Estate) -> dict[str, list[list[tuple[str, bool, int, int]]]]:
    """Each origin group (by name) -> every configuration it had, seeded or written, oldest first: per origin
    (host, enabled, priority, weight), as the emulated Front Door recorded it for its edges."""
    fd = estate.front_door_id.lower()
    histories = {}
    with emulator.world.lock:
        for group in estate.front_door_groups():
            if estate.front_door_kind == "classic":
                key = f"{fd}#backendpool#{group.name.lower()}"
            else:
                key = f"{fd}/origingroups/{group.name.lower()}"
            history = emulator.world.deployments.get(key)
            written = getattr(history, "deployments", history) or []  # a History, or a plain list of deployments
            histories[group.name] = [list(d.targets) for d in written]
    return histories


class BadClusterFile(ValueError):
    pass


@dataclass(frozen=True)
class Layout:
    """What an environments file names, where build_estate would derive it from blue's name: the environment,
    green's cluster ("" when each run names it: `live_id`), the Front Door and its origin group, and each side's
    origin (std: origin name; classic: backend address) and origin host name; `groups`: every origin group when
    there are several (the first is `origin_group`)."""

    environment: str
    green_name: str
    front_door_id: str
    origin_group: str
    origins: dict[str, str]
    hosts: dict[str, str]
    groups: tuple[FrontDoorGroup, ...] = ()


def load_blue(path: str | Path | None) -> dict[str, Any]:
    file = Path(path) if path else DEFAULT_BLUE
    try:
        body = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadClusterFile(f"--blue-cluster {file}: no such file") from None
    except ValueError as exc:
        raise BadClusterFile(f"--blue-cluster {file}: not JSON ({exc})") from None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise BadClusterFile(f"--blue-cluster {file}: expected one managed cluster with an `id`")
    try:
        rid = ResourceId.parse(body["id"])
    except ValueError as exc:
        raise BadClusterFile(f"--blue-cluster {file}: {exc}") from None
    if rid.type.lower() != "microsoft.containerservice/managedclusters":
        raise BadClusterFile(f"--blue-cluster {file}: `id` is not a managed cluster ({rid.type})")
    props = body.get("properties", body)  # ARM GET body, or `az aks show` (flattened)
    if not props.get("kubernetesVersion") or not props.get("agentPoolProfiles"):
        raise BadClusterFile(f"--blue-cluster {file}: needs kubernetesVersion and agentPoolProfiles")
    return body


def _green_name(blue: str) -> str:
    return re.sub(r"blue$", "green", blue) if blue.endswith("blue") else f"{blue[:57]}-green"


def _environment_name(blue: str) -> str:
    base = re.sub(r"^aks-|-?blue$", "", blue.lower())
    return re.sub(r"[^a-z0-9-]", "-", base).strip("-")[:32] or "app"


def build_estate(
    blue_body: dict[str, Any], front_door_kind: str, layout: Layout | None = None, origin_groups: int = 1
) -> Estate:
    """The estate around a blue cluster; `layout` names what the rehearsal's defaults would (an environment's).

    Without a layout the Front Door has `origin_groups` origin groups (classic: backend pools), each with blue's
    origin enabled and green's disabled: og-web (blue, green), then og-api (api-blue, api-green), og-admin, ...
    (classic: pools web, api, admin, ... of backends blue.ENV.example, api-blue.ENV.example, ...).
    """
    blue = copy.deepcopy(blue_body)
    rid = ResourceId.parse(blue["id"])
    env = layout.environment if layout else _environment_name(rid.name)
    green = layout.green_name if layout else _green_name(rid.name)
    sub, rg = rid.subscription, rid.resource_group
    if layout is not None:
        groups = layout.groups or (FrontDoorGroup(layout.origin_group, dict(layout.origins), dict(layout.hosts)),)
        if front_door_kind == "classic":  # a backend is its address
            groups = tuple(FrontDoorGroup(g.name, dict(g.hosts), dict(g.hosts)) for g in groups)
    else:
        groups = default_groups(env, front_door_kind, origin_groups)
    if front_door_kind == "classic":
        fd_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/frontDoors/fd-{env}"
        fd_id = layout.front_door_id if layout else fd_id
        resources = [blue, _classic_front_door(fd_id, groups)]
    else:
        fd_id = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Cdn/profiles/afd-{env}"
        fd_id = layout.front_door_id if layout else fd_id
        resources = [blue, *_standard_front_door(fd_id, groups)]
    first = groups[0]
    group, hosts, origins = first.name, dict(first.hosts), dict(first.origins)
    repo_url = f"https://github.com/contoso/{env}-gitops"
    grants = access(blue, env)
    resources += grants.resources
    resources += application(str(blue["id"]), env, repo_url, variables={"api_client_id": grants.api_client_id})
    wiring = blue_wiring(blue, env, sub, rg)
    resources += wiring.resources
    return Estate(
        env,
        rid.name,
        green,
        sub,
        rg,
        front_door_kind,
        fd_id,
        group,
        hosts,
        origins,
        resources,
        repository_url=repo_url,
        registry_id=grants.registry_id,
        vault_id=grants.vault_id,
        api_identity_id=grants.api_identity_id,
        workload_identities={"web/api": grants.api_identity_id},
        blue_grants=grants.blue_grants,
        vnet_id=wiring.vnet_id,
        subnet_id=wiring.subnet_id,
        system_topic_id=wiring.system_topic_id,
        event_subscription_id=wiring.event_subscription_id,
        event_function_id=wiring.event_function_id,
        action_group_id=wiring.action_group_id,
        metric_alert_ids=wiring.metric_alert_ids,
        diagnostic_setting_ids=wiring.diagnostic_setting_ids,
        workspace_id=wiring.workspace_id,
        groups=groups,
    )


def default_groups(env: str, front_door_kind: str, count: int = 1) -> tuple[FrontDoorGroup, ...]:
    """The rehearsal's own origin groups: og-web (std origins blue, green), then one per application of EXTRA_APPS."""
    if not 1 <= count <= len(EXTRA_APPS) + 1:
        raise ValueError(f"origin_groups must be between 1 and {len(EXTRA_APPS) + 1}, not {count}")
    groups = []
    for app in ("web", *EXTRA_APPS)[:count]:
        prefix = "" if app == "web" else f"{app}-"
        hosts = {side: f"{prefix}{side}.{env}.example" for side in ("blue", "green")}
        if front_door_kind == "classic":
            groups.append(FrontDoorGroup(app, dict(hosts), hosts))
        else:
            groups.append(FrontDoorGroup(f"og-{app}", {side: f"{prefix}{side}" for side in hosts}, hosts))
    return tuple(groups)


def estate_for_environment(env: Environment, blue_body: dict[str, Any] | None = None) -> Estate:
    """A configured environment's estate, as its file names it: the live cluster behind its own Front Door origin
    group (the other origin disabled, its slot empty), with blue's application, grants and wiring as build_estate
    makes them.

    The live cluster is `blue_body` (a user's `az aks show -o json`), which must be one of the environment's
    clusters (BadClusterFile otherwise), or the bundled cluster renamed into the environment's first slot.
    """
    fd, clusters = env.front_door, env.clusters
    if clusters.names is not None:
        slots = [
            f"/subscriptions/{clusters.subscription}/resourceGroups/{clusters.resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{name}"
            for name in clusters.names
        ]
    else:
        slots = [str(clusters.live_id)]
    if blue_body is None:
        blue, slot = _renamed(load_blue(None), slots[0]), 0
    else:
        given = str(blue_body.get("id", "")).lower()
        slot = next((i for i, cluster_id in enumerate(slots) if cluster_id.lower() == given), -1)
        if slot < 0:
            raise BadClusterFile(
                f"--blue-cluster: {blue_body.get('id')} is not a cluster of environment {env.name!r} "
                f"(expected {' or '.join(slots)})"
            )
        blue = blue_body
    green_slot = 1 - slot
    green = ResourceId.parse(slots[green_slot]).name if len(slots) == 2 else ""
    groups = []
    for index, configured in enumerate(fd.groups):
        origins = {"blue": configured.origins[slot], "green": configured.origins[green_slot]}
        if fd.kind == "classic":
            hosts = dict(origins)  # a backend is its address
        else:
            # The first group's hosts as ever; the others' carry their group's name (origin names repeat).
            where = "" if index == 0 else f".{_dns_label(configured.origin_group)}"
            hosts = {side: f"{_dns_label(name)}{where}.{env.name}.example" for side, name in origins.items()}
        groups.append(FrontDoorGroup(configured.origin_group, origins, hosts))
    first = groups[0]
    layout = Layout(env.name, green, fd.id, first.name, first.origins, first.hosts, tuple(groups))
    return build_estate(blue, fd.kind, layout)


def _dns_label(name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", name.lower())


def _renamed(body: dict[str, Any], cluster_id: str) -> dict[str, Any]:
    """The bundled cluster as if it were `cluster_id`: its subscription, resource group and name replaced
    everywhere they appear (its node resource group, identities, subnets, FQDN)."""
    old, new = ResourceId.parse(body["id"]), ResourceId.parse(cluster_id)
    text = json.dumps(body).replace(old.subscription, new.subscription)
    for before, after in (
        (f"/{old.resource_group}/", f"/{new.resource_group}/"),
        (f"MC_{old.resource_group}_", f"MC_{new.resource_group}_"),
    ):
        text = text.replace(before, after)
    renamed: dict[str, Any] = json.loads(text.replace(old.name, new.name))
    renamed["id"] = cluster_id
    return renamed


@dataclass
class Access:
    """Seed items for what blue's workloads are granted, and the ids the estate reports."""

    resources: list[dict[str, Any]]
    registry_id: str
    vault_id: str
    api_identity_id: str
    api_client_id: str
    blue_grants: tuple[tuple[str, str, str], ...]


def _guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "#".join(p.lower() for p in parts)))


def _registries() -> list[str]:
    """The Azure Container Registries the application's images come from (by name)."""
    tree = json.loads(GITOPS_REPO.read_text(encoding="utf-8"))["paths"]
    hosts = re.findall(r'"image":\s*"([a-z0-9]+)\.azurecr\.io/', json.dumps(tree))
    return sorted(set(hosts))


def _assignment(scope: str, sub: str, role: str, principal: str) -> dict[str, Any]:
    name = assignment_name(scope, principal, role)
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "type": "Microsoft.Authorization/roleAssignments",
        "name": name,
        "properties": {
            "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
            "principalType": "ServicePrincipal",
        },
    }


def access(blue: dict[str, Any], env: str) -> Access:
    """Blue's identities as AKS made them (filled in when a user's blue file leaves them out), its workload
    identity, the registry and vault, and the grants that let blue's workloads run."""
    rid = ResourceId.parse(blue["id"])
    sub, rg, name = rid.subscription, rid.resource_group, rid.name
    props = blue.get("properties", blue)
    location = str(blue.get("location") or "eastus")
    node_rg = str(props.setdefault("nodeResourceGroup", f"MC_{rg}_{name}_{location}"))
    mc = f"/subscriptions/{sub}/resourcegroups/{node_rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    resources: list[dict[str, Any]] = []
    grants: list[tuple[str, str, str]] = []
    sp = str((props.get("servicePrincipalProfile") or {}).get("clientId") or "msi")
    if sp.lower() == "msi":
        kubelet = props.setdefault("identityProfile", {}).setdefault("kubeletidentity", {})
        kubelet.setdefault("resourceId", f"{mc}/{name}-agentpool")
        kubelet.setdefault("clientId", _guid(kubelet["resourceId"], "client"))
        kubelet.setdefault("objectId", _guid(kubelet["resourceId"], "principal"))
        kubelet_principal = str(kubelet["objectId"])
    else:  # the kubelet of a service-principal cluster pulls as that principal
        kubelet_principal = _guid(blue["id"], "service-principal")
        resources.append(
            {"type": "emulator/principal", "id": kubelet_principal, "principalType": "ServicePrincipal", "appId": sp}
        )
    # Workload identity needs blue's OIDC issuer and the feature on (both are, on the bundled blue).
    oidc = props.setdefault("oidcIssuerProfile", {})
    oidc["enabled"] = True
    oidc.setdefault("issuerURL", f"https://{location}.oic.prod-aks.azure.com/{TENANT}/{_guid(blue['id'], 'oidc')}/")
    props.setdefault("securityProfile", {}).setdefault("workloadIdentity", {})["enabled"] = True
    registries = [
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{acr}"
        for acr in _registries()
    ]
    for registry in registries:
        acr = registry.rsplit("/", 1)[-1]
        resources.append(
            {
                "id": registry,
                "type": "Microsoft.ContainerRegistry/registries",
                "name": acr,
                "location": location,
                "sku": {"name": "Standard"},
                "properties": {"loginServer": f"{acr}.azurecr.io", "adminUserEnabled": False},
            }
        )
        resources.append(_assignment(registry, sub, rbac_roles.ACR_PULL, kubelet_principal))
        grants.append((rbac_roles.ACR_PULL, registry, "kubelet"))
    vault_name = re.sub(r"-+$", "", f"kv-{env}"[:24])
    vault = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault_name}"
    resources.append(
        {
            "id": vault,
            "type": "Microsoft.KeyVault/vaults",
            "name": vault_name,
            "location": location,
            "properties": {
                "tenantId": TENANT,
                "vaultUri": f"https://{vault_name}.vault.azure.net/",
                "enableRbacAuthorization": True,
                "sku": {"family": "A", "name": "standard"},
            },
        }
    )
    for key, addon in (props.get("addonProfiles") or {}).items():
        # A service-principal cluster's add-ons act as that principal: no add-on identity to grant.
        if sp.lower() != "msi":
            break
        if key.lower() == "azurekeyvaultsecretsprovider" and isinstance(addon, dict) and addon.get("enabled"):
            given = addon.setdefault("identity", {})
            given.setdefault("resourceId", f"{mc}/azurekeyvaultsecretsprovider-{name}")
            given.setdefault("clientId", _guid(given["resourceId"], "client"))
            given.setdefault("objectId", _guid(given["resourceId"], "principal"))
            resources.append(_assignment(vault, sub, rbac_roles.KEY_VAULT_SECRETS_USER, str(given["objectId"])))
            grants.append((rbac_roles.KEY_VAULT_SECRETS_USER, vault, f"addon:{key}"))
    api = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
    api += f"/id-{env}-api"
    api_client, api_principal = _guid(api, "client"), _guid(api, "principal")
    resources.append(
        {
            "id": api,
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
            "name": f"id-{env}-api",
            "location": location,
            "properties": {"tenantId": TENANT, "clientId": api_client, "principalId": api_principal},
        }
    )
    resources.append(
        {
            "id": f"{api}/federatedIdentityCredentials/{name}-web-api",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "name": f"{name}-web-api",
            "properties": {
                "issuer": oidc["issuerURL"],
                "subject": "system:serviceaccount:web:api",
                "audiences": ["api://AzureADTokenExchange"],
            },
        }
    )
    # The api reads its secrets as itself: the identity is shared by blue and green, so is this grant.
    resources.append(_assignment(vault, sub, rbac_roles.KEY_VAULT_SECRETS_USER, api_principal))
    return Access(resources, registries[0] if registries else "", vault, api, api_client, tuple(grants))


def application(
    cluster_id: str, env: str, repo_url: str, branch: str = "main", variables: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Blue's application, deployed by Flux: the repository, the extension, the configuration, and the objects
    Flux applied (as `kubectl get -o json` prints them: with Flux's labels, variables substituted)."""
    tree = json.loads(GITOPS_REPO.read_text(encoding="utf-8"))["paths"]
    variables = {"environment": env, **(variables or {})}
    repository = {"type": "emulator/gitRepository", "url": repo_url, "branches": {branch: {"paths": tree}}}
    extension = {
        "id": f"{cluster_id}/{KC}/extensions/flux",
        "name": "flux",
        "type": "Microsoft.KubernetesConfiguration/extensions",
        "properties": {
            "extensionType": "microsoft.flux",
            "autoUpgradeMinorVersion": True,
            "releaseTrain": "Stable",
            "scope": {"cluster": {"releaseNamespace": "flux-system"}},
            "provisioningState": "Succeeded",
        },
    }
    kustomizations = {
        name: {
            "path": path,
            "dependsOn": [] if name == "infra" else ["infra"],
            "prune": True,
            "postBuild": {"substitute": dict(variables)},
        }
        for name, path in KUSTOMIZATIONS.items()
    }
    configuration = {
        "id": f"{cluster_id}/{KC}/fluxConfigurations/cluster-config",
        "name": "cluster-config",
        "type": "Microsoft.KubernetesConfiguration/fluxConfigurations",
        "properties": {
            "scope": "cluster",
            "namespace": "cluster-config",
            "sourceKind": "GitRepository",
            "suspend": False,
            "gitRepository": {"url": repo_url, "repositoryRef": {"branch": branch}},
            "kustomizations": kustomizations,
            "provisioningState": "Succeeded",
            "complianceState": "Compliant",
        },
    }
    applied = []
    for name, path in KUSTOMIZATIONS.items():
        labels = {NAME_LABEL: f"cluster-config-{name}", NAMESPACE_LABEL: "cluster-config"}
        for obj in tree[path]:
            built = substitute(copy.deepcopy(obj), variables)
            built["metadata"]["labels"] = {**(built["metadata"].get("labels") or {}), **labels}
            applied.append(built)
    objects = {
        "type": "Microsoft.ContainerService/managedClusters/kubernetesObjects",
        "id": f"{cluster_id}/kubernetesObjects",
        "items": applied,
    }
    return [repository, extension, configuration, objects]


def _standard_front_door(profile_id: str, groups: tuple[FrontDoorGroup, ...]) -> list[dict[str, Any]]:
    profile = {
        "id": profile_id,
        "type": "Microsoft.Cdn/profiles",
        "name": profile_id.rsplit("/", 1)[-1],
        "location": "Global",
        "sku": {"name": "Standard_AzureFrontDoor"},
        "properties": {"provisioningState": "Succeeded"},
    }
    resources: list[dict[str, Any]] = [profile]
    for og in groups:
        group_id = f"{profile_id}/originGroups/{og.name}"
        resources.append(
            {
                "id": group_id,
                "type": "Microsoft.Cdn/profiles/origingroups",
                "name": og.name,
                "properties": {
                    # A latency window, so a gradual switch's weights apply (azure-more.md (h)).
                    "loadBalancingSettings": {
                        "sampleSize": 4,
                        "successfulSamplesRequired": 3,
                        "additionalLatencyInMilliseconds": 50,
                    },
                    "healthProbeSettings": {
                        "probePath": "/healthz",
                        "probeRequestType": "HEAD",
                        "probeProtocol": "Https",
                        "probeIntervalInSeconds": 30,
                    },
                },
            }
        )
        resources += [
            {
                "id": f"{group_id}/origins/{og.origins[side]}",
                "type": "Microsoft.Cdn/profiles/origingroups/origins",
                "name": og.origins[side],
                "properties": {
                    "hostName": host,
                    "httpPort": 80,
                    "httpsPort": 443,
                    "originHostHeader": host,
                    "priority": 1,
                    "weight": 1000,
                    "enabledState": "Enabled" if side == "blue" else "Disabled",
                    "enforceCertificateNameCheck": True,
                },
            }
            for side, host in og.hosts.items()
        ]
    return resources


def _classic_front_door(fd_id: str, groups: tuple[FrontDoorGroup, ...]) -> dict[str, Any]:
    name = fd_id.rsplit("/", 1)[-1]
    return {
        "id": fd_id,
        "type": "Microsoft.Network/frontDoors",
        "name": name,
        "location": "Global",
        "properties": {
            "friendlyName": name,
            "enabledState": "Enabled",
            "frontendEndpoints": [
                {
                    "id": f"{fd_id}/frontendEndpoints/default",
                    "name": "default",
                    "properties": {"hostName": f"{name}.azurefd.net", "sessionAffinityEnabledState": "Disabled"},
                }
            ],
            "loadBalancingSettings": [
                {
                    "id": f"{fd_id}/loadBalancingSettings/lb",
                    "name": "lb",
                    # A latency window, so a gradual switch's weights apply (azure-more.md (h)).
                    "properties": {
                        "sampleSize": 4,
                        "successfulSamplesRequired": 2,
                        "additionalLatencyMilliseconds": 50,
                    },
                }
            ],
            "healthProbeSettings": [
                {
                    "id": f"{fd_id}/healthProbeSettings/probe",
                    "name": "probe",
                    "properties": {"path": "/healthz", "protocol": "Https", "intervalInSeconds": 30},
                }
            ],
            "backendPools": [
                {
                    "id": f"{fd_id}/backendPools/{pool.name}",
                    "name": pool.name,
                    "properties": {
                        "backends": [
                            {
                                "address": host,
                                "httpPort": 80,
                                "httpsPort": 443,
                                "priority": 1,
                                "weight": 50,
                                "enabledState": "Enabled" if side == "blue" else "Disabled",
                                "backendHostHeader": host,
                            }
                            for side, host in pool.hosts.items()
                        ],
                        "loadBalancingSettings": {"id": f"{fd_id}/loadBalancingSettings/lb"},
                        "healthProbeSettings": {"id": f"{fd_id}/healthProbeSettings/probe"},
                    },
                }
                for pool in groups
            ],
            # The first pool serves every path; each other pool the paths of its application.
            "routingRules": [
                {
                    "id": f"{fd_id}/routingRules/{pool.name}",
                    "name": pool.name,
                    "properties": {
                        "frontendEndpoints": [{"id": f"{fd_id}/frontendEndpoints/default"}],
                        "acceptedProtocols": ["Https"],
                        "patternsToMatch": ["/*"] if index == 0 else [f"/{pool.name}/*"],
                        "routeConfiguration": {
                            "@odata.type": "#Microsoft.Azure.FrontDoor.Models.FrontdoorForwardingConfiguration",
                            "backendPool": {"id": f"{fd_id}/backendPools/{pool.name}"},
                        },
                    },
                }
                for index, pool in enumerate(groups)
            ],
        },
    }


def environment_config(
    estate: Estate, strategy: str, *, approval: str = "manual", workloads: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The rehearsal's environments file: the same schema as environments.toml."""
    config = {
        "environment": [
            {
                "name": estate.environment,
                "strategy": strategy,
                "clusters": {
                    "subscription": estate.subscription,
                    "resource_group": estate.resource_group,
                    "names": [estate.blue_name, estate.green_name],
                },
                "front_door": {
                    "kind": estate.front_door_kind,
                    "id": estate.front_door_id,
                    **_front_door_groups(estate),
                },
                "approval": {"mode": approval, "timeout_hours": 24, "four_eyes": False},
                "bake": {"window_minutes": 30, "interval_minutes": 1, "max_error_rate": 0.05, "min_requests": 20},
                "retire": {"mode": "stop"},
            }
        ]
    }
    if workloads is not None:
        config["environment"][0]["workloads"] = workloads
    return config


def _front_door_groups(estate: Estate) -> dict[str, Any]:
    """One origin group as `origin_group` + `origins` (as ever); several as `groups`, in the estate's order."""
    groups = estate.front_door_groups()
    if len(groups) == 1:
        return {"origin_group": estate.origin_group, "origins": [estate.origins["blue"], estate.origins["green"]]}
    return {"groups": [{"origin_group": g.name, "origins": [g.origins["blue"], g.origins["green"]]} for g in groups]}


def repository_item(estate: Estate) -> dict[str, Any] | None:
    """The seeded git repository blue's Flux configuration syncs (an emulator pseudo item)."""
    return next((r for r in estate.resources if r.get("type") == "emulator/gitRepository"), None)


def application_objects(objects: list[dict[str, Any]], estate: Estate) -> list[dict[str, Any]]:
    """The application's Kubernetes objects among a cluster's (its namespaces, and the objects in them)."""
    keep = set(estate.app_namespaces)
    chosen = []
    for item in objects:
        meta = item.get("metadata") or {}
        if (item.get("kind") == "Namespace" and meta.get("name") in keep) or meta.get("namespace") in keep:
            chosen.append({k: v for k, v in item.items() if k != "status"})
    return chosen
