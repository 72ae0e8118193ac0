"""Front Door classic (azure-mgmt-frontdoor): backends live inside the front door; a change is a whole PUT."""

from __future__ import annotations

from typing import Any

from azure.mgmt.frontdoor.models import FrontDoor

from bluegreen import operations
from bluegreen.arm_ids import ResourceId
from bluegreen.contract import GroupState, OriginSettings, OriginState
from bluegreen.errors import PermanentError, classify
from bluegreen.traffic import LoadBalancing, settings_patch


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

    def load_balancing(self, group: str) -> LoadBalancing:
        """The pool's load balancing settings (shared, referenced by id) and its routes' frontend endpoints."""
        props = self._get().get("properties", {})
        pools: list[dict[str, Any]] = props.get("backendPools") or []
        pool = next((p for p in pools if str(p.get("name", "")).lower() == group.lower()), {})
        if not pool:
            raise PermanentError("BackendPoolNotFound", f"front door {self._rid.name} has no backend pool {group!r}")
        pool_id = str(pool.get("id", "")).lower()
        wanted = str(((pool.get("properties") or {}).get("loadBalancingSettings") or {}).get("id", "")).lower()
        settings = next((s for s in props.get("loadBalancingSettings") or [] if _same(s, wanted)), None)
        latency = ((settings or {}).get("properties") or {}).get("additionalLatencyMilliseconds")
        # Session affinity is a frontend endpoint's: the endpoints of the routing rules that forward to this pool.
        endpoints = set()
        for rule in props.get("routingRules") or []:
            rule_props = rule.get("properties") or {}
            target = (rule_props.get("routeConfiguration") or {}).get("backendPool") or {}
            if _same(target, pool_id):
                endpoints |= {str(e.get("id", "")).lower() for e in rule_props.get("frontendEndpoints") or []}
        sticky = [
            str(e.get("name"))
            for e in props.get("frontendEndpoints") or []
            if str(e.get("id", "")).lower() in endpoints
            and (e.get("properties") or {}).get("sessionAffinityEnabledState") == "Enabled"
        ]
        name = str((settings or {}).get("name") or wanted.rsplit("/", 1)[-1] or "?")
        return LoadBalancing(
            additional_latency_ms=None if latency is None else int(latency),
            session_affinity=bool(sticky),
            latency_setting=f"backend pool {group}: loadBalancingSettings {name}, additionalLatencyMilliseconds",
            affinity_setting=f"backend pool {group}'s frontend endpoint(s) {', '.join(sticky) or '(none)'}: "
            "sessionAffinityEnabledState",
        )

    def set_enabled(self, group: str, key: str, enabled: bool) -> None:
        self._change(group, key, {"enabledState": "Enabled" if enabled else "Disabled"})

    def set_host(self, group: str, key: str, host: str) -> None:
        self._change(group, key, {"address": host, "backendHostHeader": host})

    def apply(self, group: str, changes: list[tuple[str, OriginSettings]]) -> None:
        # One PUT carries every backend's change: classic has no per-backend write. Its JSON names the
        # enabled state `enabledState`; weight and priority are named alike.
        edits = []
        for key, settings in changes:
            patch = settings_patch(settings)
            if "enabled_state" in patch:
                patch["enabledState"] = patch.pop("enabled_state")
            edits.append((key, patch))
        self._write(group, edits)

    def _change(self, group: str, key: str, changes: dict[str, Any]) -> None:
        self._write(group, [(key, changes)])

    def _write(self, group: str, edits: list[tuple[str, dict[str, Any]]]) -> None:
        body = self._get()
        backends = self._backends(body, group)
        for key, changes in edits:
            backend = next((b for b in backends if str(b.get("address", "")).lower() == key.lower()), None)
            if backend is None:
                raise PermanentError("BackendNotFound", f"backend pool {group!r} has no backend {key!r}")
            backend.update(changes)
        writable = FrontDoor(FrontDoor(body).as_dict(exclude_readonly=True))
        operations.start(
            self._client.front_doors.begin_create_or_update, self._rid.resource_group, self._rid.name, writable
        )


def _same(child: dict[str, Any], wanted_id: str) -> bool:
    """A front door's child (settings, endpoint) is referenced by its id; compared case-insensitively."""
    return bool(wanted_id) and str(child.get("id", "")).lower() == wanted_id
