"""Pure branching rules of the runbook, so the orchestrator only routes (each tested on its own)."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any


class BakeVerdict(StrEnum):
    HEALTHY = "healthy"
    SPIKE = "spike"
    TOO_LITTLE_TRAFFIC = "too_little_traffic"


def assess_error_rate(requests: int, errors: int, *, max_error_rate: float, min_requests: int) -> BakeVerdict:
    """A spike is a 5xx share above the threshold on enough requests to mean something."""
    if requests < max(min_requests, 1):
        return BakeVerdict.TOO_LITTLE_TRAFFIC
    return BakeVerdict.SPIKE if errors / requests > max_error_rate else BakeVerdict.HEALTHY


def other_side(side: str) -> str:
    return "green" if side == "blue" else "blue"


def derived_cluster_name(environment: str, run_id: str) -> str:
    """Green's name when only blue's id is configured: stable for a run, so a retried create finds it."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:6]
    return f"aks-{environment}-{digest}"[:63]


def verification_problems(report: dict[str, Any], target: str) -> list[str]:
    """What keeps green from taking traffic, in words an operator can act on; empty = ready."""
    problems = []
    cluster = report.get("cluster") or {}
    if cluster.get("provisioning_state") != "Succeeded":
        problems.append(f"cluster provisioning state is {cluster.get('provisioning_state')}")
    if cluster.get("power_state") not in (None, "Running"):
        problems.append(f"cluster is {cluster.get('power_state')}")
    if cluster.get("version") != target:
        problems.append(f"control plane at {cluster.get('version')}, not {target}")
    behind = sorted(name for name, version in (cluster.get("pools") or {}).items() if version != target)
    if behind:
        problems.append(f"node pools not at {target}: {', '.join(behind)}")
    nodes = report.get("nodes") or {}
    if nodes.get("ready", 0) < nodes.get("total", 0) or not nodes.get("total"):
        problems.append(f"{nodes.get('ready', 0)} of {nodes.get('total', 0)} nodes Ready")
    stale = {v: n for v, n in (nodes.get("versions") or {}).items() if v.lstrip("v") != target}
    if stale:
        problems.append(f"nodes not at {target}: " + ", ".join(f"{n} at {v}" for v, n in sorted(stale.items())))
    deployments = report.get("deployments") or {}
    if deployments.get("unavailable"):
        problems.append(f"deployments not available: {', '.join(deployments['unavailable'][:5])}")
    origin = report.get("origin") or {}
    if not origin.get("host"):
        problems.append("green's Front Door origin has no address")
    smoke = report.get("smoke")
    if smoke is not None and not smoke.get("ok"):
        problems.append(f"smoke probe {smoke.get('url')} answered {smoke.get('status')}, not {smoke.get('expected')}")
    return problems
