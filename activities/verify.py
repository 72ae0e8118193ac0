"""Verification activities: give green's origin its address, then check green from the inside and outside."""

from __future__ import annotations

from typing import Any

from activities import bp
from activities._common import azure, azure_activity, front_door
from bluegreen import verification
from bluegreen.clusters import Clusters, summarize
from bluegreen.decisions import verification_problems
from bluegreen.errors import PermanentError


@bp.activity_trigger(input_name="payload")
@azure_activity
def prepare_green_origin(payload: dict[str, Any]) -> dict[str, Any]:
    """Fixed addresses: nothing to do. Discovered: point green's (disabled) origin at green's ingress."""
    provider = front_door(payload)
    key = payload["front_door"]["origins"]["green"]
    origin = provider.read().origin(key)
    if origin is None:
        raise PermanentError("OriginNotFound", f"Front Door has no origin {key!r}")
    if payload["front_door"]["green_address"] != "discover":
        return {"host": origin.host, "changed": False}
    if origin.enabled:
        raise PermanentError("GreenOriginLive", f"origin {key!r} takes traffic; refusing to re-point it")
    result = Clusters(azure()).run_command(payload["cluster_id"], verification.SERVICES_COMMAND)
    address = verification.ingress_address(result["logs"])
    if not address:
        raise PermanentError("IngressNotFound", "green has no ingress LoadBalancer service with an address yet")
    if origin.host == address:
        return {"host": address, "changed": False}
    provider.set_host(key, address)
    return {"host": address, "changed": True}


@bp.activity_trigger(input_name="payload")
@azure_activity
def verify_green(payload: dict[str, Any]) -> dict[str, Any]:
    """A verification report of green, with `problems` (empty when green may take traffic)."""
    clusters = Clusters(azure())
    cluster_id, target = payload["cluster_id"], payload["target_version"]
    body = clusters.get(cluster_id)
    report: dict[str, Any] = {"cluster": summarize(body) if body else None}
    if body is not None and report["cluster"]["power_state"] in (None, "Running"):
        nodes = clusters.run_command(cluster_id, verification.NODES_COMMAND)
        deployments = clusters.run_command(cluster_id, verification.DEPLOYMENTS_COMMAND)
        report["nodes"] = verification.summarize_nodes(nodes["logs"])
        report["deployments"] = verification.summarize_deployments(deployments["logs"])
    origin = front_door(payload).read().origin(payload["front_door"]["origins"]["green"])
    report["origin"] = origin.as_dict() if origin else None
    smoke = payload["smoke"]
    if smoke.get("enabled", True) and origin is not None and origin.host:
        url, verify_tls = verification.probe_target(origin.host, smoke["path"], smoke["scheme"], azure().settings)
        report["smoke"] = verification.smoke_probe(url, smoke["expected_status"], smoke["timeout_seconds"], verify_tls)
    report["problems"] = verification_problems(report, target)
    report["passed"] = not report["problems"]
    return report
