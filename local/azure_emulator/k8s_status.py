"""Status of a cluster's objects at a moment, derived from the cluster: nothing runs unless the cluster does.

A workload's pods are available while the cluster runs (created, started), its `ready` signal is true
(AzureEmulator.set_workloads_ready) and the object's rollout has finished (Timings.rollout after it was applied).
A Deployment or StatefulSet then has all its replicas available, a DaemonSet one pod per node, unless the
cluster's workload gate (workload_access: images it may not pull, tokens it may not get) blocks it at that moment.
A LoadBalancer Service has its address (ingress_ip) once the cluster has run since the Service was created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.k8s_objects import KubeObject
from local.azure_emulator.k8s_system import SYSTEM_NAMESPACES
from local.azure_emulator.world import ClusterSignals, ingress_ip


def node_count(cluster: Cluster) -> int:
    return sum(int(pool.get("count") or 0) for pool in cluster.pools())


def desired(obj: KubeObject, cluster: Cluster) -> int:
    if obj.kind == "DaemonSet":
        return node_count(cluster)
    replicas = obj.spec.get("replicas", 1)
    return int(replicas) if isinstance(replicas, int) else 1


def pods_up(obj: KubeObject, signals: ClusterSignals, moment: datetime) -> bool:
    return signals.healthy(moment) and obj.ready_at <= moment


def permitted(obj: KubeObject, cluster: Cluster, moment: datetime) -> bool:
    """Azure lets the workload's pods run: they may pull their images and get their tokens (workload_access)."""
    return cluster.gate is None or cluster.gate.allowed(obj, moment)


def available(obj: KubeObject, cluster: Cluster, signals: ClusterSignals, moment: datetime) -> int:
    return desired(obj, cluster) if pods_up(obj, signals, moment) and permitted(obj, cluster, moment) else 0


def workload_status(obj: KubeObject, cluster: Cluster, signals: ClusterSignals, moment: datetime) -> dict[str, Any]:
    want, up = desired(obj, cluster), available(obj, cluster, signals, moment)
    if obj.kind == "DaemonSet":
        status: dict[str, Any] = {
            "currentNumberScheduled": want,
            "desiredNumberScheduled": want,
            "numberMisscheduled": 0,
            "numberReady": up,
            "observedGeneration": obj.generation,
            "updatedNumberScheduled": want,
        }
        if up:
            status["numberAvailable"] = up
        if want - up:
            status["numberUnavailable"] = want - up
        return status
    status = {"observedGeneration": obj.generation, "replicas": want, "updatedReplicas": want}
    # readyReplicas / availableReplicas are omitted when zero, as the API server's JSON does (omitempty).
    if up:
        status.update(readyReplicas=up, availableReplicas=up)
    if obj.kind == "StatefulSet":
        status["currentReplicas"] = want
        return status
    if want - up:
        status["unavailableReplicas"] = want - up
    condition = "True" if up >= want else "False"
    reason = "MinimumReplicasAvailable" if up >= want else "MinimumReplicasUnavailable"
    status["conditions"] = [{"type": "Available", "status": condition, "reason": reason}]
    return status


def lb_address(obj: KubeObject, cluster: Cluster, signals: ClusterSignals, moment: datetime) -> str | None:
    """A LoadBalancer Service's public address: assigned once the cluster has run since the Service exists."""
    if obj.spec.get("type") != "LoadBalancer" or obj.created > moment:
        return None
    serving = signals.serving
    ran = serving.at(obj.created) or any(serving.at(t) for t in serving.changes() if obj.created < t <= moment)
    return ingress_ip(cluster.name) if ran else None


def is_app_workload(obj: KubeObject) -> bool:
    """A Deployment or StatefulSet someone deployed: not AKS's, an add-on's or an extension's."""
    return obj.kind in ("Deployment", "StatefulSet") and obj.owner is None and obj.namespace not in SYSTEM_NAMESPACES


def app_ready_since(cluster: Cluster) -> datetime | None:
    """When the application the cluster's objects describe is up: at least one application Deployment or
    StatefulSet wanting pods, all of them rolled out, and a LoadBalancer Service to reach them. None when the
    cluster runs no application (whether the cluster itself runs is the caller's signals' business)."""
    workloads = [o for o in cluster.kube.items.values() if is_app_workload(o)]
    wanting = [o for o in workloads if desired(o, cluster) > 0]
    balancers = [o for o in cluster.kube.items.values() if o.kind == "Service" and o.spec.get("type") == "LoadBalancer"]
    if not wanting or not balancers:
        return None
    starts = [o.ready_at for o in wanting] + [min(o.created for o in balancers)]
    if cluster.gate is not None:
        for obj in wanting:
            since = cluster.gate.ready_from(obj)
            if since is None:
                return None  # it cannot pull or authenticate: the application never comes up as things are
            starts.append(since)
    return max(starts)
