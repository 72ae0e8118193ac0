"""Pure rules the orchestrator routes on."""

import pytest

from bluegreen.contract import BakeVerdict, GroupState, OriginState, VerificationReport
from bluegreen.decisions import assess_error_rate, derived_cluster_name, verification_problems
from bluegreen.errors import PermanentError
from bluegreen.routing import SwitchStep, live_slot, next_switch_step


@pytest.mark.parametrize(
    ("requests", "errors", "verdict"),
    [
        (1000, 0, BakeVerdict.HEALTHY),
        (1000, 50, BakeVerdict.HEALTHY),
        (1000, 51, BakeVerdict.SPIKE),
        (10, 10, BakeVerdict.TOO_LITTLE_TRAFFIC),
        (0, 0, BakeVerdict.TOO_LITTLE_TRAFFIC),
    ],
)
def test_spike_means_above_threshold_on_enough_requests(requests, errors, verdict):
    assert assess_error_rate(requests, errors, max_error_rate=0.05, min_requests=20) == verdict


def _state(blue=(True, True), green=(False, True)):
    return GroupState(
        group="og",
        origins=[
            OriginState(key="blue", host="b.example", enabled=blue[0], priority=1, weight=1000, deployed=blue[1]),
            OriginState(key="green", host="g.example", enabled=green[0], priority=1, weight=1000, deployed=green[1]),
        ],
    )


def test_make_before_break_sequence_never_leaves_zero_enabled():
    state = _state()
    assert next_switch_step(state, "green", "blue") == SwitchStep.ENABLE_TARGET
    state = _state(green=(True, False))
    assert next_switch_step(state, "green", "blue") == SwitchStep.WAIT_FOR_DEPLOYMENT
    state = _state(green=(True, True))
    assert next_switch_step(state, "green", "blue") == SwitchStep.DISABLE_OTHER
    state = _state(blue=(False, True), green=(True, True))
    assert next_switch_step(state, "green", "blue") == SwitchStep.DONE


def test_rollback_is_the_same_rule_towards_blue():
    after_switch = _state(blue=(False, True), green=(True, True))
    assert next_switch_step(after_switch, "blue", "green") == SwitchStep.ENABLE_TARGET


def test_live_slot_is_the_position_of_the_only_enabled_origin():
    assert live_slot(_state(), ["blue", "green"]) == 0
    assert live_slot(_state(blue=(False, True), green=(True, True)), ["blue", "green"]) == 1
    with pytest.raises(PermanentError, match="did not finish"):
        live_slot(_state(green=(True, True)), ["blue", "green"])
    with pytest.raises(PermanentError, match="no origin"):
        live_slot(_state(blue=(False, True)), ["blue", "green"])
    with pytest.raises(PermanentError, match="has no origin 'purple'"):
        live_slot(_state(), ["blue", "purple"])


def test_derived_green_name_is_stable_per_run_and_differs_between_runs():
    assert derived_cluster_name("nod-prod", "run-1") == derived_cluster_name("nod-prod", "run-1")
    assert derived_cluster_name("nod-prod", "run-1") != derived_cluster_name("nod-prod", "run-2")
    assert len(derived_cluster_name("x" * 80, "r")) <= 63


def test_verification_problems_name_what_is_wrong():
    ready = {
        "cluster": {
            "provisioning_state": "Succeeded",
            "power_state": "Running",
            "version": "1.34.2",
            "pools": {"system": "1.34.2", "user": "1.34.2"},
        },
        "nodes": {"total": 3, "ready": 3, "versions": {"v1.34.2": 3}},
        "deployments": {"total": 2, "available": 2, "unavailable": []},
        "origins": {"og": {"key": "green", "host": "green.example", "enabled": False, "deployed": True}},
        "smoke": {"url": "https://green.example/healthz", "status": 200, "expected": 200, "ok": True},
    }
    assert verification_problems(VerificationReport.model_validate(ready), "1.34.2") == []
    broken = {
        **ready,
        "deployments": {"total": 2, "available": 1, "unavailable": ["web/api 0/2"]},
        "cluster": {**ready["cluster"], "pools": {"system": "1.34.2", "user": "1.33.6"}},
    }
    broken["nodes"] = {"total": 3, "ready": 3, "versions": {"v1.34.2": 2, "v1.33.6": 1}}
    problems = verification_problems(VerificationReport.model_validate(broken), "1.34.2")
    assert any("1 at v1.33.6" in p for p in problems)
    assert any("web/api" in p for p in problems)
    assert any("user" in p for p in problems)
