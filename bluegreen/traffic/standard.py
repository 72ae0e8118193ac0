"""Front Door Standard/Premium (azure-mgmt-cdn): origins in an origin group, one PATCH per change."""

from __future__ import annotations

from typing import Any

from azure.mgmt.cdn.models import AFDOriginUpdateParameters

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.errors import classify
from bluegreen.traffic import FrontDoorRef, Origin, TrafficState


class StandardFrontDoor:
    def __init__(self, clients: Any, ref: FrontDoorRef) -> None:
        self._ref = ref
        self._rid = ResourceId.parse(ref.resource_id)
        self._client = clients.cdn(self._rid.subscription)

    def read(self) -> TrafficState:
        try:
            found = list(
                self._client.afd_origins.list_by_origin_group(self._rid.resource_group, self._rid.name, self._ref.group)
            )
        except Exception as exc:
            raise classify(exc) from exc
        return TrafficState(tuple(_origin(o) for o in found))

    def set_enabled(self, key: str, enabled: bool) -> None:
        self._patch(key, {"enabled_state": "Enabled" if enabled else "Disabled"})

    def set_host(self, key: str, host: str) -> None:
        self._patch(key, {"host_name": host, "origin_host_header": host})

    def _patch(self, key: str, changes: dict[str, Any]) -> None:
        operations.start(
            self._client.afd_origins.begin_update,
            self._rid.resource_group,
            self._rid.name,
            self._ref.group,
            key,
            AFDOriginUpdateParameters(**changes),
        )


def _origin(model: Any) -> Origin:
    # Propagation is tracked per origin by deploymentStatus; NotStarted means nothing is pending.
    return Origin(
        key=model.name,
        host=model.host_name or "",
        enabled=_text(model.enabled_state, "Enabled") == "Enabled",
        priority=model.priority,
        weight=model.weight,
        deployed=_text(model.deployment_status, "Succeeded") in ("Succeeded", "NotStarted"),
    )


def _text(value: Any, default: str) -> str:
    # SDK enums are str-enums: str() of one is "EnabledState.ENABLED", its .value is "Enabled".
    return str(getattr(value, "value", value) or default)
