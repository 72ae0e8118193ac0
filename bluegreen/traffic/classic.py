"""Front Door classic (azure-mgmt-frontdoor): backends live inside the front door; a change is a whole PUT."""

from __future__ import annotations

from typing import Any

from azure.mgmt.frontdoor.models import FrontDoor

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.contract import GroupState, OriginState
from bluegreen.errors import PermanentError, classify


class ClassicFrontDoor:
    def __init__(self, clients: Any, front_door_id: str) -> None:
        self._rid = ResourceId.parse(front_door_id)
        self._client = clients.frontdoor(self._rid.subscription)

    def _get(self) -> dict[str, Any]:
        try:
            body: dict[str, Any] = self._client.front_doors.get(self._rid.resource_group, self._rid.name).as_dict()
        except Exception as exc:
            raise classify(exc) from exc
        return body

    def _backends(self, body: dict[str, Any], group: str) -> list[dict[str, Any]]:
        for pool in body.get("properties", {}).get("backendPools") or []:
            if str(pool.get("name", "")).lower() == group.lower():
                backends: list[dict[str, Any]] = pool.setdefault("properties", {}).setdefault("backends", [])
                return backends
        raise PermanentError("BackendPoolNotFound", f"front door {self._rid.name} has no backend pool {group!r}")

    def read(self, group: str) -> GroupState:
        body = self._get()
        # Classic has no per-backend deployment status: the front door's provisioning state covers the PUT.
        deployed = body.get("properties", {}).get("provisioningState", "Succeeded") == "Succeeded"
        return GroupState(
            group=group,
            origins=[
                OriginState(
                    key=b.get("address", ""),
                    host=b.get("address", ""),
                    enabled=b.get("enabledState", "Enabled") == "Enabled",
                    priority=b.get("priority"),
                    weight=b.get("weight"),
                    deployed=deployed,
                )
                for b in self._backends(body, group)
            ],
        )

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        self._change(group, key, {"enabledState": "Enabled" if enabled else "Disabled"})

    def set_host(self, group: str, key: str, host: str) -> None:
        self._change(group, key, {"address": host, "backendHostHeader": host})

    def _change(self, group: str, key: str, changes: dict[str, Any]) -> None:
        body = self._get()
        backends = self._backends(body, group)
        backend = next((b for b in backends if str(b.get("address", "")).lower() == key.lower()), None)
        if backend is None:
            raise PermanentError("BackendNotFound", f"backend pool {group!r} has no backend {key!r}")
        backend.update(changes)
        writable = FrontDoor(FrontDoor(body).as_dict(exclude_readonly=True))
        operations.start(
            self._client.front_doors.begin_create_or_update, self._rid.resource_group, self._rid.name, writable
        )
