"""Answers to `kubectl` commands sent through AKS run command, from the emulator's model of the cluster."""

from __future__ import annotations

import json
import shlex
from datetime import datetime
from typing import Any

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.world import ClusterSignals, ingress_ip, short_hash

# The application every emulated cluster runs: (namespace, name, replicas).
DEFAULT_WORKLOADS = [("web", "frontend", 3), ("web", "api", 2), ("kube-system", "coredns", 2)]
INGRESS_NAMESPACE = "app-routing-system"


def run(cluster: Cluster, signals: ClusterSignals, command: str, now: datetime) -> tuple[int, str]:
    """(exitCode, logs) for `command`, like the command pod would print them."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return 1, f"error: cannot parse command: {exc}\n"
    wants_json = _output_json(words)
    positional = [w for w in words if not w.startswith("-") and w not in ("json", "wide")]
    if positional[:2] != ["kubectl", "get"] or len(positional) < 3:
        return 1, f'error: unknown command "{command}" (this emulated cluster answers `kubectl get ...`)\n'
    kind = positional[2].lower()
    if kind in ("nodes", "node", "no"):
        rows = _nodes(cluster, now)
        return 0, _json_list(rows, _node_json) if wants_json else _nodes_table(rows)
    if kind in ("deployments", "deployment", "deploy"):
        rows = _deployments(cluster, signals, now)
        return 0, _json_list(rows, _deployment_json) if wants_json else _deployments_table(rows)
    if kind in ("svc", "service", "services"):
        rows = _services(cluster)
        return 0, _json_list(rows, _service_json) if wants_json else _services_table(rows)
    return 1, f'error: the server doesn\'t have a resource type "{positional[2]}"\n'


def _output_json(words: list[str]) -> bool:
    for index, word in enumerate(words):
        if word in ("-o", "--output") and index + 1 < len(words) and words[index + 1] == "json":
            return True
        if word in ("-ojson", "-o=json", "--output=json"):
            return True
    return False


def _age(since: datetime, now: datetime) -> str:
    seconds = max(int((now - since).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _nodes(cluster: Cluster, now: datetime) -> list[dict[str, Any]]:
    ready = cluster.running()
    nodes = []
    for pool in cluster.pools():
        suffix = int(short_hash(cluster.id + pool["name"]), 16) % 10**8
        version = pool.get("currentOrchestratorVersion") or pool.get("orchestratorVersion", "")
        since = cluster.pools_created.get(pool["name"], cluster.created)
        for index in range(int(pool.get("count") or 0)):
            nodes.append(
                {
                    "name": f"aks-{pool['name']}-{suffix:08d}-vmss{index:06d}",
                    "pool": pool["name"],
                    "ready": ready,
                    "version": f"v{version}",
                    "age": _age(since, now),
                }
            )
    return nodes


def _nodes_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAME':<40}{'STATUS':<10}{'ROLES':<8}{'AGE':<6}VERSION"]
    for r in rows:
        status = "Ready" if r["ready"] else "NotReady"
        lines.append(f"{r['name']:<40}{status:<10}{'<none>':<8}{r['age']:<6}{r['version']}")
    return "\n".join(lines) + "\n"


def _node_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": r["name"],
            "labels": {"agentpool": r["pool"], "kubernetes.azure.com/agentpool": r["pool"]},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if r["ready"] else "Unknown"}],
            "nodeInfo": {"kubeletVersion": r["version"]},
        },
    }


def _deployments(cluster: Cluster, signals: ClusterSignals, now: datetime) -> list[dict[str, Any]]:
    available = cluster.running() and signals.ready.at(now)
    return [
        {
            "namespace": ns,
            "name": name,
            "replicas": n,
            "available": n if available else 0,
            "age": _age(cluster.created, now),
        }
        for ns, name, n in DEFAULT_WORKLOADS
    ]


def _deployments_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAMESPACE':<14}{'NAME':<12}{'READY':<8}{'UP-TO-DATE':<12}{'AVAILABLE':<11}AGE"]
    for r in rows:
        ready = f"{r['available']}/{r['replicas']}"
        lines.append(f"{r['namespace']:<14}{r['name']:<12}{ready:<8}{r['replicas']:<12}{r['available']:<11}{r['age']}")
    return "\n".join(lines) + "\n"


def _deployment_json(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": r["namespace"], "name": r["name"]},
        "spec": {"replicas": r["replicas"]},
        "status": {
            "replicas": r["replicas"],
            "updatedReplicas": r["replicas"],
            "readyReplicas": r["available"],
            "availableReplicas": r["available"],
        },
    }


def _services(cluster: Cluster) -> list[dict[str, Any]]:
    return [
        {"namespace": "default", "name": "kubernetes", "type": "ClusterIP", "ip": "10.0.0.1", "external": None},
        {
            "namespace": INGRESS_NAMESPACE,
            "name": "nginx",
            "type": "LoadBalancer",
            "ip": "10.0.181.12",
            "external": ingress_ip(cluster.name),
        },
    ]


def _services_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'NAMESPACE':<20}{'NAME':<12}{'TYPE':<14}{'CLUSTER-IP':<14}{'EXTERNAL-IP':<16}PORT(S)"]
    for r in rows:
        ports = "80:31080/TCP,443:31443/TCP" if r["external"] else "443/TCP"
        lines.append(
            f"{r['namespace']:<20}{r['name']:<12}{r['type']:<14}{r['ip']:<14}{r['external'] or '<none>':<16}{ports}"
        )
    return "\n".join(lines) + "\n"


def _service_json(r: dict[str, Any]) -> dict[str, Any]:
    ingress = [{"ip": r["external"]}] if r["external"] else []
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": r["namespace"], "name": r["name"]},
        "spec": {"type": r["type"], "clusterIP": r["ip"]},
        "status": {"loadBalancer": {"ingress": ingress}},
    }


def _json_list(rows: list[dict[str, Any]], render: Any) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [render(r) for r in rows]}, indent=2) + "\n"
