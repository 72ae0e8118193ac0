"""A gradual switch (`switch.mode = "gradual"`) and edge convergence, on the scripted Azure.

Each step below 100% moves origin weights (blue's first, then green on at blue's priority), waits for
Front Door to report it deployed, measures until the edge carries it, and analyses green against blue
for `step_minutes`. The last step is the make-before-break of an all-at-once switch. A failing step,
a Rollback or an Abort at any step routes every group back to blue. The scripted Front Door serves a
write at the edge `edge_delay` (3 min) after it: the convergence the run reports.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bluegreen import contract
from bluegreen.config import Analysis, Convergence, Switch
from tests.orchestration.conftest import (
    BLUE_ORIGIN,
    GREEN_ORIGIN,
    GROUP,
    UpgradeRun,
    abort,
    children_named,
    notes,
    rollback,
    straight_to_the_switch,
)

pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion:UserWarning")

Outcome, Trigger = contract.Outcome, contract.RollbackTrigger
GRADUAL = Switch(mode="gradual", steps=[10, 50, 100], step_minutes=5)
GROUPS = (GROUP, "og-nod-api", "og-nod-static")


def gradual(upgrade: UpgradeRun, switch: Switch = GRADUAL, groups: tuple[str, ...] = (GROUP,)) -> None:
    straight_to_the_switch(upgrade, switch=switch)
    if groups != (GROUP,):
        plan = upgrade.azure.plan
        pairs = [contract.OriginPair(group=g, blue=BLUE_ORIGIN, green=GREEN_ORIGIN) for g in groups]
        upgrade.azure.plan = plan.model_copy(update={"traffic": plan.traffic.model_copy(update={"groups": pairs})})
        upgrade.azure.front_door.enabled = {g: {BLUE_ORIGIN: True, GREEN_ORIGIN: False} for g in groups}


def weight_writes(upgrade: UpgradeRun) -> list[tuple[str, str, bool, int | None]]:
    """(group, origin, enabled after, weight after) per Front Door write, in order."""
    fd = upgrade.azure.front_door
    return [(w.group, w.origin, w.origin in w.enabled_after, fd.weights.get((w.group, w.origin))) for w in fd.writes]


def assert_every_group_serving_only(upgrade: UpgradeRun, origin: str, groups: tuple[str, ...]) -> None:
    fd = upgrade.azure.front_door
    assert {g: fd.live(g) for g in groups} == {g: [origin] for g in groups}
    assert fd.dark_writes() == []


def test_a_gradual_switch_goes_through_every_step_with_analysis_and_reports_when_the_edge_moved(upgrade):
    gradual(upgrade)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert output.live == upgrade.azure.plan.green.name
    writes = [(origin, enabled) for _, origin, enabled, _ in weight_writes(upgrade)]
    # 10%: blue down to 900 first (green still off: nothing moves), then green on at 100; 50%: 500/500;
    # 100%: blue's origin disabled once green's is deployed.
    assert writes == [
        (BLUE_ORIGIN, True),
        (GREEN_ORIGIN, True),
        (BLUE_ORIGIN, True),
        (GREEN_ORIGIN, True),
        (BLUE_ORIGIN, False),
    ]
    fd = upgrade.azure.front_door
    assert (fd.weights[(GROUP, BLUE_ORIGIN)], fd.weights[(GROUP, GREEN_ORIGIN)]) == (500, 500)
    assert fd.priorities[(GROUP, GREEN_ORIGIN)] == 1  # blue's (never set: Front Door's 1)
    assert_every_group_serving_only(upgrade, GREEN_ORIGIN, (GROUP,))
    # One analysis per step below 100, each over the step's 5 minutes, green judged against blue.
    analyses = children_named(upgrade, "step_analysis")
    assert [contract.StepResult.model_validate(a["output"]).verdict for a in analyses] == ["pass", "pass"]
    results = [contract.StepResult.model_validate(a["output"]) for a in analyses]
    assert [(r.percent, r.elapsed_minutes) for r in results] == [(10, 5), (50, 5)]
    # Each step is analysed from Front Door's deployed report on (1.5 min after the write), while the edge
    # still converges (3 min): its first interval carries the share of the step before, the other four its own.
    assert results[0].green.requests == 0 + 4 * 100
    assert results[1].green.requests == 100 + 4 * 500
    assert results[0].blue.requests == 5 * 1000 - results[0].green.requests
    # The edge carries each change 3 minutes after it (the scripted edge_delay), and the output says so.
    # Front Door reports a write deployed after 45 s, which its watch sees at its 90 s read; from there the
    # share is measured once a minute: at 1.5, 2.5, 3.5 min, the first after the edge (3 min) has it.
    moves = output.traffic_moves
    assert [(m.intended_green, m.converged, m.minutes) for m in moves] == [
        (0.1, True, 3.5),
        (0.5, True, 3.5),
        (1.0, True, 3.5),
    ]
    assert "10% on green 3.5 min after the change (intended 10% on green)" in notes(output)
    assert "100% on green 3.5 min after the change (intended 100% on green)" in notes(output)


@pytest.mark.parametrize("percent", [10, 50])
def test_errors_at_a_step_roll_every_group_back_to_blue_with_trigger_analysis(upgrade, percent):
    gradual(upgrade, groups=GROUPS)
    upgrade.azure.spike_at_percent = percent
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.rollback is not None and output.rollback.trigger == Trigger.ANALYSIS
    # Green's share reaches the step at the edge 3 min after the write, in the step's second interval.
    assert output.rollback.detail.startswith(f"at {percent}% after 2 min: green's 5xx share 25.0%")
    assert output.reason is not None and output.reason.startswith(f"analysis failed at {percent}%")
    assert len(children_named(upgrade, "step_analysis")) == [10, 50].index(percent) + 1
    assert output.live == upgrade.azure.plan.blue.name
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, GROUPS)
    # Blue's weight back to full in every group: the next run starts from an ordinary Front Door.
    fd = upgrade.azure.front_door
    assert {fd.weights[(g, BLUE_ORIGIN)] for g in GROUPS} == {1000}
    # The time until blue carried the traffic again, from the rollback on.
    assert output.rollback.blue_back_after_minutes is not None and 3 <= output.rollback.blue_back_after_minutes < 5
    assert output.rollback.blue_share == 1.0
    assert output.traffic_moves[-1].toward == "blue"


def test_a_step_with_too_little_traffic_on_green_is_extended_then_fails(upgrade):
    starved = GRADUAL.model_copy(update={"analysis": Analysis(min_requests=10**6)})
    gradual(upgrade, switch=starved)
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.rollback is not None and output.rollback.trigger == Trigger.ANALYSIS
    assert "too little traffic on green to judge" in output.rollback.detail
    (analysis,) = children_named(upgrade, "step_analysis")
    assert contract.StepResult.model_validate(analysis["output"]).elapsed_minutes == 10  # twice the step
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, (GROUP,))


@pytest.mark.parametrize("nth", [1, 2], ids=["at 10%", "at 50%"])
def test_a_manual_rollback_at_any_step_routes_back(upgrade, nth):
    gradual(upgrade, groups=GROUPS)
    upgrade.during("measure_comparison", lambda: upgrade.raise_event("Rollback", rollback()), nth=1 + 5 * (nth - 1))
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.rollback is not None and output.rollback.trigger == Trigger.MANUAL
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, GROUPS)
    assert len(children_named(upgrade, "step_analysis")) == nth


def test_an_alert_while_a_step_is_being_deployed_routes_back(upgrade):
    gradual(upgrade)
    upgrade.during("set_origin_weights", lambda: upgrade.raise_event("Rollback", rollback("alert")), nth=1)
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert output.rollback is not None and output.rollback.trigger == Trigger.ALERT
    assert children_named(upgrade, "step_analysis") == []
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, (GROUP,))


def test_an_abort_during_a_gradual_step_routes_back_and_ends_aborted(upgrade):
    gradual(upgrade)
    upgrade.during("measure_comparison", lambda: upgrade.raise_event("Abort", abort()), nth=2)
    output = upgrade.run()
    assert output.outcome == Outcome.ABORTED
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, (GROUP,))


def test_an_edge_that_does_not_converge_in_time_is_reported_and_the_run_goes_on(upgrade):
    straight_to_the_switch(upgrade, switch=Switch(convergence=Convergence(timeout_minutes=10)))
    upgrade.azure.front_door.edge_delay = timedelta(minutes=40)
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    (move,) = output.traffic_moves
    assert (move.converged, move.minutes, move.observed_green) == (False, None, 0.0)
    assert any(n.startswith("the edge had not converged 10 min after the change: 0% on green") for n in notes(output))


def test_without_convergence_the_switch_measures_nothing(upgrade):
    straight_to_the_switch(upgrade, switch=Switch(convergence=Convergence(enabled=False)))
    output = upgrade.run()
    assert output.outcome == Outcome.COMPLETED
    assert output.traffic_moves == []
    assert upgrade.azure.calls["measure_traffic_share"] == 0


def test_a_convergence_cut_short_by_a_rollback_ends_at_the_next_minute_not_at_its_deadline(upgrade):
    gradual(upgrade)
    upgrade.azure.front_door.edge_delay = timedelta(minutes=25)  # the 10% step would take 25 min to be served
    upgrade.during("measure_traffic_share", lambda: upgrade.raise_event("Rollback", rollback()), nth=2)
    output = upgrade.run()
    assert output.outcome == Outcome.ROLLED_BACK
    assert_every_group_serving_only(upgrade, BLUE_ORIGIN, (GROUP,))
    first = contract.ConvergenceResult.model_validate(children_named(upgrade, "edge_convergence")[0]["output"])
    # Front Door no longer intends 10% on green once the rollback wrote: the watch ends at its next reading, not
    # at its 30-minute deadline (the run waits for it before it ends).
    assert (first.converged, first.superseded) == (False, True) and first.minutes < 10
