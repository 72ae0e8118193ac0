"""Front Door Standard/Premium (azure-mgmt-cdn): origins in origin groups, one PATCH per change."""

from __future__ import annotations

from typing import Any

from azure.mgmt.cdn.models import AFDOriginUpdateParameters

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.contract import GroupState, OriginState
from bluegreen.errors import classify


class StandardFrontDoor:
    def __init__(self, clients: Any, profile_id: str) -> None:
        self._rid = ResourceId.parse(profile_id)
        self._client = clients.cdn(self._rid.subscription)

    def read(self, group: str) -> GroupState:
        try:
            found = list(self._client.afd_origins.list_by_origin_group(self._rid.resource_group, self._rid.name, group))
        except Exception as exc:
            raise classify(exc) from exc
        return GroupState(group=group, origins=[_origin(o) for o in found])

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        self._patch(group, key, {"enabled_state": "Enabled" if enabled else "Disabled"})

    def set_host(self, group: str, key: str, host: str) -> None:
        self._patch(group, key, {"host_name": host, "origin_host_header": host})

    def _patch(self, group: str, key: str, changes: dict[str, Any]) -> None:
        operations.start(
            self._client.afd_origins.begin_update,
            self._rid.resource_group,
            self._rid.name,
            group,
            key,
            AFDOriginUpdateParameters(**changes),
        )


def _origin(model: Any) -> OriginState:
    # Propagation is tracked per origin by deploymentStatus; NotStarted means nothing is pending.
    return OriginState(
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
