"""Gradual switches rehearsed on the emulated Azure: origin weights step by step, each step analysed, and
the edge measured until it carries each change (the emulator's Front Door propagates to its edges over
its propagation delay, a curve, and reports a change deployed before the last edge serves it)."""

from __future__ import annotations

import re

import pytest

from local.rehearsal.invariants import violations
from local.rehearsal.world import enabled_hosts


def _origins(rehearsal) -> dict[str, dict]:
    """The Standard origins' properties as Front Door holds them now, by origin name."""
    return {
        body["name"]: body["properties"]
        for body in rehearsal.emulator.resources()
        if body.get("type", "").lower() == "microsoft.cdn/profiles/origingroups/origins"
    }


def test_a_gradual_switch_shifts_10_50_100_and_reports_when_the_edge_really_moved(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="gradual")
    assert report["outcome"] == "completed", report["reason"]
    assert report["live"]["cluster"] == rehearsal.estate.green_name
    moves = report["traffic_moves"]
    assert [m["intended_green"] for m in moves] == [0.1, 0.5, 1.0]
    for move in moves:
        assert move["converged"], move["detail"]
        assert abs(move["observed_green"] - move["intended_green"]) <= 0.05
        # The edge takes minutes (a curve over the propagation delay), not the instant of the write.
        assert move["minutes"] >= 2, move["detail"]
    # The 50% step's weights stay on green's origin; blue's origin is disabled (the last step).
    origins = _origins(rehearsal)
    green, blue = origins[rehearsal.estate.origins["green"]], origins[rehearsal.estate.origins["blue"]]
    assert (green["enabledState"], green["weight"]) == ("Enabled", 500)
    assert blue["enabledState"] == "Disabled"
    notes = [entry["detail"] for entry in report["timeline"]]
    assert any(n.startswith("analysis passed: 10% for 10 min") for n in notes), notes
    # Latency is analysed too (max_latency_ratio): Front Door's OriginLatency for both sides, in every pass.
    passes = [n for n in notes if n.startswith("analysis passed:")]
    assert len(passes) == 2 and all(re.search(r"\d+ ms; blue .* \d+ ms$", n) for n in passes), passes
    assert any(n.startswith("analysis passed: 50% for 10 min") for n in notes), notes
    assert any(n.endswith("after the change (intended 100% on green)") for n in notes), notes


def test_errors_at_the_50_percent_step_roll_back_on_analysis_before_the_last_step(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="gradual-spike")
    assert report["outcome"] == "rolled_back"
    assert report["rollback"]["trigger"] == "analysis"
    assert report["reason"].startswith("analysis failed at 50%"), report["reason"]
    assert report["live"]["cluster"] == rehearsal.estate.blue_name
    # Blue carried the traffic again, measured at the edge, minutes after the rollback.
    assert report["rollback"]["blue_back_after_minutes"] is not None
    assert report["traffic_moves"][-1]["toward"] == "blue" and report["traffic_moves"][-1]["converged"]
    assert [m["intended_green"] for m in report["traffic_moves"][:-1]] == [0.1]  # 50% was cut short
    # Blue alone takes traffic again, at full weight: the next run starts from an ordinary Front Door.
    origins = _origins(rehearsal)
    green, blue = origins[rehearsal.estate.origins["green"]], origins[rehearsal.estate.origins["blue"]]
    assert (blue["enabledState"], blue["weight"], green["enabledState"]) == ("Enabled", 1000, "Disabled")
    notes = [entry["detail"] for entry in report["timeline"]]
    assert not any("origin blue disabled" in n for n in notes), "the 100% step must never have started"


@pytest.mark.parametrize("front_door", ["standard", "classic"])
def test_a_spike_at_the_50_percent_step_returns_every_origin_group_to_blue(run_rehearsal, front_door):
    report, rehearsal = run_rehearsal(scenario="gradual-spike", front_door=front_door, origin_groups=3)
    assert report["outcome"] == "rolled_back", report["reason"]
    assert report["rollback"]["trigger"] == "analysis"
    estate = rehearsal.estate
    groups = estate.front_door_groups()
    assert len(groups) == 3
    assert enabled_hosts(rehearsal.emulator, estate) == {g.name: [g.hosts["blue"]] for g in groups}
    assert violations(report, rehearsal) == []
    notes = [entry["detail"] for entry in report["timeline"]]
    assert "10% to green: weights 100 green / 900 blue in every group" in notes
    assert report["rollback"]["blue_back_after_minutes"] is not None
