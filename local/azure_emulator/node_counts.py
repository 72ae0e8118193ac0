"""How many VMs a managed cluster's node pools hold now: the count, plus surge nodes while a pool upgrades.

Read from the cluster state the AKS emulator keeps (aks.py); nothing here changes it.

- A pool has `count` nodes. While its provisioningState is Upgrading, AKS adds surge nodes: `maxSurge` as a
  number, or a percentage of the count rounded up ("percent values are rounded up to the nearest node count";
  "By default, AKS configures upgrades to surge with one extra node", learn.microsoft.com/azure/aks/
  upgrade-aks-node-pools-rolling). The API docstring's default is 10% (reference/azure.md §3.5): for pools of up
  to ten nodes both give one node; this uses 10% rounded up, at least one.
- A stopped cluster or pool still counts: its VMs are deallocated, not deleted, and "vCPU quota counts cores that
  are allocated and deallocated" (DOCS virtual-machines/quotas.md, reference/azure-more.md §(b)); their NICs keep
  referencing the subnet. This is the harsher reading where AKS's documentation does not say more.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster

DEFAULT_VM_SIZE = "Standard_DS2_v2"  # AKS's long-standing default node size when a pool names none


def surge_nodes(pool: dict[str, Any]) -> int:
    count = int(pool.get("count") or 0)
    raw = str((pool.get("upgradeSettings") or {}).get("maxSurge") or "10%").strip()
    if raw.endswith("%"):
        return max(1, math.ceil(count * float(raw[:-1]) / 100)) if count else 0
    return max(int(float(raw)), 0)


def upgrading(pool: dict[str, Any]) -> bool:
    return str(pool.get("provisioningState", "")) == "Upgrading"


def nodes(pool: dict[str, Any], with_surge: bool | None = None) -> int:
    """VMs of the pool now (with_surge None: surge only while it upgrades), or with / without surge."""
    count = int(pool.get("count") or 0)
    surge = upgrading(pool) if with_surge is None else with_surge
    return count + (surge_nodes(pool) if surge else 0)


def vm_size(pool: dict[str, Any]) -> str:
    return str(pool.get("vmSize") or DEFAULT_VM_SIZE)


def pools(cluster: Cluster) -> list[dict[str, Any]]:
    return [p for p in cluster.pools() if isinstance(p, dict)]
