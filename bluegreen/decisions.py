"""Pure branching rules of the runbook, so the orchestrator only routes (each tested on its own)."""

from __future__ import annotations

import hashlib

from bluegreen import parity
from bluegreen.contract import BakeVerdict, VerificationReport


def assess_error_rate(requests: int, errors: int, *, max_error_rate: float, min_requests: int) -> BakeVerdict:
    """A spike is a 5xx share above the threshold on enough requests to mean something."""
    if requests < max(min_requests, 1):
        return BakeVerdict.TOO_LITTLE_TRAFFIC
    return BakeVerdict.SPIKE if errors / requests > max_error_rate else BakeVerdict.HEALTHY


def derived_cluster_name(environment: str, run_id: str) -> str:
    """The new cluster's name when only `live_id` is configured: stable for a run, so a retried create finds it."""
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:6]
    return f"aks-{environment}-{digest}"[:63]


def verification_problems(report: VerificationReport, target: str) -> list[str]:
    """What keeps green from taking traffic, in words an operator can act on; empty = ready."""
    problems = []
    cluster = report.cluster
    if cluster is None:
        return ["green does not exist"]
    if cluster.provisioning_state != "Succeeded":
        problems.append(f"cluster provisioning state is {cluster.provisioning_state}")
    if cluster.power_state not in (None, "Running"):
        problems.append(f"cluster is {cluster.power_state}")
    if cluster.version != target:
        problems.append(f"control plane at {cluster.version}, not {target}")
    behind = sorted(name for name, version in cluster.pools.items() if version != target)
    if behind:
        problems.append(f"node pools not at {target}: {', '.join(behind)}")
    nodes = report.nodes
    if nodes is None or not nodes.total or nodes.ready < nodes.total:
        problems.append(f"{nodes.ready if nodes else 0} of {nodes.total if nodes else 0} nodes Ready")
    stale = {v: n for v, n in (nodes.versions if nodes else {}).items() if v.lstrip("v") != target}
    if stale:
        problems.append(f"nodes not at {target}: " + ", ".join(f"{n} at {v}" for v, n in sorted(stale.items())))
    if report.deployments is not None and report.deployments.unavailable:
        problems.append(f"deployments not available: {', '.join(report.deployments.unavailable[:5])}")
    if report.parity is not None:
        problems += parity.describe(report.parity)
    if not report.origins or not all(o.host for o in report.origins.values()):
        problems.append("green's Front Door origin has no address")
    smoke = report.smoke
    if smoke is not None and not smoke.ok:
        problems.append(f"smoke probe {smoke.url} answered {smoke.status}, not {smoke.expected}")
    return problems
