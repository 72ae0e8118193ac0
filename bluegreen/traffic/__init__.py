"""Front Door traffic: one narrow interface, two implementations (Standard/Premium and classic).

The runbook only needs to know which origins are enabled, whether Front Door has deployed the last
change, and how to enable or disable one origin. Everything else (make-before-break, which side is
live) is decided by pure rules in `bluegreen.traffic.rules`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

FrontDoorKind = Literal["standard", "classic"]


@dataclass(frozen=True)
class FrontDoorRef:
    kind: FrontDoorKind
    resource_id: str  # Standard/Premium: the profile; classic: the front door
    group: str  # Standard/Premium: the origin group; classic: the backend pool


@dataclass(frozen=True)
class Origin:
    key: str  # Standard/Premium: the origin's name; classic: the backend's address (backends have no name)
    host: str
    enabled: bool
    priority: int | None
    weight: int | None
    deployed: bool  # Front Door reports this origin's last change as deployed everywhere

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "host": self.host,
            "enabled": self.enabled,
            "priority": self.priority,
            "weight": self.weight,
            "deployed": self.deployed,
        }


@dataclass(frozen=True)
class TrafficState:
    origins: tuple[Origin, ...]

    @property
    def deployed(self) -> bool:
        return all(o.deployed for o in self.origins)

    def origin(self, key: str) -> Origin | None:
        wanted = key.lower()
        return next((o for o in self.origins if o.key.lower() == wanted), None)

    def as_dict(self) -> dict[str, Any]:
        return {"origins": [o.as_dict() for o in self.origins], "deployed": self.deployed}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrafficState:
        return cls(tuple(Origin(**o) for o in data["origins"]))


class TrafficProvider(Protocol):
    def read(self) -> TrafficState: ...

    def set_enabled(self, key: str, enabled: bool) -> None:
        """Start the change; Front Door deploys it over minutes (see `read().deployed`)."""

    def set_host(self, key: str, host: str) -> None:
        """Point an origin at another address (green's ingress, when discovered)."""


def provider_for(clients: Any, ref: FrontDoorRef) -> TrafficProvider:
    if ref.kind == "classic":
        from bluegreen.traffic.classic import ClassicFrontDoor

        return ClassicFrontDoor(clients, ref)
    from bluegreen.traffic.standard import StandardFrontDoor

    return StandardFrontDoor(clients, ref)
