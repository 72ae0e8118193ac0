"""Every rehearsal scenario through the local host and the emulated Azure, to its outcome.

Invariants checked in each: Front Door never had zero enabled origins (the emulator logs the
count after every Front Door write), and the side live at the end is a healthy cluster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.rehearsal.report import is_front_door_write
from tests.rehearsal import operator_role

EXPECTED = {
    "happy": "completed",
    "crash-resume": "completed",
    "reject": "rejected",
    "approval-timeout": "rejected",
    "upgrade-fails": "failed",
    "verify-fails": "failed",
    "populate-fails": "failed",
    "pipeline": "completed",
    "error-spike": "rolled_back",
    "gradual": "completed",
    "gradual-spike": "rolled_back",
}


def _assert_traffic_always_had_an_origin(rehearsal) -> None:
    writes = [e for e in rehearsal.emulator.requests() if is_front_door_write(e) and e["status"] < 300]
    assert writes, "the run never wrote to Front Door"
    assert all(e["enabled_origins"] >= 1 for e in writes), [e["enabled_origins"] for e in writes]


def _cluster(rehearsal, name):
    return next(
        b for b in rehearsal.emulator.resources() if b.get("name") == name and "managedclusters" in b["type"].lower()
    )


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_reaches_its_outcome_with_an_origin_enabled_throughout(run_rehearsal, scenario):
    report, rehearsal = run_rehearsal(scenario=scenario)
    assert report["outcome"] == EXPECTED[scenario], report["reason"]
    live = report["live"]
    assert live is not None, "exactly one origin must be enabled at the end"
    live_cluster = _cluster(rehearsal, live["cluster"])["properties"]
    assert live_cluster["provisioningState"] == "Succeeded"
    assert live_cluster["powerState"]["code"] == "Running"
    if scenario in ("happy", "crash-resume", "error-spike", "gradual", "gradual-spike"):
        _assert_traffic_always_had_an_origin(rehearsal)
    contract = {"clone", "populate", "upgrade", "verify", "approval", "switch", "bake", "rollback", "retire"}
    phases = [entry["phase"] for entry in report["timeline"]]
    assert phases[0] == "clone" and set(phases) <= contract, phases


def test_happy_path_moves_traffic_to_the_upgraded_green_and_stops_blue(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="happy")
    assert report["live"] == {"cluster": rehearsal.estate.green_name, "version": "1.34.2"}
    assert report["upgrade_path"] == ["1.32.9", "1.33.6", "1.34.2"]
    blue = _cluster(rehearsal, rehearsal.estate.blue_name)["properties"]
    assert blue["powerState"]["code"] == "Stopped"  # retire mode stop: kept, no compute charge
    phases = [entry["phase"] for entry in report["timeline"]]
    for phase in ("clone", "populate", "upgrade", "verify", "approval", "switch", "bake", "retire"):
        assert phase in phases
    assert report["rollback"] is None
    # The long waits run in sub-orchestrations: no single history re-read on every replay grows past 400.
    assert report["history_events_max_instance"] <= 400 < report["history_events"]


def test_error_spike_rolls_back_on_metrics_and_keeps_blue_live(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="error-spike")
    assert report["rollback"]["trigger"] == "metrics"
    assert report["rollback"]["reaction_ms"] is not None and report["rollback"]["reaction_ms"] >= 0
    assert report["live"]["cluster"] == rehearsal.estate.blue_name
    assert "rollback" in [entry["phase"] for entry in report["timeline"]]


def test_failed_upgrade_deletes_green_and_blue_never_stops_serving(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="upgrade-fails")
    assert "UpgradeFailed" in report["reason"]
    names = {b["name"] for b in rehearsal.emulator.resources() if "managedclusters" in b["type"].lower()}
    assert rehearsal.estate.green_name not in names
    assert not [e for e in rehearsal.emulator.requests() if is_front_door_write(e)]  # traffic never touched


def test_crash_resume_finishes_on_a_new_host_without_redoing_the_switch(run_rehearsal):
    _report, rehearsal = run_rehearsal(scenario="crash-resume")
    assert rehearsal.observed.crashed
    writes = [e for e in rehearsal.emulator.requests() if is_front_door_write(e)]
    assert len(writes) == 2  # enable green, disable blue: the resumed host did not switch again


def test_create_at_target_makes_one_create_and_no_upgrades(run_rehearsal):
    report, _rehearsal = run_rehearsal(scenario="happy", strategy="create-at-target")
    assert report["outcome"] == "completed"
    by_operation = report["arm"]["by_operation"]
    assert by_operation.get("Microsoft.ContainerService/managedClusters/agentPools/write", 0) == 0
    cluster_writes = by_operation.get("Microsoft.ContainerService/managedClusters/write", 0)
    # The create, and the tags that mark blue as retained before it is stopped (stopping is an action).
    assert cluster_writes == 2
    patches = [e for e in _rehearsal.emulator.requests() if e["method"] == "PATCH" and "/managedClusters/" in e["path"]]
    assert [p["path"].rsplit("/", 1)[-1] for p in patches] == [_rehearsal.estate.blue_name]


def test_classic_front_door_completes_too(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="happy", front_door="classic")
    assert report["outcome"] == "completed", report["reason"]
    assert report["live"]["cluster"] == rehearsal.estate.green_name
    _assert_traffic_always_had_an_origin(rehearsal)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_fired_alert_during_bake_rolls_back_with_trigger_alert(run_rehearsal):
    report, rehearsal = run_rehearsal(alert_file=str(FIXTURES / "alerts" / "metric-alert-fired.json"))
    assert report["outcome"] == "rolled_back"
    assert report["rollback"]["trigger"] == "alert"
    assert report["rollback"]["reaction_ms"] is not None and report["rollback"]["reaction_ms"] >= 0
    assert report["live"]["cluster"] == rehearsal.estate.blue_name


def test_resolved_alert_changes_nothing(run_rehearsal):
    report, _ = run_rehearsal(alert_file=str(FIXTURES / "alerts" / "metric-alert-resolved.json"))
    assert report["outcome"] == "completed" and report["rollback"] is None


def test_support_ending_event_for_the_live_cluster_starts_a_run_through_event_grid(run_rehearsal):
    report, _ = run_rehearsal(event_file=str(FIXTURES / "eventgrid" / "cluster-support-ending.cloudevent.json"))
    assert report["outcome"] == "completed", report["reason"]
    assert report["instance_id"].startswith("nod-prod-")


def test_event_for_another_cluster_starts_nothing(run_rehearsal, tmp_path):
    event = (
        (FIXTURES / "eventgrid" / "cluster-support-ending.json").read_text().replace("aks-nod-prod-blue", "aks-other")
    )
    (tmp_path / "other.json").write_text(event)
    report, _ = run_rehearsal(event_file=str(tmp_path / "other.json"))
    assert report["outcome"] == "not_started"
    assert "aks-other" in report["reason"]


def _green_flux(rehearsal):
    suffix = f"/managedClusters/{rehearsal.estate.green_name}/providers/Microsoft.KubernetesConfiguration/".lower()
    return [b for b in rehearsal.emulator.resources() if suffix in b["id"].lower()]


def test_happy_path_brings_blues_applications_to_green_through_flux_before_the_upgrade(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="happy")
    phases = [entry["phase"] for entry in report["timeline"]]
    assert phases.index("populate") < phases.index("upgrade")
    copied = {b["type"].rsplit("/", 1)[-1].lower(): b for b in _green_flux(rehearsal)}
    assert set(copied) == {"extensions", "fluxconfigurations"}
    assert copied["fluxconfigurations"]["properties"]["complianceState"] == "Compliant"
    green_objects = rehearsal.emulator.kubernetes_objects(rehearsal.estate.green_name)
    assert {o["metadata"]["name"] for o in green_objects if o["kind"] == "Deployment"} >= {"frontend", "api"}
    verified = next(e["detail"] for e in report["timeline"] if e["detail"].startswith("green verified"))
    assert "4 workload(s) running on green" in verified


def test_a_flux_configuration_that_never_gets_compliant_fails_the_run_with_blue_live_and_green_gone(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="populate-fails")
    assert report["reason"].startswith("PopulateFailed:") and "authentication required" in report["reason"]
    names = {b["name"] for b in rehearsal.emulator.resources() if "managedclusters" in b["type"].lower()}
    assert rehearsal.estate.green_name not in names
    assert not [e for e in rehearsal.emulator.requests() if is_front_door_write(e)]  # traffic never touched
    assert report["live"]["cluster"] == rehearsal.estate.blue_name


def test_the_teams_pipeline_gets_a_signed_notice_deploys_and_calls_green_ready(run_rehearsal):
    report, rehearsal = run_rehearsal(scenario="pipeline")
    assert report["outcome"] == "completed"
    assert rehearsal.pipeline.refused == 0 and rehearsal.pipeline.notices == []  # one verified notice, acted on
    details = [e["detail"] for e in report["timeline"]]
    assert any(d.startswith("the pipeline deployed to green (deploy-pipeline@example.com)") for d in details)
    assert _green_flux(rehearsal) == []  # the pipeline deployed: nothing was copied through Flux


# ---- least privilege: the app's custom role is exactly what the rehearsals do


def test_the_operator_role_covers_every_arm_operation_of_the_rehearsals_and_nothing_more(run_rehearsal):
    definition = operator_role.role()
    granted = operator_role.granted(definition)
    assert not any("*" in action for action in granted), "no wildcards: every action is named"
    assert definition["NotActions"] == [] and definition["NotDataActions"] == []
    assert not granted & operator_role.CONDITIONED, "role assignments come from the ABAC-conditioned assignment"
    seen: set[str] = set()
    for options in (
        {"scenario": "happy"},
        {"scenario": "error-spike"},
        {"scenario": "gradual"},
        {"scenario": "upgrade-fails"},
        {"scenario": "populate-fails"},
        {"scenario": "pipeline"},
        {"scenario": "happy", "front_door": "classic"},
        {"scenario": "revert"},
    ):
        _report, rehearsal = run_rehearsal(**options)
        seen |= operator_role.actions_seen(rehearsal.emulator.requests())
    uncovered = {a for a in seen if a.lower() not in granted and a.lower() not in operator_role.CONDITIONED}
    assert uncovered == set(), f"the app did this without the role granting it: {sorted(uncovered)}"
    unused = granted - {a.lower() for a in seen} - {a.lower() for a in operator_role.NOT_IN_THE_LOG}
    assert unused == set(), f"the role grants what no rehearsal did: {sorted(unused)}"
    root = Path(__file__).resolve().parents[2]
    for action, (source, needle, _why) in operator_role.NOT_IN_THE_LOG.items():
        assert action.lower() in granted
        assert needle in (root / source).read_text(), f"{action}: {source} no longer does what needs it"
