"""Read what kubectl says about a cluster (nodes, deployments, ingress) and probe green over HTTP."""

from __future__ import annotations

import json
from typing import Any

import requests

from bluegreen.azure import AzureSettings
from bluegreen.contract import DeploymentSummary, NodeSummary, SmokeResult

NODES_COMMAND = "kubectl get nodes -o json"
SERVICES_COMMAND = "kubectl get svc -A -o json"
INGRESS_NAMESPACES = ("app-routing-system", "ingress-nginx")


def _items(logs: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(logs).get("items") or []
    except (ValueError, AttributeError):
        return []
    return [i for i in items if isinstance(i, dict)]


def summarize_nodes(logs: str) -> NodeSummary:
    nodes = _items(logs)
    ready = 0
    # Counted per version, not listed per node: the report rides in the custom status (16 KB on Azure).
    versions: dict[str, int] = {}
    for node in nodes:
        conditions = node.get("status", {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            ready += 1
        version = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
        versions[version] = versions.get(version, 0) + 1
    return NodeSummary(total=len(nodes), ready=ready, versions=versions)


def summarize_deployments(logs: str) -> DeploymentSummary:
    """The Deployments of a kubectl List (other kinds in it are left to parity)."""
    deployments = [d for d in _items(logs) if d.get("kind", "Deployment") == "Deployment"]
    unavailable = []
    for d in deployments:
        wanted = d.get("spec", {}).get("replicas", 1) or 0
        available = d.get("status", {}).get("availableReplicas", 0) or 0
        if available < wanted:
            meta = d.get("metadata", {})
            unavailable.append(f"{meta.get('namespace', '?')}/{meta.get('name', '?')} {available}/{wanted}")
    return DeploymentSummary(
        total=len(deployments), available=len(deployments) - len(unavailable), unavailable=unavailable
    )


def ingress_address(logs: str) -> str | None:
    """The public address of the cluster's ingress controller's LoadBalancer service."""
    for svc in _items(logs):
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        if spec.get("type") != "LoadBalancer" or meta.get("namespace") not in INGRESS_NAMESPACES:
            continue
        for entry in svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []:
            address = entry.get("ip") or entry.get("hostname")
            if address:
                return str(address)
    return None


def probe_target(host: str, path: str, scheme: str, settings: AzureSettings) -> tuple[str, str | bool]:
    """The URL to probe and the TLS verification to use: green itself, or the emulated internet."""
    if settings.probe_base:
        return f"{settings.probe_base.rstrip('/')}/{host}{path}", settings.ca_bundle or True
    return f"{scheme}://{host}{path}", True


def smoke_probe(url: str, expected_status: int, timeout: float, verify: str | bool = True) -> SmokeResult:
    """One GET; any answer other than the expected status (or no answer) fails the probe."""
    try:
        status: int | None = requests.get(url, timeout=timeout, verify=verify, allow_redirects=False).status_code
    except requests.RequestException as exc:
        return SmokeResult(url=url, status=None, expected=expected_status, ok=False, error=type(exc).__name__)
    return SmokeResult(url=url, status=status, expected=expected_status, ok=status == expected_status)
