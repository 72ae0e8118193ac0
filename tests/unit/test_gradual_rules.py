"""The pure rules of a gradual switch (`bluegreen/gradual.py`) and the `[environment.switch]` settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bluegreen import gradual
from bluegreen.config import Analysis, Switch
from bluegreen.contract import GroupState, OriginPair, OriginSettings, OriginState, SideMetrics

PAIR = OriginPair(group="og-web", blue="blue", green="green")


def state(blue: dict, green: dict) -> GroupState:
    def origin(key: str, fields: dict) -> OriginState:
        return OriginState(key=key, host=f"{key}.example", deployed=True, **fields)

    return GroupState(group="og-web", origins=[origin("blue", blue), origin("green", green)])


@pytest.mark.parametrize(("percent", "weights"), [(1, (990, 10)), (10, (900, 100)), (50, (500, 500)), (99, (10, 990))])
def test_a_step_splits_1000_by_its_percent(percent, weights):
    assert gradual.step_weights(percent) == weights


@pytest.mark.parametrize("percent", [0, 100])
def test_0_and_100_are_not_weights(percent):
    with pytest.raises(ValueError):
        gradual.step_weights(percent)


def test_the_first_step_lowers_blue_before_it_enables_green_at_blues_priority():
    changes = gradual.step_changes(state({"enabled": True, "priority": 2}, {"enabled": False, "priority": 5}), PAIR, 10)
    assert changes == [
        ("blue", OriginSettings(enabled=True, weight=900)),
        ("green", OriginSettings(enabled=True, weight=100, priority=2)),
    ]


def test_a_group_already_at_the_step_needs_no_write():
    at_step = state({"enabled": True, "weight": 500}, {"enabled": True, "weight": 500, "priority": 1})
    assert gradual.step_changes(at_step, PAIR, 50) == []


def test_nothing_a_step_writes_disables_an_origin():
    for percent in (1, 10, 50, 99):
        for _, settings in gradual.step_changes(state({"enabled": True}, {"enabled": False}), PAIR, percent):
            assert settings.enabled is True


def test_green_fails_on_its_own_error_rate_and_against_blue():
    analysis = Analysis(max_error_rate=0.05, max_error_rate_increase=0.02)
    blue = SideMetrics(requests=1000, errors=2)
    assert gradual.failing(SideMetrics(requests=100, errors=1), blue, analysis) is None
    assert "above 5.0%" in (gradual.failing(SideMetrics(requests=100, errors=6), blue, analysis) or "")
    # 4% is under the absolute limit, but 3.8 points above blue's 0.2%.
    assert "above blue's" in (gradual.failing(SideMetrics(requests=100, errors=4), blue, analysis) or "")


def test_latency_limits_apply_only_when_set():
    green, blue = SideMetrics(requests=100, latency_ms=90.0), SideMetrics(requests=900, latency_ms=30.0)
    assert gradual.failing(green, blue, Analysis()) is None
    assert "above 80 ms" in (gradual.failing(green, blue, Analysis(max_latency_ms=80)) or "")
    assert "2x blue's" in (gradual.failing(green, blue, Analysis(max_latency_ratio=2)) or "")


def test_convergence_needs_every_group_within_the_tolerance_on_enough_requests():
    assert gradual.converged([(96, 904), (104, 896)], 0.1, 0.05, 20)
    assert not gradual.converged([(96, 904), (300, 700)], 0.1, 0.05, 20)  # one group lags
    assert not gradual.converged([(1, 9)], 0.1, 0.05, 20)  # 10 requests tell nothing
    assert not gradual.converged([], 0.1, 0.05, 20)


@pytest.mark.parametrize(
    ("steps", "message"),
    [([10, 50], "must end at 100"), ([50, 10, 100], "must increase"), ([0, 100], "between 1 and 100")],
)
def test_bad_steps_are_refused_naming_the_field(steps, message):
    with pytest.raises(ValidationError, match=message):
        Switch(mode="gradual", steps=steps)


def test_the_analysis_interval_fits_in_a_step():
    with pytest.raises(ValidationError, match="interval_minutes"):
        Switch(step_minutes=2, analysis=Analysis(interval_minutes=5))


def test_the_configured_share_follows_enabled_states_priorities_and_weights():
    share = gradual.configured_share
    assert share(state({"enabled": True}, {"enabled": False}), PAIR) == 0.0
    assert share(state({"enabled": False}, {"enabled": True}), PAIR) == 1.0
    assert share(state({"enabled": True}, {"enabled": True}), PAIR) == 0.5  # unset weights: 50 each
    assert share(state({"enabled": True, "weight": 900}, {"enabled": True, "weight": 100}), PAIR) == 0.1
    assert share(state({"enabled": True, "priority": 1}, {"enabled": True, "priority": 2}), PAIR) == 0.0
