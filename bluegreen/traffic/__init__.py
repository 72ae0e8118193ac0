"""Front Door traffic: one narrow interface, two implementations (Standard/Premium and classic).

The runbook only needs to know, per origin group (classic: backend pool), which origins are enabled,
whether Front Door has deployed the last change, and how to enable or disable one origin. Everything
else (make-before-break, which slot is live) is decided by pure rules in `bluegreen.traffic.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen.contract import FrontDoorKind, GroupState, TrafficPlan, TrafficSnapshot


@dataclass(frozen=True)
class FrontDoorRef:
    kind: FrontDoorKind
    resource_id: str  # Standard/Premium: the profile; classic: the front door
    group: str  # Standard/Premium: the origin group; classic: the backend pool


class TrafficProvider(Protocol):
    def read(self, group: str) -> GroupState: ...

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        """Start the change; Front Door deploys it over minutes (see `read().deployed`)."""

    def set_host(self, group: str, key: str, host: str) -> None:
        """Point an origin at another address (green's ingress, when discovered)."""


def provider_for(clients: Any, kind: FrontDoorKind, front_door_id: str) -> TrafficProvider:
    if kind == "classic":
        from bluegreen.traffic.classic import ClassicFrontDoor

        return ClassicFrontDoor(clients, front_door_id)
    from bluegreen.traffic.standard import StandardFrontDoor

    return StandardFrontDoor(clients, front_door_id)


def plan_provider(clients: Any, traffic: TrafficPlan) -> TrafficProvider:
    return provider_for(clients, traffic.kind, traffic.front_door_id)


def read_all(provider: TrafficProvider, traffic: TrafficPlan) -> TrafficSnapshot:
    """Every origin group of the plan, as Front Door shows it now."""
    return TrafficSnapshot(groups=[provider.read(pair.group) for pair in traffic.groups])


def reenable_blue(clients: Any, traffic: TrafficPlan) -> list[str]:
    """Enable blue's origin in every group where it is disabled; return those groups.

    The first step of make-before-break toward blue, and only that: it never disables anything, so
    whoever calls it (a rollback door, the orchestrator) cannot leave a group without an enabled origin.
    """
    provider = plan_provider(clients, traffic)
    changed = []
    for pair in traffic.groups:
        origin = provider.read(pair.group).origin(pair.blue)
        if origin is not None and not origin.enabled:
            provider.set_enabled(pair.group, pair.blue, True)
            changed.append(pair.group)
    return changed
