"""The rehearsal's report: one JSON object (`--json`) or a human timeline, from what the run and the
emulated Azure recorded."""

from __future__ import annotations

from collections import Counter
from typing import Any

from local.azure_emulator import AzureEmulator
from local.rehearsal.world import Estate

FRONT_DOOR_PROVIDERS = ("microsoft.cdn/", "microsoft.network/frontdoors")


def is_front_door_write(entry: dict[str, Any]) -> bool:
    operation = str(entry.get("operation") or "").lower()
    return entry.get("kind") == "write" and any(p in operation for p in FRONT_DOOR_PROVIDERS)


def arm_summary(log: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "requests": len(log),
        "writes": sum(1 for e in log if e.get("kind") == "write"),
        "by_operation": dict(sorted(Counter(str(e.get("operation")) for e in log).items())),
    }


def reaction_ms(log: list[dict[str, Any]], trigger: str, alert_sent_wall: float | None) -> float | None:
    """Wall ms from the rollback trigger's arrival to the first Front Door write of the rollback being accepted.

    The switch makes two Front Door writes (enable green, disable blue); the rollback's first write
    is the next one. A metrics trigger arrived with the metrics read just before it; an alert or a
    manual trigger when the driver delivered it.
    """
    writes = [e for e in log if is_front_door_write(e) and e.get("status", 500) < 300]
    if len(writes) < 3:
        return None
    rollback_write = writes[2]
    if trigger == "metrics":
        reads = [e for e in log if "metrics" in str(e.get("operation")).lower() and e["seq"] < rollback_write["seq"]]
        if not reads:
            return None
        arrived = reads[-1]["wall"]
    else:
        if alert_sent_wall is None:
            return None
        arrived = alert_sent_wall
    return round((rollback_write["wall"] - arrived) * 1000, 1)


def _cluster(emulator: AzureEmulator, name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    for body in emulator.resources():
        if body.get("type", "").lower() == "microsoft.containerservice/managedclusters" and body.get("name") == name:
            props = body.get("properties") or {}
            return {"cluster": name, "version": props.get("currentKubernetesVersion") or props.get("kubernetesVersion")}
    return None


def live_cluster(emulator: AzureEmulator, estate: Estate) -> dict[str, Any] | None:
    """The cluster behind the one enabled origin of the environment, as Front Door is configured now."""
    enabled_hosts: list[str] = []
    for body in emulator.resources():
        props = body.get("properties") or {}
        if body.get("type", "").lower() == "microsoft.cdn/profiles/origingroups/origins" and (
            str(body.get("id", "")).lower().startswith(estate.front_door_id.lower())
            and props.get("enabledState") == "Enabled"
        ):
            enabled_hosts.append(props.get("hostName"))
        if (
            body.get("type", "").lower() == "microsoft.network/frontdoors"
            and body.get("id", "").lower() == estate.front_door_id.lower()
        ):
            for pool in props.get("backendPools") or []:
                for backend in (pool.get("properties") or {}).get("backends") or []:
                    if backend.get("enabledState") == "Enabled":
                        enabled_hosts.append(backend.get("address"))
    by_host = {estate.hosts["blue"]: estate.blue_name, estate.hosts["green"]: estate.green_name}
    names = [by_host.get(h) for h in enabled_hosts]
    return _cluster(emulator, names[0]) if len(names) == 1 else None


def _api_summary(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """What `GET /api/upgrades/{id}` showed of the finished run."""
    if not isinstance(detail, dict):
        return None
    return {"outcome": detail.get("outcome"), "reason": detail.get("reason"), "phase": detail.get("phase")}


def build_report(
    scenario: str, result: dict[str, Any], emulator: AzureEmulator, estate: Estate, alert_sent_wall: float | None
) -> dict[str, Any]:
    final = result.get("final") or {}
    output = final.get("output") if isinstance(final.get("output"), dict) else {}
    log = emulator.requests()
    rollback = output.get("rollback")
    resources = output.get("resources") or {}
    green_name = (output.get("green") or {}).get("cluster")
    return {
        "scenario": scenario,
        "outcome": output.get("outcome") or result.get("outcome") or "failed",
        "reason": output.get("reason") if output else result.get("reason") or final.get("output"),
        "instance_id": final.get("instanceId"),
        "live": live_cluster(emulator, estate),
        "blue": _cluster(emulator, (output.get("blue") or {}).get("cluster")) or output.get("blue"),
        "green": _cluster(emulator, green_name),  # null when no green exists at the end
        "resources": {
            "front_door": resources.get("front_door", estate.front_door_id),
            "blue": resources.get("blue"),
            "green": resources.get("green"),
        },
        "upgrade_path": output.get("upgrade_path") or [],
        "timeline": output.get("timeline") or [],
        "arm": arm_summary(log),
        "rollback": None
        if not rollback
        else {"trigger": rollback["trigger"], "reaction_ms": reaction_ms(log, rollback["trigger"], alert_sent_wall)},
        "runtime_status": final.get("runtimeStatus"),
        "left_behind": output.get("left_behind") or [],
        "inherited": output.get("inherited") or [],
        "api": _api_summary(result.get("api")),
        "history_events": result.get("history_events", 0),
        "history_events_max_instance": result.get("history_events_max_instance", 0),
        "virtual_seconds": result.get("virtual_seconds", 0.0),
        "wall_seconds": round(result.get("wall_seconds", 0.0), 3),
    }
