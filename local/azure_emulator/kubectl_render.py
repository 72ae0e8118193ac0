"""How kubectl prints objects: the JSON the API server returns (with status), and kubectl's tables."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.k8s_objects import EPOCH, WORKLOADS, KubeObject, resource_name
from local.azure_emulator.k8s_status import available, desired, lb_address, workload_status
from local.azure_emulator.world import ClusterSignals, short_hash


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def age(since: datetime, now: datetime) -> str:
    seconds = max(int((now - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def created(obj: KubeObject, cluster: Cluster) -> datetime:
    # Seeded objects were there before the emulator knew the cluster: they are as old as that.
    return obj.created if obj.created > EPOCH else cluster.created


def _number(text: str, modulo: int) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % modulo


def cluster_ip(obj: KubeObject, cluster: Cluster) -> str:
    given = obj.spec.get("clusterIP")
    if isinstance(given, str) and given:
        return given
    seed = f"{cluster.id}/{obj.namespace}/{obj.name}".lower()
    return f"10.0.{_number(seed, 254) + 1}.{_number(seed + '#', 253) + 2}"


def _ports(obj: KubeObject, cluster: Cluster) -> list[dict[str, Any]]:
    ports = copy.deepcopy(obj.spec.get("ports") or [])
    if obj.spec.get("type") in ("LoadBalancer", "NodePort"):
        for port in ports:
            port.setdefault(
                "nodePort", 30000 + _number(f"{cluster.id}/{obj.namespace}/{obj.name}/{port.get('port')}", 2767)
            )
    return ports


def object_json(obj: KubeObject, cluster: Cluster, signals: ClusterSignals, now: datetime) -> dict[str, Any]:
    body = copy.deepcopy(obj.manifest)
    meta = body["metadata"]
    meta["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{cluster.id}/{obj.kind}/{obj.namespace}/{obj.name}".lower()))
    meta["creationTimestamp"] = rfc3339(created(obj, cluster))
    meta["resourceVersion"] = str(_number(f"{meta['uid']}#{obj.generation}", 10**7))
    if obj.kind in WORKLOADS:
        meta["generation"] = obj.generation
        body["status"] = workload_status(obj, cluster, signals, now)
    elif obj.kind == "Service":
        body["spec"] = {**body.get("spec", {}), "clusterIP": cluster_ip(obj, cluster), "ports": _ports(obj, cluster)}
        address = lb_address(obj, cluster, signals, now)
        body["status"] = {"loadBalancer": {"ingress": [{"ip": address, "ipMode": "VIP"}]} if address else {}}
    elif obj.kind == "Namespace":
        meta["labels"] = {"kubernetes.io/metadata.name": obj.name, **(meta.get("labels") or {})}
        body["spec"] = {"finalizers": ["kubernetes"]}
        body["status"] = {"phase": "Active"}
    return body


def node_json(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": node["name"],
            "labels": {"agentpool": node["pool"], "kubernetes.azure.com/agentpool": node["pool"]},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if node["ready"] else "Unknown"}],
            "nodeInfo": {"kubeletVersion": node["version"]},
        },
    }


def nodes(cluster: Cluster) -> list[dict[str, Any]]:
    ready = cluster.running()
    rows = []
    for pool in cluster.pools():
        suffix = int(short_hash(cluster.id + pool["name"]), 16) % 10**8
        version = pool.get("currentOrchestratorVersion") or pool.get("orchestratorVersion", "")
        since = cluster.pools_created.get(pool["name"], cluster.created)
        for index in range(int(pool.get("count") or 0)):
            rows.append(
                {
                    "name": f"aks-{pool['name']}-{suffix:08d}-vmss{index:06d}",
                    "pool": pool["name"],
                    "ready": ready,
                    "version": f"v{version}",
                    "since": since,
                }
            )
    return rows


def json_list(items: list[dict[str, Any]]) -> str:
    body = {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
    return json.dumps(body, indent=4) + "\n"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """kubectl's tabwriter layout: each column as wide as its widest cell, three spaces apart."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["   ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [headers, *rows]]
    return "\n".join(lines) + "\n"


def _ports_text(obj: KubeObject, cluster: Cluster) -> str:
    parts = []
    for port in _ports(obj, cluster):
        node_port = f":{port['nodePort']}" if "nodePort" in port else ""
        parts.append(f"{port.get('port')}{node_port}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def object_rows(
    kind: str, objects: list[KubeObject], cluster: Cluster, signals: ClusterSignals, now: datetime, prefix: bool
) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of `kubectl get <kind> -A`, names as `<resource>/<name>` when several kinds are listed."""

    def name(o: KubeObject) -> str:
        return f"{resource_name(o.manifest)}/{o.name}" if prefix else o.name

    if kind == "Namespace":
        return ["NAME", "STATUS", "AGE"], [[name(o), "Active", age(created(o, cluster), now)] for o in objects]
    headers, rows = ["NAMESPACE", "NAME"], []
    for o in objects:
        want, up, when = desired(o, cluster), available(o, cluster, signals, now), age(created(o, cluster), now)
        if kind == "Deployment":
            rows.append([o.namespace, name(o), f"{up}/{want}", str(want), str(up), when])
        elif kind == "StatefulSet":
            rows.append([o.namespace, name(o), f"{up}/{want}", when])
        elif kind == "DaemonSet":
            selector = ",".join(
                f"{k}={v}" for k, v in (o.spec.get("template", {}).get("spec", {}).get("nodeSelector") or {}).items()
            )
            rows.append(
                [o.namespace, name(o), str(want), str(want), str(up), str(want), str(up), selector or "<none>", when]
            )
        elif kind == "Service":
            address = lb_address(o, cluster, signals, now)
            external = address or ("<pending>" if o.spec.get("type") == "LoadBalancer" else "<none>")
            rows.append(
                [
                    o.namespace,
                    name(o),
                    o.spec.get("type", "ClusterIP"),
                    cluster_ip(o, cluster),
                    external,
                    _ports_text(o, cluster),
                    when,
                ]
            )
        else:
            rows.append([o.namespace, name(o), when])
    extra = {
        "Deployment": ["READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "StatefulSet": ["READY", "AGE"],
        "DaemonSet": ["DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        "Service": ["TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
    }.get(kind, ["AGE"])
    return headers + extra, rows


def node_rows(rows: list[dict[str, Any]], now: datetime) -> tuple[list[str], list[list[str]]]:
    return ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], [
        [r["name"], "Ready" if r["ready"] else "NotReady", "<none>", age(r["since"], now), r["version"]] for r in rows
    ]
