"""The version rules ARM applies to a cluster write, as 400s with AKS's error codes."""

from __future__ import annotations

from datetime import datetime

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.catalogue import Catalogue, minor_distance, minor_of, parse
from local.azure_emulator.errors import bad_request, busy, not_running, power_busy


def check_idle(cluster: Cluster, now: datetime, *, pool_write: bool = False, power_action: str | None = None) -> None:
    """409 OperationNotAllowed while an operation runs on the cluster or one of its agent pools."""
    if not cluster.busy() or cluster.op is None:
        return
    if power_action is not None:
        power = str(cluster.props.get("powerState", {}).get("code", "Running"))
        raise power_busy(power_action, cluster.op_name, power, cluster.op.start, now)
    raise busy(cluster.op_name, cluster.op_pool, pool_write)


def check_running(cluster: Cluster, action: str) -> None:
    """409 OperationNotAllowed for a write to a stopped cluster: "You can only perform start or delete operations
    on a stopped AKS cluster. To perform other operations, like scaling or upgrading, you need to start your
    cluster first" (learn.microsoft.com/azure/aks/start-stop-cluster). Called after check_idle: while a start runs
    the answer names that operation (the cluster is still Stopped until it succeeds)."""
    if not cluster.running():
        raise not_running(action)


def resolve_requested(catalogue: Catalogue, requested: str, running: str | None, code: str) -> str:
    """The full version a write asks for. The running version's own <major.minor>, or the running version
    itself, keeps it: "Updating the cluster with the same <major.minor> once it has been created (e.g.
    1.14.x -> 1.14) will not trigger an upgrade, even if a newer patch version is available" (AKS REST
    reference: ManagedClusterProperties.kubernetesVersion, ManagedClusterAgentPoolProfile.orchestratorVersion;
    the same text in azure-mgmt-containerservice's models)."""
    text = requested.strip().lstrip("v")
    if running and (text == running or (text.count(".") == 1 and minor_of(running) == text)):
        return running
    return catalogue.resolve(requested, code)


def check_control_plane(current: str | None, target: str, catalogue: Catalogue) -> None:
    """A control plane moves forward, at most one minor at a time."""
    if current is None or current == target:
        return
    if parse(target) < parse(current):
        raise bad_request("UpgradeNotAllowed", f"Downgrading Kubernetes version {current} to {target} is not allowed.")
    if minor_distance(current, target) > 1:
        hops = ", ".join(catalogue.upgrades(current))
        raise bad_request(
            "UpgradeNotAllowed",
            f"Upgrading Kubernetes version {current} to {target} is not allowed. Available upgrades: {hops}",
        )


def check_pool(pool_name: str, pool_version: str, control_plane: str) -> None:
    """Node pools may trail the control plane by up to two minors and may never be newer."""
    if parse(pool_version) > parse(control_plane):
        raise bad_request(
            "NodePoolMcVersionIncompatible",
            f"Node pool {pool_name} version {pool_version} is newer than control plane version {control_plane}.",
        )
    if minor_distance(pool_version, control_plane) > 2:
        raise bad_request(
            "NodePoolMcVersionIncompatible",
            f"Node pool {pool_name} version {pool_version} is more than two minor versions behind "
            f"control plane version {control_plane}.",
        )


def check_dns_prefix(current: str | None, requested: str | None) -> None:
    if current and requested and current.lower() != requested.lower():
        raise bad_request("PropertyChangeNotAllowed", "Changing property 'dnsPrefix' is not allowed.")
