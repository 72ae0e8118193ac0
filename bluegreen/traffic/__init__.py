"""Front Door traffic: one narrow interface, two implementations (Standard/Premium and classic).

The runbook only needs to know, per origin group (classic: backend pool), which origins are enabled,
whether Front Door has deployed the last change, and how to enable or disable one origin. Everything
else (make-before-break, which slot is live) is decided by pure rules in `bluegreen.traffic.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bluegreen.contract import FrontDoorKind, GroupState, OriginSettings, TrafficPlan, TrafficSnapshot


@dataclass(frozen=True)
class FrontDoorRef:
    kind: FrontDoorKind
    resource_id: str  # Standard/Premium: the profile; classic: the front door
    group: str  # Standard/Premium: the origin group; classic: the backend pool


@dataclass(frozen=True)
class LoadBalancing:
    """How Front Door chooses among a group's healthy origins: what a weighted (gradual) switch depends on."""

    additional_latency_ms: int | None  # the latency window; None: not set (Front Door then uses 0)
    session_affinity: bool  # sessions stick to the origin that served their first request
    latency_setting: str  # where the window is set, as an operator finds it (the property's path)
    affinity_setting: str  # where session affinity is set


class TrafficProvider(Protocol):
    def read(self, group: str) -> GroupState: ...

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        """Start the change; Front Door deploys it over minutes (see `read().deployed`)."""

    def set_host(self, group: str, key: str, host: str) -> None:
        """Point an origin at another address (green's ingress, when discovered)."""

    def load_balancing(self, group: str) -> LoadBalancing:
        """The group's latency window and session affinity (read, never changed)."""

    def apply(self, group: str, changes: list[tuple[str, OriginSettings]]) -> None:
        """Set several origins' enabled state, weight and priority, in the order given.

        Standard/Premium writes one origin at a time (a PATCH each, in this order); classic writes the
        whole front door once. The caller orders them so that no write leaves zero enabled origins.
        """


def provider_for(clients: Any, kind: FrontDoorKind, front_door_id: str) -> TrafficProvider:
    if kind == "classic":
        from bluegreen.traffic.classic import ClassicFrontDoor

        return ClassicFrontDoor(clients, front_door_id)
    from bluegreen.traffic.standard import StandardFrontDoor

    return StandardFrontDoor(clients, front_door_id)


def settings_patch(settings: OriginSettings) -> dict[str, Any]:
    """The fields `settings` changes, named as azure-mgmt-cdn's origin model names them."""
    patch: dict[str, Any] = {}
    if settings.enabled is not None:
        patch["enabled_state"] = "Enabled" if settings.enabled else "Disabled"
    if settings.weight is not None:
        patch["weight"] = settings.weight
    if settings.priority is not None:
        patch["priority"] = settings.priority
    return patch


def plan_provider(clients: Any, traffic: TrafficPlan) -> TrafficProvider:
    return provider_for(clients, traffic.kind, traffic.front_door_id)


def read_all(provider: TrafficProvider, traffic: TrafficPlan) -> TrafficSnapshot:
    """Every origin group of the plan, as Front Door shows it now."""
    return TrafficSnapshot(groups=[provider.read(pair.group) for pair in traffic.groups])


def reenable_blue(clients: Any, traffic: TrafficPlan) -> list[str]:
    """Enable blue's origin in every group where it is disabled; return the groups changed.

    The first step of make-before-break toward blue, and only that: it never disables anything, so
    whoever calls it (a rollback door, the orchestrator) cannot leave a group without an enabled origin.
    During a gradual switch blue is still enabled but weighted down: its weight goes to full and
    green's to the least, so nearly all requests are on blue before the run disables green.
    """
    provider = plan_provider(clients, traffic)
    changed = []
    for pair in traffic.groups:
        state = provider.read(pair.group)
        blue, green = state.origin(pair.blue), state.origin(pair.green)
        if blue is None:
            continue
        if traffic.mode == "gradual" and green is not None and green.enabled:
            if blue.weight == FULL_WEIGHT and green.weight == LEAST_WEIGHT and blue.enabled:
                continue
            provider.apply(
                pair.group,
                [
                    (pair.blue, OriginSettings(enabled=True, weight=FULL_WEIGHT)),
                    (pair.green, OriginSettings(weight=LEAST_WEIGHT)),
                ],
            )
            changed.append(pair.group)
        elif not blue.enabled:
            provider.set_enabled(pair.group, pair.blue, True)
            changed.append(pair.group)
    return changed


# Front Door's weight range is 1-1000 (reference/azure-more.md (h)): the least an enabled origin can get is 1.
FULL_WEIGHT = 1000
LEAST_WEIGHT = 1
