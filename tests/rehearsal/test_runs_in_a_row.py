"""Ten runs in a row on one environment, any mix of outcomes, with the default configuration.

Every run drives the Function App through its own doors on the local host and the emulated Azure; the
rehearsal's configuration leaves retire.retain_hours and retire.reclaim_slot at their defaults.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.rehearsal.driver import Options, Rehearsal
from local.rehearsal.invariants import violations
from local.rehearsal.report import build_report
from tests.rehearsal.sequences import (
    BYSTANDER,
    OTHER_ENVIRONMENT,
    cluster_deletes,
    clusters,
    environment,
    notes,
    output,
    seed_bystanders,
)

# ---- ten runs in a row


# Upgrades go one minor up (blue runs 1.31): the same runbook as three hops, for a third of the time.
SEQUENCE = (
    ("happy@1.32", "completed"),
    ("revert", "completed"),
    ("error-spike@1.32", "rolled_back"),
    ("verify-fails@1.32", "failed"),
    ("happy@1.32", "completed"),
    ("revert", "completed"),
    ("reject@1.32", "rejected"),
    ("happy@1.32", "completed"),
    ("revert", "completed"),
    ("happy@1.32", "completed"),
)


@pytest.fixture(scope="module")
def ten_runs():
    reports: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []

    def after_each(rehearsal: Rehearsal, result: dict[str, Any]) -> None:
        assert rehearsal.emulator is not None
        report = build_report(result["step"], result, rehearsal.emulator, rehearsal.estate, result["alert_sent_wall"])
        report["violations"] = violations(report, rehearsal)
        reports.append(report)
        statuses.append(environment(rehearsal))

    rehearsal = Rehearsal(
        Options(
            sequence=tuple(step for step, _ in SEQUENCE),
            before=seed_bystanders,
            after_each=after_each,
            wall_timeout=300,
        )
    )
    rehearsal.run()
    yield rehearsal, rehearsal.results, reports, statuses
    assert rehearsal.emulator is not None
    rehearsal.emulator.stop()


def test_ten_runs_in_a_row_each_start_and_end_cleanly_with_the_default_configuration(ten_runs):
    _, results, reports, _ = ten_runs
    assert [(r["step"], report["outcome"]) for r, report in zip(results, reports, strict=True)] == [
        (step.partition("@")[0], outcome) for step, outcome in SEQUENCE
    ]
    for step, report in zip(SEQUENCE, reports, strict=True):
        assert report["violations"] == [], (step, report["violations"])
        assert report["runtime_status"] == "Completed" and report["api"]["outcome"] == report["outcome"]


def test_every_run_after_one_that_retained_a_cluster_reclaims_the_slot_first(ten_runs):
    _, results, _, _ = ten_runs
    reclaimed = [i for i, r in enumerate(results) if any(n.startswith("reclaiming the idle slot") for n in notes(r))]
    # Upgrades that found the idle slot holding a retained cluster: after the first revert (the cluster it
    # reverted from), after the rollback (green, stopped), after the second and third reverts.
    assert reclaimed == [2, 3, 6, 9]
    for i in reclaimed:
        deleting = next(n for n in notes(results[i]) if n.startswith("reclaiming the idle slot"))
        assert "retained until" in deleting
        assert any(n.endswith("deleted: the idle slot is free") for n in notes(results[i]))


def test_no_cluster_is_ever_deleted_that_the_environment_did_not_create_or_retire(ten_runs):
    rehearsal, _, _, _ = ten_runs
    estate = rehearsal.estate
    assert set(cluster_deletes(rehearsal)) <= {estate.blue_name, estate.green_name}
    left = clusters(rehearsal)
    assert left[BYSTANDER]["tags"] == {"team": "platform"}
    assert left[OTHER_ENVIRONMENT]["tags"]["bluegreen-environment"] == "shop"  # expired, but not ours


def test_the_environment_status_follows_every_run(ten_runs):
    rehearsal, results, _, statuses = ten_runs
    estate = rehearsal.estate
    for result, status in zip(results, statuses, strict=True):
        out = output(result)
        assert status["live"]["name"] == out["live"]
        assert status["active_run"] is None
        assert status["runs"][0]["id"] == out["instance_id"] and status["runs"][0]["kind"] == out["kind"]
    final = statuses[-1]
    assert len(final["runs"]) == 10 and [r["outcome"] for r in final["runs"]][::-1] == [o for _, o in SEQUENCE]
    # The last run completed: the cluster it retired waits in the idle slot, revertible until its time is up.
    idle = final["idle"]
    assert idle["state"] == "retained" and idle["power_state"] == "Stopped" and final["can_revert"] is True
    assert idle["name"] in (estate.blue_name, estate.green_name) and idle["name"] != final["live"]["name"]
    assert final["next_deletion"]["cluster_id"] == idle["cluster_id"]
    retired = output(results[-1])["left_behind"]
    assert [(c["name"], c["state"], c["retained_until"]) for c in retired] == [
        (idle["name"], "stopped", idle["retained"]["retained_until"])
    ]


def test_a_run_after_a_rollback_reclaims_the_green_it_rolled_back_from(ten_runs):
    _, results, _, statuses = ten_runs
    after_rollback = statuses[2]["idle"]
    assert after_rollback["state"] == "retained" and after_rollback["retained"]["retired_as"] == "rolled-back"
    assert any(f"deleting {after_rollback['name']} (rolled-back by" in n for n in notes(results[3]))
