"""The rehearsal's report: one JSON object (`--json`) or a human timeline, from what the run and the
emulated Azure recorded."""

from __future__ import annotations

from collections import Counter
from typing import Any

from local.azure_emulator import AzureEmulator
from local.rehearsal.world import Estate, enabled_hosts

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


def reaction_ms(log: list[dict[str, Any]], rollback: dict[str, Any], alert_sent_wall: float | None) -> float | None:
    """Wall ms from the rollback trigger's arrival to the first Front Door write of the rollback being accepted.

    A metrics or analysis trigger arrived with the metrics read just before the first accepted Front Door
    write from the rollback's (virtual) moment on; an alert or a manual trigger when the driver delivered
    it, and its door writes first (before the run records the rollback).
    """
    writes = [e for e in log if is_front_door_write(e) and e.get("status", 500) < 300]
    if rollback["trigger"] in ("metrics", "analysis"):
        after = [e for e in writes if e.get("at", "") >= rollback["at"]]
        if not after:
            return None
        reads = [e for e in log if "metrics" in str(e.get("operation")).lower() and e["seq"] < after[0]["seq"]]
        if not reads:
            return None
        return round((after[0]["wall"] - reads[-1]["wall"]) * 1000, 1)
    if alert_sent_wall is None:
        return None
    after = [e for e in writes if e["wall"] >= alert_sent_wall]
    return round((after[0]["wall"] - alert_sent_wall) * 1000, 1) if after else None


def _cluster(emulator: AzureEmulator, name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    for body in emulator.resources():
        if body.get("type", "").lower() == "microsoft.containerservice/managedclusters" and body.get("name") == name:
            props = body.get("properties") or {}
            return {"cluster": name, "version": props.get("currentKubernetesVersion") or props.get("kubernetesVersion")}
    return None


def live_cluster(emulator: AzureEmulator, estate: Estate) -> dict[str, Any] | None:
    """The cluster behind the one enabled origin of every origin group of the environment, as Front Door is
    configured now (None unless each group has exactly one enabled and they all serve the same cluster)."""
    by_group = enabled_hosts(emulator, estate)
    names = {estate.cluster_of_host(hosts[0]) for hosts in by_group.values() if len(hosts) == 1}
    if any(len(hosts) != 1 for hosts in by_group.values()) or len(names) != 1:
        return None
    return _cluster(emulator, names.pop())


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
        else {
            "trigger": rollback["trigger"],
            "reaction_ms": reaction_ms(log, rollback, alert_sent_wall),
            # Virtual minutes from the rollback until the edge carried blue's traffic again (edge convergence).
            "blue_back_after_minutes": rollback.get("blue_back_after_minutes"),
        },
        # Each traffic change and when the edge carried it: intended and observed share on green.
        "traffic_moves": output.get("traffic_moves") or [],
        "runtime_status": final.get("runtimeStatus"),
        "left_behind": output.get("left_behind") or [],
        "inherited": output.get("inherited") or [],
        "api": _api_summary(result.get("api")),
        "history_events": result.get("history_events", 0),
        "history_events_max_instance": result.get("history_events_max_instance", 0),
        "virtual_seconds": result.get("virtual_seconds", 0.0),
        "wall_seconds": round(result.get("wall_seconds", 0.0), 3),
    }
