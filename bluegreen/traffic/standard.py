"""Front Door Standard/Premium (azure-mgmt-cdn): origins in origin groups, one PATCH per change."""

from __future__ import annotations

from typing import Any

from azure.mgmt.cdn.models import AFDOriginUpdateParameters

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.contract import GroupState, OriginSettings, OriginState
from bluegreen.errors import classify
from bluegreen.traffic import LoadBalancing, settings_patch


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

    def load_balancing(self, group: str) -> LoadBalancing:
        try:
            found = self._client.afd_origin_groups.get(self._rid.resource_group, self._rid.name, group)
        except Exception as exc:
            raise classify(exc) from exc
        settings = found.load_balancing_settings
        latency = getattr(settings, "additional_latency_in_milliseconds", None) if settings is not None else None
        return LoadBalancing(
            additional_latency_ms=None if latency is None else int(latency),
            session_affinity=_text(found.session_affinity_state, "Disabled") == "Enabled",
            latency_setting=f"origin group {group}: loadBalancingSettings.additionalLatencyInMilliseconds",
            affinity_setting=f"origin group {group}: sessionAffinityState",
        )

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        self._patch(group, key, {"enabled_state": "Enabled" if enabled else "Disabled"})

    def set_host(self, group: str, key: str, host: str) -> None:
        self._patch(group, key, {"host_name": host, "origin_host_header": host})

    def apply(self, group: str, changes: list[tuple[str, OriginSettings]]) -> None:
        for key, settings in changes:
            patch = settings_patch(settings)
            if patch:
                self._patch(group, key, patch)

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
