"""Cluster activities: start a long operation and return at once; check on it later.

Durable activities run at least once: each start first reads the cluster, so a start that runs
again after a crash finds the operation it already began (or its result) instead of writing twice.
"""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, clusters, contract, errors, green, secrets


def _clusters() -> clusters.Clusters:
    return clusters.Clusters(azure.clients())


@activity(bp)
def start_green_create(request: contract.CreateGreen) -> contract.OperationHandle:
    """Create green from blue's definition, unless this run's green already exists (a retry)."""
    aks = _clusters()
    existing = aks.get(request.green_id)
    if existing is not None:
        if (existing.get("tags") or {}).get(clusters.RUN_TAG) == request.run_id:
            return contract.OperationHandle(status_url=None, status="Existing")
        # Never delete a cluster this run did not create: with alternating names this is the previous
        # run's retired blue, and only an operator (or retire mode `delete`) may remove it.
        raise errors.PermanentError(
            "GreenSlotOccupied",
            f"{request.green_id} already exists and is not this run's; delete it (or use retire mode delete)",
        )
    blue = aks.get(request.blue_id)
    if blue is None:
        raise errors.PermanentError("BlueNotFound", f"{request.blue_id} not found")
    reference = request.overrides.service_principal_secret
    # The secret is read here, put in the PUT body and nowhere else (never returned, logged or recorded).
    secret = secrets.resolve(azure.clients(), reference) if reference else None
    definition = green.define(
        blue,
        name=request.green_name,
        version=request.version,
        run_id=request.run_id,
        environment=request.environment,
        origin=request.origin,
        overrides=request.overrides,
        service_principal_secret=secret,
    )
    blocked = [c for c in definition.checks if c.status == "block"]
    if blocked:  # resolve refused these already: blue changed since (e.g. run command disabled meanwhile)
        raise errors.PermanentError(blocked[0].name, blocked[0].detail)
    body = definition.body
    return aks.start_create(request.green_id, body)


# Provisioning states of a cluster or pool while an operation runs on it.
BUSY_STATES = frozenset({"Creating", "Upgrading", "Updating", "Stopping", "Starting", "Deleting", "Scaling"})


def _running() -> contract.OperationHandle:
    """What a repeated start returns when its operation already runs: no status URL, so the checks
    read the cluster's provisioning state until it ends."""
    return contract.OperationHandle(status_url=None, status="InProgress")


@activity(bp)
def start_control_plane_upgrade(request: contract.ControlPlaneUpgrade) -> contract.OperationHandle:
    aks = _clusters()
    current = aks.get(request.cluster_id)
    if current is not None:
        summary = clusters.summarize(current)
        if summary.version == request.version and summary.provisioning_state not in BUSY_STATES:
            return contract.OperationHandle(status_url=None, status="Existing")  # already there: a retried hop
        if summary.requested_version == request.version and summary.provisioning_state in BUSY_STATES:
            return _running()  # this very upgrade runs: a start repeated after a crash
    return aks.start_control_plane_upgrade(request.cluster_id, request.version)


@activity(bp)
def start_pool_upgrade(request: contract.PoolUpgrade) -> contract.OperationHandle:
    aks = _clusters()
    current = aks.get(request.cluster_id)
    if current is not None:
        summary = clusters.summarize(current)
        state = summary.pool_states.get(request.pool)
        if summary.pools.get(request.pool) == request.version and state not in BUSY_STATES:
            return contract.OperationHandle(status_url=None, status="Existing")
        if summary.requested_pools.get(request.pool) == request.version and state in BUSY_STATES:
            return _running()
    return aks.start_pool_upgrade(request.cluster_id, request.pool, request.version)


def _refuse_unless_ours(request: contract.ClusterTarget, cluster: dict[str, object]) -> None:
    refusal = clusters.guard_refusal(request, cluster)
    if refusal is not None:
        raise errors.PermanentError("NotThisRunsCluster", f"{refusal}; left as it is")


@activity(bp)
def start_cluster_delete(request: contract.ClusterTarget) -> contract.OperationHandle:
    aks = _clusters()
    current = aks.get(request.cluster_id)
    if current is None:
        return contract.OperationHandle(status_url=None, status="Gone")
    _refuse_unless_ours(request, current)
    if clusters.summarize(current).provisioning_state == "Deleting":
        return _running()  # the delete a crashed start already sent
    return aks.start_delete(request.cluster_id)


@activity(bp)
def start_cluster_stop(request: contract.ClusterTarget) -> contract.OperationHandle:
    aks = _clusters()
    current = aks.get(request.cluster_id)
    if current is None:
        return contract.OperationHandle(status_url=None, status="Existing")
    summary = clusters.summarize(current)
    if summary.power_state == "Stopped" and summary.provisioning_state not in BUSY_STATES:
        return contract.OperationHandle(status_url=None, status="Existing")
    _refuse_unless_ours(request, current)
    if summary.provisioning_state == "Stopping":
        return _running()
    return aks.start_stop(request.cluster_id)


@activity(bp)
def start_cluster_start(request: contract.ClusterTarget) -> contract.OperationHandle:
    """Start a stopped cluster (a revert to a retained one); a running one needs nothing."""
    aks = _clusters()
    current = aks.get(request.cluster_id)
    if current is None:
        raise errors.PermanentError("ClusterNotFound", f"{request.cluster_id} does not exist")
    _refuse_unless_ours(request, current)
    summary = clusters.summarize(current)
    if summary.power_state != "Stopped" and summary.provisioning_state not in BUSY_STATES:
        return contract.OperationHandle(status_url=None, status="Existing")
    if summary.provisioning_state == "Starting":
        return _running()
    return aks.start_start(request.cluster_id)


@activity(bp)
def check_cluster_operation(request: contract.OperationCheck) -> contract.OperationStatus:
    """One look at a long operation: its status document when ARM gave one, else the cluster's state.

    One ARM read per poll: the operation's status URL answers by itself, so the cluster is read
    only for operations that had nothing to start (an existing green, a cluster already stopped) or
    that a repeated start found running.
    """
    aks = _clusters()
    if request.operation.status_url:
        return aks.operation_status(request.cluster_id, request.operation)
    cluster = aks.get(request.cluster_id)
    State = contract.OperationState
    if cluster is None:
        if request.expect_gone:
            return contract.OperationStatus(status=State.SUCCEEDED)
        return contract.OperationStatus(
            status=State.FAILED,
            error=contract.ErrorInfo(code="ClusterNotFound", message=f"{request.cluster_id} is gone"),
        )
    summary = clusters.summarize(cluster)
    state = (summary.pool_states.get(request.pool) if request.pool else summary.provisioning_state) or "Failed"
    if state in ("Succeeded", "Failed", "Canceled"):
        return contract.OperationStatus(status=State(state), error=summary.error)
    return contract.OperationStatus(status=State.IN_PROGRESS)
