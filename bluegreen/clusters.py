"""AKS clusters: read them, and start creates, upgrades, stops and deletes (green's definition: bluegreen/green.py).

Upgrades are PUTs of the cluster (there is no upgrade call in the API): the control plane by a
new `kubernetesVersion`, then each node pool by a new `orchestratorVersion` on its agent pool.
"""

from __future__ import annotations

import re
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.containerservice.models import AgentPool, ManagedCluster, RunCommandRequest, TagsObject

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients
from bluegreen.contract import (
    ClusterSummary,
    ClusterTarget,
    ErrorInfo,
    OperationHandle,
    OperationStatus,
    RetainedCluster,
)
from bluegreen.errors import classify

# Tags a run puts on the cluster it creates: which run and environment made it, and the Front Door
# origin in front of it (how an environment configured with `live_id` finds the cluster behind an origin).
RUN_TAG = "bluegreen-run"
ENVIRONMENT_TAG = "bluegreen-environment"
ORIGIN_TAG = "bluegreen-origin"
# Tags a run puts on a cluster it retires (kept or stopped, not deleted): which run retired it, as what,
# and until when it is kept. They are the retention's only record: the sweep, a reclaiming run and a revert
# act on a cluster only while its tags say this environment retired it. An operator who wants it longer
# edits `bluegreen-retain-until`; one who wants it kept for good removes the tags.
RETIRED_BY_TAG = "bluegreen-retired-by"
RETIRED_AS_TAG = "bluegreen-retired-as"
RETAIN_UNTIL_TAG = "bluegreen-retain-until"
RETENTION_TAGS = (RETIRED_BY_TAG, RETIRED_AS_TAG, RETAIN_UNTIL_TAG)


def summarize(body: dict[str, Any]) -> ClusterSummary:
    """The facts the runbook decides on, from an ARM GET body."""
    props = body.get("properties") or {}
    profiles = props.get("agentPoolProfiles") or []
    pools = {str(p["name"]): p.get("currentOrchestratorVersion") or p.get("orchestratorVersion") for p in profiles}
    error = (props.get("status") or {}).get("provisioningError")
    return ClusterSummary(
        id=body.get("id"),
        name=body.get("name"),
        location=body.get("location"),
        provisioning_state=props.get("provisioningState"),
        power_state=(props.get("powerState") or {}).get("code"),
        version=props.get("currentKubernetesVersion") or props.get("kubernetesVersion"),
        requested_version=props.get("kubernetesVersion"),
        pools=pools,
        requested_pools={str(p["name"]): p.get("orchestratorVersion") for p in profiles},
        pool_states={str(p["name"]): p.get("provisioningState") for p in profiles},
        tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
        error=ErrorInfo(code=str(error.get("code")), message=str(error.get("message")))
        if isinstance(error, dict)
        else None,
    )


def retained_of(body: dict[str, Any], environment: str) -> RetainedCluster | None:
    """The cluster's retention, if its tags say `environment` retired it (with a readable end), else None."""
    tags = {str(k).lower(): str(v) for k, v in (body.get("tags") or {}).items()}
    if tags.get(ENVIRONMENT_TAG) != environment or not tags.get(RETIRED_BY_TAG):
        return None
    until = tags.get(RETAIN_UNTIL_TAG, "")
    retired_as = tags.get(RETIRED_AS_TAG, "retired")
    if not _ISO_UTC.fullmatch(until) or retired_as not in ("retired", "rolled-back", "reverted-from"):
        return None  # edited by hand into something unreadable: treated as not retained, never deleted
    summary = summarize(body)
    return RetainedCluster(
        cluster_id=str(body.get("id")),
        name=str(body.get("name")),
        environment=environment,
        retired_by=tags[RETIRED_BY_TAG],
        retired_as=retired_as,
        retained_until=until,
        version=summary.version,
        power_state=summary.power_state,
        provisioning_state=summary.provisioning_state,
    )


def guard_refusal(target: ClusterTarget, body: dict[str, Any]) -> str | None:
    """Why a stop or delete must leave this cluster alone, or None when it is the caller's to act on.

    `only_if_run`: green, created by that run (its run tag). `only_if_retired_by`: a cluster that run
    retired (its retention tags), whatever created it.
    """
    tags = {str(k).lower(): str(v) for k, v in (body.get("tags") or {}).items()}
    if target.only_if_run is not None and tags.get(RUN_TAG) != target.only_if_run:
        return f"{target.cluster_id} was not created by run {target.only_if_run} (run tag {tags.get(RUN_TAG)!r})"
    if target.only_if_retired_by is not None and tags.get(RETIRED_BY_TAG) != target.only_if_retired_by:
        return (
            f"{target.cluster_id} is not retained by run {target.only_if_retired_by} "
            f"(retired-by tag {tags.get(RETIRED_BY_TAG)!r})"
        )
    return None


_ISO_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


class Clusters:
    """Managed clusters through azure-mgmt-containerservice, addressed by ARM id."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _client(self, rid: ResourceId) -> Any:
        return self._clients.containers(rid.subscription)

    def get(self, cluster_id: str) -> dict[str, Any] | None:
        rid = ResourceId.parse(cluster_id)
        try:
            cluster = self._client(rid).managed_clusters.get(rid.resource_group, rid.name)
        except ResourceNotFoundError:
            return None
        except Exception as exc:
            raise classify(exc) from exc
        body: dict[str, Any] = cluster.as_dict()
        return body

    def list_in_group(self, subscription: str, resource_group: str) -> list[dict[str, Any]]:
        try:
            found = self._clients.containers(subscription).managed_clusters.list_by_resource_group(resource_group)
            return [c.as_dict() for c in found]
        except Exception as exc:
            raise classify(exc) from exc

    def list_versions(self, subscription: str, location: str) -> dict[str, Any]:
        try:
            result = self._clients.containers(subscription).managed_clusters.list_kubernetes_versions(location)
        except Exception as exc:
            raise classify(exc) from exc
        body: dict[str, Any] = result.as_dict()
        return body

    def start_create(self, cluster_id: str, body: dict[str, Any]) -> OperationHandle:
        rid = ResourceId.parse(cluster_id)
        ops = self._client(rid).managed_clusters
        return operations.start(ops.begin_create_or_update, rid.resource_group, rid.name, ManagedCluster(body))

    def start_control_plane_upgrade(self, cluster_id: str, version: str) -> OperationHandle:
        """PUT the cluster with a new control-plane version; node pools keep theirs (upgraded next)."""
        rid = ResourceId.parse(cluster_id)
        ops = self._client(rid).managed_clusters
        current = self.get(cluster_id)
        if current is None:
            raise classify(ResourceNotFoundError(f"cluster {cluster_id} not found"))
        body = ManagedCluster(current).as_dict(exclude_readonly=True)
        body["properties"]["kubernetesVersion"] = version
        # Re-PUTting what a GET gave: the CLI drops the service principal profile, whose secret a GET never
        # returns (azure-cli aks_upgrade; azure-more.md (b)). Left out, AKS keeps the cluster's own.
        body["properties"].pop("servicePrincipalProfile", None)
        for pool in body["properties"].get("agentPoolProfiles") or []:
            pool.pop("nodeImageVersion", None)
        return operations.start(ops.begin_create_or_update, rid.resource_group, rid.name, ManagedCluster(body))

    def start_pool_upgrade(self, cluster_id: str, pool_name: str, version: str) -> OperationHandle:
        rid = ResourceId.parse(cluster_id)
        pools = self._client(rid).agent_pools
        try:
            pool = pools.get(rid.resource_group, rid.name, pool_name)
        except Exception as exc:
            raise classify(exc) from exc
        body = AgentPool(pool.as_dict()).as_dict(exclude_readonly=True)
        body.setdefault("properties", {})["orchestratorVersion"] = version
        body["properties"].pop("nodeImageVersion", None)
        return operations.start(pools.begin_create_or_update, rid.resource_group, rid.name, pool_name, AgentPool(body))

    def update_tags(self, cluster_id: str, tags: dict[str, str]) -> dict[str, Any]:
        """Replace the cluster's tags (ManagedClusters_UpdateTags, a short long-running operation: waited for)."""
        rid = ResourceId.parse(cluster_id)
        ops = self._client(rid).managed_clusters
        try:
            updated = ops.begin_update_tags(rid.resource_group, rid.name, TagsObject(tags=tags)).result()
        except Exception as exc:
            raise classify(exc) from exc
        body: dict[str, Any] = updated.as_dict()
        return body

    def start_stop(self, cluster_id: str) -> OperationHandle:
        rid = ResourceId.parse(cluster_id)
        return operations.start(self._client(rid).managed_clusters.begin_stop, rid.resource_group, rid.name)

    def start_start(self, cluster_id: str) -> OperationHandle:
        rid = ResourceId.parse(cluster_id)
        return operations.start(self._client(rid).managed_clusters.begin_start, rid.resource_group, rid.name)

    def start_delete(self, cluster_id: str) -> OperationHandle:
        rid = ResourceId.parse(cluster_id)
        return operations.start(self._client(rid).managed_clusters.begin_delete, rid.resource_group, rid.name)

    def operation_status(self, cluster_id: str, operation: OperationHandle) -> OperationStatus:
        return operations.status(self._client(ResourceId.parse(cluster_id)), operation)

    def run_command(self, cluster_id: str, command: str) -> dict[str, Any]:
        """Run a kubectl command in the cluster (AKS command invoke; short, so this one does wait)."""
        rid = ResourceId.parse(cluster_id)
        ops = self._client(rid).managed_clusters
        try:
            result = ops.begin_run_command(rid.resource_group, rid.name, RunCommandRequest(command=command)).result()
        except Exception as exc:
            raise classify(exc) from exc
        return {"exit_code": result.exit_code, "logs": result.logs or ""}
