"""Parity: does green run what blue runs? Read from the inside of both clusters (kubectl through run command).

Every Deployment, StatefulSet and DaemonSet in blue's non-system namespaces must exist on green with its
desired replicas available; blue's namespaces and its LoadBalancer (ingress) services must be there too.
The system namespaces (AKS's own and its add-ons') differ by design and are left out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bluegreen.contract import ParityReport

WORKLOADS_COMMAND = "kubectl get deployments,statefulsets,daemonsets -A -o json"
NAMESPACES_COMMAND = "kubectl get namespaces -o json"
SERVICES_COMMAND = "kubectl get services -A -o json"
# The report rides in the custom status (16 KB on Azure): lists are cut short, with a count of the rest.
MAX_LISTED = 8


@dataclass(frozen=True)
class Workload:
    key: str  # namespace/Kind/name
    desired: int
    ready: int

    @property
    def available(self) -> bool:
        return self.ready >= self.desired


@dataclass(frozen=True)
class Inventory:
    workloads: dict[str, Workload]
    namespaces: frozenset[str]
    load_balancers: dict[str, bool]  # namespace/name -> has an address


def _items(logs: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(logs).get("items") or []
    except (ValueError, AttributeError):
        return []
    return [i for i in items if isinstance(i, dict)]


def _replicas(item: dict[str, Any]) -> tuple[int, int]:
    kind, spec, status = item.get("kind"), item.get("spec") or {}, item.get("status") or {}
    if kind == "DaemonSet":
        return int(status.get("desiredNumberScheduled") or 0), int(status.get("numberAvailable") or 0)
    desired = spec.get("replicas", 1)
    ready_key = "availableReplicas" if kind == "Deployment" else "readyReplicas"
    return int(1 if desired is None else desired), int(status.get(ready_key) or 0)


def inventory(workloads: str, namespaces: str, services: str, system: set[str]) -> Inventory:
    """What a cluster runs outside the system namespaces, from the three kubectl outputs (JSON lists)."""
    found: dict[str, Workload] = {}
    for item in _items(workloads):
        meta = item.get("metadata") or {}
        namespace = str(meta.get("namespace") or "default")
        if namespace in system:
            continue
        key = f"{namespace}/{item.get('kind')}/{meta.get('name')}"
        desired, ready = _replicas(item)
        found[key] = Workload(key, desired, ready)
    names = {str((n.get("metadata") or {}).get("name")) for n in _items(namespaces)} - system
    balancers: dict[str, bool] = {}
    for svc in _items(services):
        meta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        if spec.get("type") != "LoadBalancer" or meta.get("namespace") in system:
            continue
        ingress = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
        balancers[f"{meta.get('namespace')}/{meta.get('name')}"] = any(
            e.get("ip") or e.get("hostname") for e in ingress
        )
    return Inventory(found, frozenset(names), balancers)


def compare(blue: Inventory, green: Inventory, flux_not_compliant: list[str] | None = None) -> ParityReport:
    """What green lacks of blue. Namespaces count when blue runs something in them (a workload or an
    ingress service): one that only holds configuration (a Flux configuration's own, say) is not an application."""
    missing = sorted(k for k in blue.workloads if k not in green.workloads)
    running = {k.split("/", 1)[0] for k in blue.workloads} | {k.split("/", 1)[0] for k in blue.load_balancers}
    unavailable = sorted(
        f"{k} {w.ready}/{w.desired}" for k, w in green.workloads.items() if k in blue.workloads and not w.available
    )
    services = sorted(k for k in blue.load_balancers if not green.load_balancers.get(k))
    return ParityReport(
        compared=len(blue.workloads),
        missing=_short(missing),
        unavailable=_short(unavailable),
        namespaces_missing=_short(sorted((blue.namespaces & running) - green.namespaces)),
        services_missing=_short(services),
        flux_not_compliant=_short(flux_not_compliant or []),
    )


def describe(report: ParityReport) -> list[str]:
    """The parity problems, one line each, in words an operator can act on."""
    lines = []
    if report.missing:
        lines.append(f"missing on green (blue runs them): {', '.join(report.missing)}")
    if report.unavailable:
        lines.append(f"not available on green: {', '.join(report.unavailable)}")
    if report.namespaces_missing:
        lines.append(f"namespaces missing on green: {', '.join(report.namespaces_missing)}")
    if report.services_missing:
        lines.append(f"ingress services without an address on green: {', '.join(report.services_missing)}")
    if report.flux_not_compliant:
        lines.append(f"Flux configurations not Compliant on green: {', '.join(report.flux_not_compliant)}")
    return lines


def _short(items: list[str]) -> list[str]:
    if len(items) <= MAX_LISTED:
        return items
    return [*items[:MAX_LISTED], f"... and {len(items) - MAX_LISTED} more"]
