"""The version rules ARM applies to a cluster write, as 400s with AKS's error codes."""

from __future__ import annotations

from local.azure_emulator.catalogue import Catalogue, minor_distance, parse
from local.azure_emulator.errors import bad_request


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
