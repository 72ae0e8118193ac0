"""The safety invariants every rehearsal must end with, whatever was thrown at it.

1. Front Door never had zero enabled origins in any origin group (the emulator logs the count after every
   write, and keeps every configuration of each group).
2. The run ended with an outcome and a readable reason, the orchestration itself never Failed, and
   the operator API shows the same outcome and reason.
3. Before the switch a failure leaves only blue enabled; after traffic moved, exactly one side is
   enabled at the end, the same in every origin group, and it is a healthy cluster (green if completed,
   blue otherwise).
4. Nothing of the environment's (its two slots) is left running that the outcome does not name
   (`left_behind`), and no wiring (an Event Grid topic, an alert, a diagnostic setting) watches a cluster
   that is gone unless the output names it (`inherited`, not removed).
5. The run ended within a bounded virtual time.
6. The side users are on runs every workload Azure lets it run: its images pull and its workload identities
   get tokens (no blocked workloads).
"""

from __future__ import annotations

from typing import Any

from local.rehearsal.report import is_front_door_write
from local.rehearsal.world import enabled_hosts, group_histories

MAX_VIRTUAL_HOURS = 24
OUTCOMES = ("completed", "rolled_back", "rejected", "aborted", "failed")


def violations(report: dict[str, Any], rehearsal: Any) -> list[str]:
    """What went wrong, in words; empty when every invariant holds."""
    emulator, estate = rehearsal.emulator, rehearsal.estate
    problems: list[str] = []
    writes = [e for e in emulator.requests() if is_front_door_write(e) and e.get("enabled_origins") is not None]
    dark = [e for e in writes if e["enabled_origins"] < 1]
    if dark:
        problems.append(f"{len(dark)} Front Door write(s) left zero enabled origins")
    for group, history in group_histories(emulator, estate).items():
        unserved = sum(1 for targets in history if not any(enabled for _, enabled, _, _ in targets))
        if unserved:
            problems.append(f"origin group {group} had zero enabled origins in {unserved} configuration(s)")

    outcome, reason = report.get("outcome"), report.get("reason")
    if outcome not in OUTCOMES:
        problems.append(f"no outcome ({outcome!r})")
    if outcome != "completed" and not reason:
        problems.append(f"outcome {outcome} without a reason")
    if report.get("runtime_status") != "Completed":
        problems.append(f"the orchestration ended {report.get('runtime_status')}, not Completed")
    api = report.get("api") or {}
    if api.get("outcome") != outcome or api.get("reason") != reason:
        problems.append(f"the API shows {api.get('outcome')!r} / {api.get('reason')!r}")
    if report.get("virtual_seconds", 0) > MAX_VIRTUAL_HOURS * 3600:
        problems.append(f"took {report['virtual_seconds'] / 3600:.1f} virtual hours")

    live = report.get("live")
    blue_name, green_name = run_sides(report, estate)
    green_side = "green" if green_name == estate.green_name else "blue"
    green_origins = [group.origins[green_side] for group in estate.front_door_groups()]
    moved = any(
        f"origin {origin} enabled" in e.get("detail", "")
        for e in report.get("timeline") or []
        for origin in green_origins
    )
    expected_live = green_name if outcome == "completed" else blue_name
    if live is None and len(estate.front_door_groups()) > 1:
        # No one cluster behind the one enabled origin of every group: say what each group has.
        problems += _only_live_enabled(emulator, estate, expected_live)
    elif live is None:
        problems.append("at the end not exactly one origin is enabled")
    elif live["cluster"] != expected_live:
        problems.append(f"{live['cluster']} serves users after outcome {outcome}; expected {expected_live}")
    else:
        problems += _unhealthy(emulator, live["cluster"])
        blocked = emulator.blocked_workloads(live["cluster"])
        if blocked:
            problems.append(f"{live['cluster']} serves users with workloads Azure keeps from running: {blocked}")
    named = {c.get("name") for c in report.get("left_behind") or []}
    for cluster in _clusters(emulator):
        name, props = cluster["name"], cluster.get("properties") or {}
        if name not in (estate.blue_name, estate.green_name):
            continue  # not the environment's: other teams' clusters are theirs to run
        if live is not None and name == live["cluster"]:
            continue
        running = (props.get("powerState") or {}).get("code") == "Running"
        if running and name not in named:
            problems.append(f"{name} is running but the outcome does not name it")
        if not moved and name == green_name and name not in named:
            problems.append(f"green {name} still exists after a failure before the switch")
    named_wiring = {str(i.get("id", "")).lower() for i in report.get("inherited") or [] if not i.get("removed")}
    problems += [f"{w} watches a cluster that is gone" for w in _dangling(emulator) if w.lower() not in named_wiring]
    return problems


def _only_live_enabled(emulator: Any, estate: Any, expected_live: str) -> list[str]:
    """In every origin group the live side's origin is the only one enabled at the end."""
    side = "blue" if expected_live == estate.blue_name else "green"
    by_group = enabled_hosts(emulator, estate)
    problems = []
    for group in estate.front_door_groups():
        enabled, wanted = by_group[group.name], group.hosts[side]
        if [h.lower() for h in enabled] != [wanted.lower()]:
            problems.append(
                f"origin group {group.name} ends with {', '.join(enabled) or 'no origin'} enabled; "
                f"expected only {wanted} ({expected_live})"
            )
    return problems


def run_sides(report: dict[str, Any], estate: Any) -> tuple[str, str]:
    """The run's blue and green cluster names: the slots swap roles from one run to the next."""
    resources = report.get("resources") or {}
    blue, green = resources.get("blue"), resources.get("green")
    if blue and green:
        return str(blue).rsplit("/", 1)[-1], str(green).rsplit("/", 1)[-1]
    return estate.blue_name, estate.green_name


def _dangling(emulator: Any) -> list[str]:
    """Ids of wiring that names a managed cluster which no longer exists."""
    clusters = {str(c["id"]).lower() for c in _clusters(emulator)}

    def gone(value: Any) -> bool:
        text = str(value).lower()
        return (
            "/microsoft.containerservice/managedclusters/" in text
            and text.split("/providers/microsoft.insights")[0] not in clusters
        )

    found = []
    for body in emulator.resources():
        kind, props = str(body.get("type", "")).lower(), body.get("properties") or {}
        watched = {
            "microsoft.eventgrid/systemtopics": [props.get("source")],
            "microsoft.insights/metricalerts": list(props.get("scopes") or []),
            "microsoft.insights/diagnosticsettings": [body["id"]],
        }.get(kind, [])
        if any(gone(w) for w in watched):
            found.append(str(body["id"]))
    return found


def _clusters(emulator: Any) -> list[dict[str, Any]]:
    return [
        b for b in emulator.resources() if b.get("type", "").lower() == "microsoft.containerservice/managedclusters"
    ]


def _unhealthy(emulator: Any, name: str) -> list[str]:
    cluster = next((c for c in _clusters(emulator) if c["name"] == name), None)
    if cluster is None:
        return [f"the live cluster {name} does not exist"]
    props = cluster.get("properties") or {}
    problems = []
    if props.get("provisioningState") != "Succeeded":
        problems.append(f"the live cluster {name} is {props.get('provisioningState')}")
    if (props.get("powerState") or {}).get("code") != "Running":
        problems.append(f"the live cluster {name} is {(props.get('powerState') or {}).get('code')}")
    return problems
