"""AKS clusters: read them, and start creates, upgrades, stops and deletes (green's definition: bluegreen/green.py).

Upgrades are PUTs of the cluster (there is no upgrade call in the API): the control plane by a
new `kubernetesVersion`, then each node pool by a new `orchestratorVersion` on its agent pool.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.containerservice.models import AgentPool, ManagedCluster, RunCommandRequest

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients
from bluegreen.contract import ClusterSummary, ErrorInfo, OperationHandle, OperationStatus
from bluegreen.errors import classify

# Tags a run puts on the cluster it creates: which run and environment made it, and the Front Door
# origin in front of it (how an environment configured with `live_id` finds the cluster behind an origin).
RUN_TAG = "bluegreen-run"
ENVIRONMENT_TAG = "bluegreen-environment"
ORIGIN_TAG = "bluegreen-origin"


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
