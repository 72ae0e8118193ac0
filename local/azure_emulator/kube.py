"""Changing a cluster's Kubernetes objects: AKS installing its own, `kubectl apply`, deletion.

After every change the cluster's application signal (ClusterSignals.app) is recorded at that moment, so traffic
and probes of past moments keep seeing the objects as they were then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.k8s_objects import EPOCH, KubeObject, ManifestError, expand, normalize, resource_name
from local.azure_emulator.k8s_status import app_ready_since
from local.azure_emulator.k8s_system import addon_objects, base_objects, extension_objects
from local.azure_emulator.world import World


@dataclass
class ApplyResult:
    """What `kubectl apply` prints: one line per object, and the errors (exit code 1 when there are any)."""

    output: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {"exitCode": 0 if self.ok else 1, "output": self.output, "errors": self.errors}


def refresh(world: World, cluster: Cluster, at: datetime) -> None:
    """Record what the objects now say, from `at` on. Seeded objects (at EPOCH) have always been there, and are
    so from now on as well: a seed into a cluster with a history after EPOCH must not be hidden by it."""
    signals = world.signals_for(cluster.name)
    value = app_ready_since(cluster)
    signals.app.set(at, value)
    if at == EPOCH:
        signals.app.set(world.now(), value)


def _put_owned(cluster: Cluster, manifests: list[dict[str, Any]], owner: str, at: datetime) -> None:
    for manifest in manifests:
        clean = normalize(manifest)
        key = (clean["kind"], clean["metadata"].get("namespace") or "", clean["metadata"]["name"])
        if key not in cluster.kube.items:
            cluster.kube.put(clean, at, at, owner)


def install_system(world: World, cluster: Cluster, now: datetime, seeded: bool = False) -> None:
    """A new cluster: AKS's own objects and those of its enabled add-ons (seeded: there all along)."""
    at = EPOCH if seeded else now
    _put_owned(cluster, base_objects(cluster), "aks", at)
    sync_addons(world, cluster, now, seeded)


def sync_addons(world: World, cluster: Cluster, now: datetime, seeded: bool = False) -> None:
    """Objects of add-ons enabled since are added, those of add-ons disabled since removed."""
    at = EPOCH if seeded else now
    wanted = addon_objects(cluster)
    for obj in list(cluster.kube.items.values()):
        if obj.owner and obj.owner.startswith("addon:") and obj.owner[len("addon:") :] not in wanted:
            cluster.kube.remove(obj.key)
    for name, manifests in wanted.items():
        _put_owned(cluster, manifests, f"addon:{name}", at)
    refresh(world, cluster, at)


def install_extension(
    world: World, cluster: Cluster, extension_id: str, extension_type: str, ns: str, at: datetime
) -> None:
    _put_owned(cluster, extension_objects(extension_type, ns), f"extension:{extension_id.lower()}", at)
    refresh(world, cluster, at)


def remove_extension(world: World, cluster: Cluster, extension_id: str, now: datetime) -> None:
    owner = f"extension:{extension_id.lower()}"
    remove_where(world, cluster, lambda o: o.owner == owner, now)


def apply(
    world: World,
    cluster: Cluster,
    manifests: list[Any],
    now: datetime,
    *,
    labels: dict[str, str] | None = None,
    namespaces_first: bool = False,
    seeded: bool = False,
) -> ApplyResult:
    """`kubectl apply` of these objects, in order (Flux: namespaces first). A namespaced object needs its
    namespace to exist; seeded objects create theirs (a cluster cannot hold objects in no namespace)."""
    result = ApplyResult()
    items = expand(list(manifests))
    if namespaces_first:
        items.sort(key=lambda m: 0 if isinstance(m, dict) and m.get("kind") == "Namespace" else 1)
    created = EPOCH if seeded else now
    ready_at = EPOCH if seeded else now + timedelta(seconds=world.timings.rollout)
    for item in items:
        try:
            clean = normalize(item)
        except ManifestError as exc:
            result.errors.append(str(exc))
            continue
        if labels:
            clean["metadata"]["labels"] = {**(clean["metadata"].get("labels") or {}), **labels}
        ns = clean["metadata"].get("namespace")
        if ns and not cluster.kube.has_namespace(ns):
            if not seeded:
                result.errors.append(
                    f'Error from server (NotFound): error when creating "STDIN": namespaces "{ns}" not found'
                )
                continue
            cluster.kube.put(
                normalize({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}), created, created
            )
        verb = cluster.kube.put(clean, created, ready_at if clean["kind"] != "Namespace" else created)
        result.output.append(f"{resource_name(clean)}/{clean['metadata']['name']} {verb}")
    refresh(world, cluster, EPOCH if seeded else now)
    return result


def remove_where(world: World, cluster: Cluster, keep_out: Callable[[KubeObject], bool], now: datetime) -> list[str]:
    """Delete the objects `keep_out` picks; kubectl's `<resource>/<name> deleted` lines."""
    lines = []
    for obj in [o for o in cluster.kube.items.values() if keep_out(o)]:
        if cluster.kube.remove(obj.key) is not None:
            lines.append(f"{resource_name(obj.manifest)}/{obj.name} deleted")
    refresh(world, cluster, now)
    return lines
