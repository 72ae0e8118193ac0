"""Retention, reclaiming the idle slot, revert: runs that follow one another, each through the app's own doors.

The rehearsal's configuration is the default's for retention (retain_hours 72, reclaim_slot true) unless a
test says otherwise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from local.rehearsal.driver import Options, Rehearsal
from local.rehearsal.invariants import violations
from tests.rehearsal.sequences import (
    RETAINED_FOR,
    SWEEP_EVERY,
    clusters,
    environment,
    next_sweep,
    notes,
    output,
    seed_copy_of_blue,
)

# ---- revert


def test_revert_starts_the_stopped_cluster_verifies_switches_and_retires_the_one_it_left(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="revert")
    upgrade, revert = rehearsal.results
    estate = rehearsal.estate
    assert (output(upgrade)["outcome"], report["outcome"]) == ("completed", "completed")
    assert violations(report, rehearsal) == []
    revert_out = output(revert)
    assert revert_out["kind"] == "revert" and revert_out["live"] == estate.blue_name
    phases = [e["phase"] for e in revert_out["timeline"]]
    assert phases.index("start") < phases.index("verify") < phases.index("approval") < phases.index("switch")
    assert "clone" not in phases and "upgrade" not in phases  # nothing created, nothing upgraded
    assert f"{estate.blue_name} started" in notes(revert)
    assert revert_out["approval"]["by"] == "rehearsal-approver@example.com"
    assert rehearsal.emulator is not None
    starts = [e for e in rehearsal.emulator.requests() if e["method"] == "POST" and e["path"].endswith("/start")]
    assert [s["path"].split("/")[-2] for s in starts] == [estate.blue_name]
    now = clusters(rehearsal)
    live, left = now[estate.blue_name], now[estate.green_name]
    assert not any(k.startswith("bluegreen-retain") or k == "bluegreen-retired-by" for k in live["tags"])
    assert (left["properties"]["powerState"]["code"], left["tags"]["bluegreen-retired-as"]) == (
        "Stopped",
        "reverted-from",
    )
    assert left["tags"]["bluegreen-retired-by"] == revert_out["instance_id"]


# ---- retention in virtual time


def test_retention_deletes_the_retired_cluster_on_time_and_not_before():
    seen: dict[str, Any] = {}

    def after_each(rehearsal: Rehearsal, result: dict[str, Any]) -> None:
        host, estate = rehearsal.host, rehearsal.estate
        assert host is not None and rehearsal.emulator is not None
        (retired,) = output(result)["left_behind"]
        until = datetime.strptime(retired["retained_until"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        tagged_at = until - RETAINED_FOR
        assert retired["name"] == estate.blue_name and retired["state"] == "stopped"
        before = environment(rehearsal)
        seen["next_deletion"] = before["next_deletion"]
        host.advance_to(until - timedelta(minutes=1))
        host.wait_for("bluegreen-retention-sweep", timeout=30)  # that sweep found it not yet due
        seen["a_minute_before"] = estate.blue_name in clusters(rehearsal)
        seen["sweeps_before"] = [f for f in host.timer_firings() if f.function == "retention_timer"]
        seen["sweep_at"] = next_sweep(until)
        host.advance_to(seen["sweep_at"])  # the first sweep at or after the end of the retention
        host.wait_for("bluegreen-retention-sweep", timeout=30)
        host.advance(30 * 60)  # the delete itself takes a while
        seen["after"] = estate.blue_name in clusters(rehearsal)
        seen["deleted_at"] = [
            e["at"]
            for e in rehearsal.emulator.requests()
            if e["method"] == "DELETE" and e["path"].endswith(estate.blue_name)
        ]
        seen["until"], seen["tagged_at"] = until, tagged_at
        seen["idle"] = environment(rehearsal)["idle"]
        seen["revert"] = rehearsal._request(
            "POST",
            f"/api/environments/{estate.environment}/revert",
            {},
            {"X-MS-CLIENT-PRINCIPAL-NAME": "ops@example.com"},
        )

    rehearsal = Rehearsal(Options(scenario="happy", strategy="create-at-target", after_each=after_each))
    try:
        rehearsal.run()
    finally:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
    assert seen["next_deletion"]["name"] == rehearsal.estate.blue_name
    assert seen["a_minute_before"] is True and seen["sweeps_before"], "sweeps ran, and left it alone"
    assert seen["after"] is False
    (deleted_at,) = seen["deleted_at"]
    # Deleted by the first sweep once its time was up (after removing what was bound to it), never before.
    assert (
        seen["until"]
        <= seen["sweep_at"]
        <= datetime.fromisoformat(deleted_at)
        <= seen["sweep_at"] + timedelta(minutes=2)
    )
    assert seen["sweep_at"] - seen["until"] < SWEEP_EVERY
    assert seen["idle"]["state"] == "empty"
    status, body = seen["revert"]
    assert status == 409 and body["error"]["code"] == "NothingToRevertTo"


# ---- what is never touched


def test_an_untagged_cluster_in_the_slot_is_refused_before_any_write():
    def squat(rehearsal: Rehearsal) -> None:
        """Someone created a cluster with green's name by hand."""
        assert rehearsal.emulator is not None
        seed_copy_of_blue(rehearsal, rehearsal.estate.green_name, {"owner": "someone"})
        rehearsal.emulator.clear_requests()

    rehearsal = Rehearsal(Options(scenario="happy", before=squat))
    try:
        result = rehearsal.run()
        assert rehearsal.emulator is not None
        writes = [e for e in rehearsal.emulator.requests() if e.get("kind") == "write"]
        squatter = clusters(rehearsal)[rehearsal.estate.green_name]
    finally:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
    out = output(result)
    assert out["outcome"] == "failed"
    assert "GreenSlotOccupied" in out["reason"] and "az aks delete" in out["reason"]
    assert f"was not created or retired by environment {rehearsal.estate.environment}" in out["reason"]
    assert writes == [] and squatter["tags"] == {"owner": "someone"}


def test_reclaim_slot_false_refuses_while_the_retired_cluster_is_retained():
    def no_reclaim(rehearsal: Rehearsal) -> None:
        config = Path(rehearsal.workdir / "environments.json")
        data = json.loads(config.read_text())
        data["environment"][0]["retire"] = {"mode": "stop", "reclaim_slot": False}
        config.write_text(json.dumps(data))

    rehearsal = Rehearsal(
        Options(sequence=("happy@1.33", "happy"), strategy="create-at-target", before=no_reclaim, wall_timeout=120)
    )
    try:
        first, second = rehearsal.run() and rehearsal.results
    finally:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
    assert output(first)["outcome"] == "completed"
    assert output(second)["outcome"] == "failed"
    reason = output(second)["reason"]
    assert "IdleSlotRetained" in reason and "retire.reclaim_slot = true" in reason
    assert rehearsal.estate.blue_name in clusters(rehearsal)


@pytest.mark.parametrize("mode", ["keep", "stop", "delete"])
def test_two_completed_runs_in_a_row_with_each_retire_mode(mode):
    def retire_mode(rehearsal: Rehearsal) -> None:
        config = Path(rehearsal.workdir / "environments.json")
        data = json.loads(config.read_text())
        data["environment"][0]["retire"] = {"mode": mode}
        config.write_text(json.dumps(data))

    rehearsal = Rehearsal(
        Options(sequence=("happy@1.33", "happy@1.34"), strategy="create-at-target", before=retire_mode)
    )
    try:
        first, second = rehearsal.run() and rehearsal.results
        left = clusters(rehearsal)
    finally:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
    estate = rehearsal.estate
    assert (output(first)["outcome"], output(second)["outcome"]) == ("completed", "completed")
    assert output(second)["live"] == estate.blue_name  # the slots swapped: the second green is blue's slot
    reclaims = [n for n in notes(second) if n.startswith("reclaiming the idle slot")]
    assert len(reclaims) == (0 if mode == "delete" else 1)
    expected_left = {estate.blue_name} if mode == "delete" else {estate.blue_name, estate.green_name}
    assert set(left) == expected_left
    if mode != "delete":
        retired = left[estate.green_name]
        assert retired["tags"]["bluegreen-retired-by"] == output(second)["instance_id"]
        power = retired["properties"]["powerState"]["code"]
        assert power == ("Running" if mode == "keep" else "Stopped")
