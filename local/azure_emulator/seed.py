"""Loading resources as an ARM GET returns them, or as `az ... show -o json` prints them (flattened camelCase).

Besides ARM resources (managed clusters, Front Door, Microsoft.KubernetesConfiguration extensions and
fluxConfigurations, Key Vault secrets) a seed may hold emulator-only pseudo items, recognised by their `type`:

- {"type": "Microsoft.ContainerService/managedClusters/kubernetesObjects", "id": "<cluster id>/kubernetesObjects",
   "items": [<Kubernetes objects as kubectl prints them>]}: objects the cluster already runs (applied and rolled
   out before the emulator started; their namespaces are created with them). Not an ARM type: ARM has no view of
   a cluster's Kubernetes objects.
- {"type": "emulator/gitRepository", "url": ..., "branches": {...}, ...}: a repository Flux can fetch (gitrepos).
- {"type": "Microsoft.KeyVault/vaults/secrets", "id": ".../vaults/{vault}/secrets/{name}",
   "properties": {"value": "..."}}: a secret's current version (keyvault).

A seeded extension is installed (Succeeded); a seeded fluxConfiguration has been reconciled: its objects are on
the cluster as Flux applies them. Items are loaded in dependency order: clusters first, fluxConfigurations last.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.azure_emulator import (
    aks_identity,
    arm_seed,
    flux_api,
    flux_reconcile,
    gitrepos,
    identity_seed,
    keyvault,
    kube,
)
from local.azure_emulator.aks_model import Cluster, fill_read_only
from local.azure_emulator.errors import ArmError
from local.azure_emulator.flux_state import FluxConfig
from local.azure_emulator.frontdoor_classic import FrontDoorClassic
from local.azure_emulator.frontdoor_std import FrontDoorStd
from local.azure_emulator.k8s_objects import EPOCH
from local.azure_emulator.kconfig import flux_extension_ready, release_namespace
from local.azure_emulator.world import World

_RG = r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/"
_MC = _RG + r"microsoft\.containerservice/managedclusters/(?P<cluster>[^/]+)"
OBJECTS_TYPE = "Microsoft.ContainerService/managedClusters/kubernetesObjects"
KINDS = [
    ("cluster", re.compile(_RG + r"microsoft\.containerservice/managedclusters/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("kubernetes_objects", re.compile(_MC + r"/kubernetesobjects$", re.IGNORECASE)),
    (
        "extension",
        re.compile(_MC + r"/providers/microsoft\.kubernetesconfiguration/extensions/(?P<name>[^/]+)$", re.IGNORECASE),
    ),
    (
        "flux",
        re.compile(
            _MC + r"/providers/microsoft\.kubernetesconfiguration/fluxconfigurations/(?P<name>[^/]+)$", re.IGNORECASE
        ),
    ),
    (
        "secret",
        re.compile(_RG + r"microsoft\.keyvault/vaults/(?P<vault>[^/]+)/secrets/(?P<name>[^/]+)$", re.IGNORECASE),
    ),
    (
        "origin",
        re.compile(
            _RG + r"microsoft\.cdn/profiles/(?P<profile>[^/]+)/origingroups/(?P<group>[^/]+)/origins/(?P<name>[^/]+)$",
            re.IGNORECASE,
        ),
    ),
    (
        "origin_group",
        re.compile(_RG + r"microsoft\.cdn/profiles/(?P<profile>[^/]+)/origingroups/(?P<name>[^/]+)$", re.IGNORECASE),
    ),
    ("profile", re.compile(_RG + r"microsoft\.cdn/profiles/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("classic", re.compile(_RG + r"microsoft\.network/frontdoors/(?P<name>[^/]+)$", re.IGNORECASE)),
]
# Keys that stay at the top level of an ARM body; az's flattened output puts everything else there too.
_TOP_LEVEL = {
    "id",
    "name",
    "type",
    "location",
    "tags",
    "sku",
    "identity",
    "extendedLocation",
    "kind",
    "zones",
    "etag",
    "systemData",
}
_AZ_ONLY = {"resourceGroup"}
_EPOCH = datetime.min.replace(tzinfo=UTC)


class SeedError(ValueError):
    """A seed resource the emulator cannot load; the message says what is wrong."""


def load_file(path: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SeedError(f"{path}: not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        try:
            classify(item)
        except SeedError as exc:
            raise SeedError(f"{path}: item {index}: {exc}") from exc
    return items


# The order items are loaded in, whatever their order in the seed.
_ORDER = ["cluster", "profile", "origin_group", "origin", "classic"]
_ORDER += identity_seed.ORDER  # identities and grants, once the resources they name exist (before any workload)
_ORDER += ["git_repository", "secret", "extension"]
_ORDER += ["kubernetes_objects", "flux", "arm"]
_PSEUDO = {"cluster", "kubernetes_objects", "git_repository", "arm"}


def classify(body: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(body, dict):
        raise SeedError("a resource must be a JSON object")
    try:
        found = identity_seed.classify(body)  # principals, identities, grants, registries, vaults
    except identity_seed.IdentitySeedError as exc:
        raise SeedError(str(exc)) from exc
    if found is not None:
        return found
    if str(body.get("type", "")).lower() == gitrepos.PSEUDO_TYPE.lower():
        try:
            gitrepos.parse(body)
        except ValueError as exc:
            raise SeedError(str(exc)) from exc
        return "git_repository", {}
    if str(body.get("type", "")).lower() == OBJECTS_TYPE.lower() and not isinstance(body.get("items"), list):
        raise SeedError(f"a {OBJECTS_TYPE} item needs 'items': [Kubernetes objects]")
    arm_rank = arm_seed.rank(body)  # Event Grid, Insights, Network, Compute quota (arm_providers)
    if arm_rank is not None:
        return "arm", {"rank": str(arm_rank)}
    resource_id = body.get("id")
    if not isinstance(resource_id, str):
        raise SeedError("a resource needs an 'id' (the ARM resource id)")
    for kind, pattern in KINDS:
        match = pattern.match(resource_id)
        if match:
            return kind, match.groupdict()
    raise SeedError(
        f"unsupported resource id {resource_id!r} (managed clusters and their kubernetesObjects, "
        "Microsoft.KubernetesConfiguration extensions and fluxConfigurations, Front Door profiles, origin groups, "
        "origins, classic front doors, Key Vault secrets, Event Grid system topics and subscriptions, metric and "
        "activity log alerts, action groups, diagnostic settings, virtual networks, subnets, public IPs; or an "
        "emulator/gitRepository, emulator/resource or emulator/computeQuota)"
    )


def to_arm(body: dict[str, Any]) -> dict[str, Any]:
    """An ARM GET body: returned as is when it has `properties`, else unflattened from az output."""
    if isinstance(body.get("properties"), dict):
        return copy.deepcopy(body)
    arm = {k: copy.deepcopy(v) for k, v in body.items() if k in _TOP_LEVEL}
    arm["properties"] = {k: copy.deepcopy(v) for k, v in body.items() if k not in _TOP_LEVEL | _AZ_ONLY}
    return arm


class Seeder:
    def __init__(
        self, world: World, std: FrontDoorStd, classic: FrontDoorClassic, arm: arm_seed.ArmSeeder | None = None
    ) -> None:
        self.world, self.std, self.classic, self.arm = world, std, classic, arm

    def seed(self, body_or_list: dict[str, Any] | list[dict[str, Any]]) -> None:
        items = body_or_list if isinstance(body_or_list, list) else [body_or_list]
        parsed = []  # validate all before changing anything
        for item in items:
            kind, parts = classify(item)
            parsed.append(((kind, parts), copy.deepcopy(item) if kind in _PSEUDO - {"cluster"} else to_arm(item)))
        parsed.sort(key=lambda entry: (_ORDER.index(entry[0][0]), int(entry[0][1].get("rank", 0))))
        with self.world.lock:
            self._check_parents(parsed)
            for (kind, parts), body in parsed:
                if kind in identity_seed.ORDER:
                    try:
                        identity_seed.load(self.world, kind, body, parts)
                    except identity_seed.IdentitySeedError as exc:
                        raise SeedError(str(exc)) from exc
                    continue
                getattr(self, f"_{kind}")(body, parts)

    def _check_parents(self, parsed: list[tuple[tuple[str, dict[str, str]], dict[str, Any]]]) -> None:
        clusters = {c.id.lower() for c in self.world.clusters.values()}
        clusters |= {b["id"].lower() for (k, _), b in parsed if k == "cluster"}
        for (_, parts), body in parsed:
            if "cluster" in parts and self._cluster_key(parts) not in clusters:
                raise SeedError(f"{body.get('id')}: seed its managed cluster too (none with that id)")

    @staticmethod
    def _cluster_key(parts: dict[str, str]) -> str:
        return (
            f"/subscriptions/{parts['sub']}/resourcegroups/{parts['rg']}/providers/"
            f"microsoft.containerservice/managedclusters/{parts['cluster']}"
        ).lower()

    def _parent(self, parts: dict[str, str]) -> Cluster:
        cluster = self.world.clusters.get(self._cluster_key(parts))
        if cluster is None:
            raise SeedError(f"no managed cluster {parts['cluster']} to seed into")
        return cluster

    def _cluster(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        props = body["properties"]
        version = str(
            props.get("currentKubernetesVersion")
            or props.get("kubernetesVersion")
            or self.world.catalogue.default_version()
        )
        # A seeded cluster may run a version AKS no longer offers: that is why it is being upgraded.
        with contextlib.suppress(ArmError):
            version = self.world.catalogue.resolve(version)
        props.setdefault("kubernetesVersion", version)
        props["currentKubernetesVersion"] = version
        stopped = props.get("powerState", {}).get("code") == "Stopped"
        props.update(provisioningState="Succeeded", powerState={"code": "Stopped" if stopped else "Running"})
        for pool in props.get("agentPoolProfiles") or []:
            pool.setdefault("orchestratorVersion", version)
            pool["currentOrchestratorVersion"] = pool.get("currentOrchestratorVersion") or pool["orchestratorVersion"]
            pool["provisioningState"] = "Succeeded"
        now = self.world.now()
        cluster = Cluster(parts["sub"], parts["rg"], parts["name"], body, now)
        fill_read_only(cluster)
        self.world.clusters[cluster.id.lower()] = cluster
        self.world.signals_for(cluster.name).serving.set(_EPOCH, not stopped)
        kube.install_system(self.world, cluster, now, seeded=True)
        aks_identity.on_ready(self.world, cluster, now, seeded=True)  # its identities exist, as AKS made them

    def _kubernetes_objects(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        cluster = self._parent(parts)
        result = kube.apply(self.world, cluster, body["items"], self.world.now(), seeded=True)
        if not result.ok:
            raise SeedError(f"{body.get('id')}: " + "; ".join(result.errors))

    def _git_repository(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        repo = gitrepos.parse(body)
        self.world.git[gitrepos.normalize_url(repo.url)] = repo

    def _secret(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        keyvault.add_secret(self.world, parts["vault"], parts["name"], body.get("properties") or {}, self.world.now())

    def _extension(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        cluster = self._parent(parts)
        props = body["properties"]
        if not props.get("extensionType"):
            raise SeedError(f"{body['id']}: an extension needs properties.extensionType")
        props.pop("configurationProtectedSettings", None)  # never returned: a seed cannot know them
        props.setdefault("autoUpgradeMinorVersion", True)
        props.setdefault("releaseTrain", "Stable")
        if str(props["extensionType"]).lower() == "microsoft.flux" and not release_namespace(props):
            props["scope"] = {"cluster": {"releaseNamespace": "flux-system"}}
        props.update(provisioningState="Succeeded", statuses=props.get("statuses") or [], isSystemExtension=False)
        props.setdefault("currentVersion", props.get("version") or "1.0.0")
        body.setdefault("name", parts["name"])
        body.setdefault("type", "Microsoft.KubernetesConfiguration/extensions")
        self.world.extensions[body["id"].lower()] = body
        kube.install_extension(
            self.world, cluster, body["id"], str(props["extensionType"]), release_namespace(props), EPOCH
        )

    def _flux(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        cluster = self._parent(parts)
        if not flux_extension_ready(self.world, cluster):
            raise SeedError(f"{body['id']}: seed the microsoft.flux extension of {cluster.name} too")
        props = body["properties"]
        protected = props.pop("configurationProtectedSettings", None) or {}
        for key in ("statuses", "complianceState", "sourceSyncedCommitId", "sourceUpdatedAt", "statusUpdatedAt"):
            props.pop(key, None)
        flux_api.check_source(props)
        flux_api.apply_defaults(props)
        props.update(provisioningState="Succeeded", errorMessage="")
        body.setdefault("name", parts["name"])
        body.setdefault("type", "Microsoft.KubernetesConfiguration/fluxConfigurations")
        config = FluxConfig(body["id"], cluster.id.lower(), body, dict(protected))
        self.world.flux[body["id"].lower()] = config
        flux_reconcile.reconcile(self.world, config, self.world.now(), seeded=True)

    def _profile(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        body["properties"].setdefault("provisioningState", "Succeeded")
        self.world.afd[body["id"].lower()] = body

    def _origin_group(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.std.ensure_parents(parts["sub"], parts["rg"], parts["profile"], None)
        body["properties"].update(provisioningState="Succeeded", deploymentStatus="Succeeded")
        self.world.afd[body["id"].lower()] = body

    def _origin(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.std.ensure_parents(parts["sub"], parts["rg"], parts["profile"], parts["group"])
        body["properties"].update(provisioningState="Succeeded", deploymentStatus="Succeeded")
        body["properties"].setdefault("originGroupName", parts["group"])
        self.world.afd[body["id"].lower()] = body
        group = body["id"].lower().rsplit("/origins/", 1)[0]
        self.world.record_deployment(group, self.std.snapshot(group), seeded=True)

    def _arm(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        if self.arm is None:
            raise SeedError(f"{body.get('id') or body.get('type')}: this emulator has no arm providers")
        try:
            self.arm.seed(body)
        except arm_seed.SeedRefused as exc:
            raise SeedError(str(exc)) from exc

    def _classic(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.classic.seed(body, parts["sub"], parts["rg"], parts["name"])
