"""What the tests of runs that follow one another read: clusters, deletes, outputs, the environment's status."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from local.rehearsal.driver import Rehearsal

RETAINED_FOR = timedelta(hours=72)  # retire.retain_hours, default
SWEEP_EVERY = timedelta(hours=1)  # triggers/retention.py: SWEEP_SCHEDULE, five past every hour
BYSTANDER = "aks-nod-prod-tools"  # a cluster of the team's in the same resource group, never a run's
OTHER_ENVIRONMENT = "aks-shop-old"  # retained, and long expired, by another environment


def clusters(rehearsal: Rehearsal) -> dict[str, dict[str, Any]]:
    assert rehearsal.emulator is not None
    return {
        b["name"]: b
        for b in rehearsal.emulator.resources()
        if b.get("type", "").lower() == "microsoft.containerservice/managedclusters"
    }


def cluster_deletes(rehearsal: Rehearsal) -> list[str]:
    assert rehearsal.emulator is not None
    return [
        e["path"].rsplit("/", 1)[-1]
        for e in rehearsal.emulator.requests()
        if e["method"] == "DELETE" and "/managedclusters/" in e["path"].lower() and e["path"].count("/") == 8
    ]


def notes(result: dict[str, Any]) -> list[str]:
    return [e["detail"] for e in ((result["final"] or {}).get("output") or {}).get("timeline") or []]


def output(result: dict[str, Any]) -> dict[str, Any]:
    return (result["final"] or {}).get("output") or {}


def seed_copy_of_blue(rehearsal: Rehearsal, name: str, tags: dict[str, str]) -> None:
    """A cluster like blue, named `name`, with these tags, created in blue's resource group behind the run's back."""
    assert rehearsal.emulator is not None
    blue = next(
        r
        for r in rehearsal.estate.resources
        if str(r.get("type")).lower() == "microsoft.containerservice/managedclusters"
    )
    body = copy.deepcopy(blue)
    body.update(id=body["id"].rsplit("/", 1)[0] + f"/{name}", name=name, tags=tags)
    body["properties"].update(dnsPrefix=name, nodeResourceGroup=f"MC_{name}")
    rehearsal.emulator.seed(body)


def seed_bystanders(rehearsal: Rehearsal) -> None:
    """Two clusters no run of this environment may touch: an untagged one, and another environment's."""
    seed_copy_of_blue(rehearsal, BYSTANDER, {"team": "platform"})
    seed_copy_of_blue(
        rehearsal,
        OTHER_ENVIRONMENT,
        {
            "bluegreen-environment": "shop",
            "bluegreen-retired-by": "shop-3",
            "bluegreen-retired-as": "retired",
            "bluegreen-retain-until": "2026-01-01T00:00:00Z",
        },
    )


def next_sweep(moment: datetime) -> datetime:
    """The first sweep at or after `moment`: five past the hour."""
    sweep = moment.replace(minute=5, second=0, microsecond=0)
    return sweep if sweep >= moment else sweep + SWEEP_EVERY


def environment(rehearsal: Rehearsal) -> dict[str, Any]:
    status, body = rehearsal._request("GET", f"/api/environments/{rehearsal.estate.environment}")
    assert status == 200, body
    return body
