"""An environment with three origin groups (classic: backend pools), rehearsed on both Front Door kinds.

The groups switch together, make-before-break in each (every group's green origin on before any blue one goes
off), never with zero enabled origins in any group; the bake watches green's host in every group; a metrics spike
during the bake routes every group back to blue.
"""

from __future__ import annotations

import pytest

from local.rehearsal.invariants import violations
from local.rehearsal.world import enabled_hosts, group_histories

GROUPS = 3
KINDS = ["standard", "classic"]


def _notes(report, phase):
    return [e["detail"] for e in report["timeline"] if e["phase"] == phase]


def _every_configuration_had_an_enabled_origin(rehearsal):
    histories = group_histories(rehearsal.emulator, rehearsal.estate)
    assert len(histories) == GROUPS
    for group, history in histories.items():
        assert len(history) >= 3, (group, history)  # seeded, then at least one make and one break
        assert all(any(enabled for _, enabled, _, _ in targets) for targets in history), (group, history)


@pytest.mark.parametrize("front_door", KINDS)
def test_three_origin_groups_switch_together_and_end_with_greens_origin_the_only_one_enabled(run_rehearsal, front_door):
    report, rehearsal = run_rehearsal(scenario="happy", front_door=front_door, origin_groups=GROUPS)
    assert report["outcome"] == "completed", report["reason"]
    estate = rehearsal.estate
    groups = estate.front_door_groups()
    assert len(groups) == GROUPS and len({g.name for g in groups}) == GROUPS
    assert enabled_hosts(rehearsal.emulator, estate) == {g.name: [g.hosts["green"]] for g in groups}
    assert report["live"]["cluster"] == estate.green_name
    assert violations(report, rehearsal) == []
    _every_configuration_had_an_enabled_origin(rehearsal)
    switch = [n for n in _notes(report, "switch") if n.startswith("origin ")]
    made = [f"origin {g.origins['green']} enabled in {g.name}" for g in groups]
    broken = [f"origin {g.origins['blue']} disabled in {g.name}" for g in groups]
    assert switch == made + broken  # every group's green on before any blue goes off
    (watching,) = [n for n in _notes(report, "bake") if n.startswith("watching ")]
    assert all(g.hosts["green"] in watching for g in groups), watching


@pytest.mark.parametrize("front_door", KINDS)
def test_a_spike_during_the_bake_routes_every_group_back_to_blue(run_rehearsal, front_door):
    report, rehearsal = run_rehearsal(scenario="error-spike", front_door=front_door, origin_groups=GROUPS)
    assert report["outcome"] == "rolled_back", report["reason"]
    assert report["rollback"]["trigger"] == "metrics"
    assert report["rollback"]["reaction_ms"] is not None and report["rollback"]["reaction_ms"] >= 0
    estate = rehearsal.estate
    groups = estate.front_door_groups()
    # Blue's origin is the only one enabled in every group: green's is off in all of them.
    assert enabled_hosts(rehearsal.emulator, estate) == {g.name: [g.hosts["blue"]] for g in groups}
    assert report["live"]["cluster"] == estate.blue_name
    assert violations(report, rehearsal) == []
    _every_configuration_had_an_enabled_origin(rehearsal)
    back = [n for n in _notes(report, "rollback") if n.startswith("origin ")]
    made = [f"origin {g.origins['blue']} enabled in {g.name}" for g in groups]
    broken = [f"origin {g.origins['green']} disabled in {g.name}" for g in groups]
    assert back == made + broken
