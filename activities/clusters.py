"""Cluster activities: start a long operation and return at once; check on it later."""

from __future__ import annotations

from typing import Any

from activities import bp
from activities._common import azure, azure_activity
from bluegreen.clusters import RUN_TAG, Clusters, green_definition, summarize
from bluegreen.errors import PermanentError


def _clusters() -> Clusters:
    return Clusters(azure())


@bp.activity_trigger(input_name="payload")
@azure_activity
def start_green_create(payload: dict[str, Any]) -> dict[str, Any]:
    """Create green from blue's definition, unless this run's green already exists (a retry)."""
    clusters = _clusters()
    existing = clusters.get(payload["green_id"])
    if existing is not None:
        if existing.get("tags", {}).get(RUN_TAG) == payload["run_id"]:
            return {"status_url": None, "status": "Existing"}
        # Never delete a cluster this run did not create: with alternating names this is the previous
        # run's retired blue, and only an operator (or retire mode `delete`) may remove it.
        raise PermanentError(
            "GreenSlotOccupied",
            f"{payload['green_id']} already exists and is not this run's; delete it (or use retire mode delete)",
        )
    blue = clusters.get(payload["blue_id"])
    if blue is None:
        raise PermanentError("BlueNotFound", f"{payload['blue_id']} not found")
    body = green_definition(
        blue,
        name=payload["green_name"],
        version=payload["version"],
        run_id=payload["run_id"],
        environment=payload["environment"],
        side=payload["green_side"],
    )
    return clusters.start_create(payload["green_id"], body)


@bp.activity_trigger(input_name="payload")
@azure_activity
def start_control_plane_upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    clusters = _clusters()
    current = clusters.get(payload["cluster_id"])
    if current is not None and summarize(current)["version"] == payload["version"]:
        return {"status_url": None, "status": "Existing"}  # already there: a retried hop
    return clusters.start_control_plane_upgrade(payload["cluster_id"], payload["version"])


@bp.activity_trigger(input_name="payload")
@azure_activity
def start_pool_upgrade(payload: dict[str, Any]) -> dict[str, Any]:
    clusters = _clusters()
    current = clusters.get(payload["cluster_id"])
    if current is not None and summarize(current)["pools"].get(payload["pool"]) == payload["version"]:
        return {"status_url": None, "status": "Existing"}
    return clusters.start_pool_upgrade(payload["cluster_id"], payload["pool"], payload["version"])


@bp.activity_trigger(input_name="payload")
@azure_activity
def start_cluster_delete(payload: dict[str, Any]) -> dict[str, Any]:
    clusters = _clusters()
    if clusters.get(payload["cluster_id"]) is None:
        return {"status_url": None, "status": "Gone"}
    return clusters.start_delete(payload["cluster_id"])


@bp.activity_trigger(input_name="payload")
@azure_activity
def start_cluster_stop(payload: dict[str, Any]) -> dict[str, Any]:
    clusters = _clusters()
    current = clusters.get(payload["cluster_id"])
    if current is None or summarize(current)["power_state"] == "Stopped":
        return {"status_url": None, "status": "Existing"}
    return clusters.start_stop(payload["cluster_id"])


@bp.activity_trigger(input_name="payload")
@azure_activity
def check_cluster_operation(payload: dict[str, Any]) -> dict[str, Any]:
    """One look at a long operation: its status document when ARM gave one, else the cluster's state.

    One ARM read per poll: the operation's status URL answers by itself, so the cluster is read
    only for operations that had nothing to start (an existing green, a cluster already stopped).
    """
    clusters = _clusters()
    operation = payload.get("operation") or {}
    if operation.get("status_url"):
        return clusters.operation_status(payload["cluster_id"], operation)
    cluster = clusters.get(payload["cluster_id"])
    if cluster is None:
        if payload.get("expect_gone"):
            return {"status": "Succeeded", "error": None}
        return {"status": "Failed", "error": {"code": "ClusterNotFound", "message": f"{payload['cluster_id']} is gone"}}
    summary = summarize(cluster)
    state = summary["provisioning_state"] or "Failed"
    done = state in ("Succeeded", "Failed", "Canceled")
    return {"status": state if done else "InProgress", "error": summary["error"]}
