"""A cluster's Kubernetes objects as the API server keeps them: manifests by (kind, namespace, name), no status.

Status is never stored: k8s_status derives it from the cluster (running, ready, nodes) at the moment asked.
Every kind is kept; Deployments, StatefulSets, DaemonSets, Services and Namespaces get their own status and
table columns, other kinds are listed generically.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# "Has always been so": when seeded objects were created and became ready.
EPOCH = datetime.min.replace(tzinfo=UTC)

# Kinds that live outside namespaces (a subset of `kubectl api-resources --namespaced=false`).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "StorageClass",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# Metadata the API server owns: ignored when a manifest is applied (as kubectl prints it, or from a repo).
_SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

Key = tuple[str, str, str]  # (kind, namespace or "", name)


class ManifestError(ValueError):
    """A manifest kubectl would refuse; the message is kubectl's."""


@dataclass
class KubeObject:
    manifest: dict[str, Any]
    created: datetime
    # When its pods are up (workloads): created + rollout, or the dawn of time for seeded objects.
    ready_at: datetime
    # Who put it there: "aks" (AKS itself), "addon:<name>", "extension:<extension id>"; None for objects applied
    # through the API (kubectl, Flux: Flux's ownership is its labels, as on a real cluster).
    owner: str | None = None
    generation: int = 1

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.manifest["metadata"].get("namespace") or "")

    @property
    def key(self) -> Key:
        return (self.kind, self.namespace, self.name)

    @property
    def labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.manifest["metadata"].get("labels") or {}
        return labels

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.manifest.get("spec") or {}
        return spec


def resource_name(manifest: dict[str, Any]) -> str:
    """kubectl's `<resource>.<group>/<name>` prefix, e.g. deployment.apps, service, namespace."""
    api_version = str(manifest.get("apiVersion", "v1"))
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    kind = str(manifest.get("kind", "")).lower()
    return f"{kind}.{group}" if group else kind


def normalize(manifest: Any) -> dict[str, Any]:
    """The manifest the API server stores: validated, server-owned fields and status dropped."""
    if not isinstance(manifest, dict):
        raise ManifestError("error: error validating data: the object is not a JSON object")
    missing = [f"{field} not set" for field in ("apiVersion", "kind") if not manifest.get(field)]
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict) or not metadata.get("name"):
        missing.append("metadata.name not set")
    if missing:
        raise ManifestError(f"error: error validating data: [{', '.join(missing)}]")
    clean = {k: copy.deepcopy(v) for k, v in manifest.items() if k != "status"}
    meta = clean["metadata"]
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop(_LAST_APPLIED, None)
        if not annotations:
            meta.pop("annotations")
    if clean["kind"] in CLUSTER_SCOPED:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = meta.get("namespace") or "default"
    return clean


def expand(manifests: list[Any]) -> list[Any]:
    """A `kind: List` (what `kubectl get -o json` prints) stands for its items."""
    out: list[Any] = []
    for item in manifests:
        if isinstance(item, dict) and item.get("kind") == "List" and isinstance(item.get("items"), list):
            out += expand(item["items"])
        else:
            out.append(item)
    return out


@dataclass
class ClusterObjects:
    items: dict[Key, KubeObject] = field(default_factory=dict)

    def get(self, kind: str, namespace: str, name: str) -> KubeObject | None:
        return self.items.get((kind, namespace, name))

    def has_namespace(self, name: str) -> bool:
        return ("Namespace", "", name) in self.items

    def put(self, manifest: dict[str, Any], now: datetime, ready_at: datetime, owner: str | None = None) -> str:
        """Store a normalized manifest; kubectl's verb for it: created, configured or unchanged."""
        key: Key = (manifest["kind"], manifest["metadata"].get("namespace") or "", manifest["metadata"]["name"])
        existing = self.items.get(key)
        if existing is None:
            self.items[key] = KubeObject(manifest, now, ready_at, owner)
            return "created"
        if existing.manifest == manifest:
            return "unchanged"
        # A changed spec rolls out while the old pods keep serving (a Deployment's RollingUpdate): the object
        # stays available; only a new object waits for its pods.
        existing.manifest = manifest
        existing.generation += 1
        if owner is not None:
            existing.owner = owner
        return "configured"

    def remove(self, key: Key) -> KubeObject | None:
        removed = self.items.pop(key, None)
        if removed is not None and removed.kind == "Namespace":
            # Deleting a namespace deletes everything in it.
            for other in [k for k in self.items if k[1] == removed.name]:
                self.items.pop(other)
        return removed

    def select(self, kinds: tuple[str, ...] | None = None, namespace: str | None = None) -> list[KubeObject]:
        found = [
            o
            for o in self.items.values()
            if (kinds is None or o.kind in kinds) and (namespace is None or o.namespace == namespace)
        ]
        return sorted(found, key=lambda o: (o.namespace, o.name))
