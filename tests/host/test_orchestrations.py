"""Orchestrations through the real SDK replay: chaining, retry, timers, events, fan-out, sub-orchestrations."""

import time
from datetime import timedelta

import pytest

from tests.host.conftest import MGMT, call, event_types, start

# The SDK warns when it buffers an event raised before the orchestrator waits for it (expected here).
pytestmark = pytest.mark.filterwarnings("ignore:Potential duplicate Task completion")


def test_activity_chaining_returns_each_result_in_order(durable_host):
    iid = start(durable_host, "chain")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    history = durable_host.history(iid)
    scheduled = [e["EventId"] for e in history if e["EventType"] == 4]
    assert scheduled == [0, 1, 2]  # DTFx numbering: the order the tasks were scheduled
    assert all(e["EventId"] == -1 for e in history if e["EventType"] not in (4, 7, 10))
    assert all(e["Timestamp"].endswith("Z") for e in history)


def test_retry_follows_the_hosts_event_sequence_until_success(durable_host):
    iid = start(durable_host, "retrying", {"key": "retry-ok", "succeed_on": 3, "max": 3})
    status = durable_host.wait_for(iid)
    assert status["output"] == "ok after 3 attempts"
    sequence = [
        (e["EventType"], e.get("EventId"), e.get("TaskScheduledId", e.get("TimerId")))
        for e in durable_host.history(iid)
        if e["EventType"] in (4, 5, 6, 10, 11)
    ]
    assert sequence == [
        (4, 0, None),
        (6, -1, 0),
        (10, 1, None),
        (11, -1, 1),
        (4, 2, None),
        (6, -1, 2),
        (10, 3, None),
        (11, -1, 3),
        (4, 4, None),
        (5, -1, 4),
    ]


def test_retry_gives_up_after_max_attempts_and_the_orchestration_fails(durable_host):
    iid = start(durable_host, "retrying", {"key": "retry-never", "succeed_on": 99, "max": 2})
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "attempt 2 failed" in status["output"]
    assert durable_host.module.ATTEMPTS["retry-never"] == 2


def test_retry_timer_honours_the_first_retry_interval(durable_host):
    iid = start(durable_host, "retrying", {"key": "retry-interval", "succeed_on": 2, "max": 2})
    durable_host.wait_for(iid)
    history = durable_host.history(iid)
    failed_at = next(e["Timestamp"] for e in history if e["EventType"] == 10)
    fire_at = next(e["FireAt"] for e in history if e["EventType"] == 10)
    from local.functions_host.history import parse_time

    assert parse_time(fire_at) - parse_time(failed_at) == timedelta(seconds=1)


def test_timer_wins_when_no_event_arrives(durable_host):
    iid = start(durable_host, "approval")
    status = durable_host.wait_for(iid)
    assert status["output"]["approved"] is None
    assert "TimerFired" in event_types(durable_host, iid)


def test_event_wins_over_the_timer_and_the_timer_is_cancelled(make_host):
    host = make_host()
    # The id is known before the start, so the hook can never miss the instance (no race with start()).
    started: dict = {"id": "approval-race"}

    def approve() -> bool:
        iid = started.get("id")
        if iid is None or started.get("sent") or "TimerCreated" not in event_types(host, iid):
            return False
        started["sent"] = True
        url = f"{host.base_url}{MGMT}/instances/{iid}/raiseEvent/Approval"
        return call("POST", url, {"by": "alice"})[0] == 202

    host.add_idle_hook(approve)
    start(host, "approval", instance_id=started["id"])
    status = host.wait_for(started["id"])
    assert status["output"] == {"approved": {"by": "alice"}}
    assert "TimerFired" not in event_types(host, started["id"])
    assert host.pending_timers() == 0


def test_event_raised_before_the_orchestrator_waits_is_buffered(make_host):
    host = make_host()
    state: dict = {"id": "early-bird"}  # known before the start: the hook cannot race start()

    def raise_early() -> bool:
        iid = state.get("id")
        if iid is None or state.get("sent") or "TimerCreated" not in event_types(host, iid):
            return False
        state["sent"] = True
        call("POST", f"{host.base_url}{MGMT}/instances/{iid}/raiseEvent/Early", {"x": 1})
        return True

    host.add_idle_hook(raise_early)
    start(host, "early_event", instance_id=state["id"])
    status = host.wait_for(state["id"])
    assert status["output"] == {"got": {"x": 1}}
    types = event_types(host, state["id"])
    assert types.index("EventRaised") < types.index("TimerFired")


def test_fan_out_runs_every_activity_and_sums(durable_host):
    iid = start(durable_host, "fan_out", {"n": 6})
    assert durable_host.wait_for(iid)["output"] == sum(n * n for n in range(6))
    assert [durable_host.module.CALLS[f"square:{n}"] >= 1 for n in range(6)] == [True] * 6


def test_sub_orchestrations_return_their_output_to_the_parent(durable_host):
    iid = start(durable_host, "parent", instance_id="family")
    status = durable_host.wait_for(iid)
    assert status["output"] == {"child": ["Hello Tokyo!", "Hello Seattle!", "Hello London!"], "fan_out": 14}
    child = durable_host.get_status("family-child")
    assert child["runtimeStatus"] == "Completed"
    assert durable_host.get_status("family:1")["name"] == "fan_out"  # default child id: parent:taskId


def test_continue_as_new_restarts_with_new_input_and_fresh_history(durable_host):
    iid = start(durable_host, "counter")
    status = durable_host.wait_for(iid)
    assert status["output"] == {"n": 3, "seen": [0, 1, 4]}
    types = event_types(durable_host, iid)
    assert types.count("ExecutionStarted") == 1  # the history was reset on each continue_as_new
    assert "TaskScheduled" not in types


def test_twenty_four_hour_timer_on_the_virtual_clock_takes_no_wall_time(durable_host):
    before = durable_host.clock.now()
    wall = time.perf_counter()
    iid = start(durable_host, "sleeper", {"hours": 24})
    status = durable_host.wait_for(iid)
    elapsed = time.perf_counter() - wall
    assert status["output"] == 24.0
    assert durable_host.clock.now() - before >= timedelta(hours=24)
    print(f"24h durable timer on the virtual clock: {elapsed * 1000:.1f} ms wall")


def test_long_timer_is_split_into_segments_and_still_ends_on_time(durable_host):
    iid = start(durable_host, "sleeper", {"hours": 24 * 8})
    assert durable_host.wait_for(iid)["output"] == 192.0
    from local.functions_host.history import parse_time

    created = [e for e in durable_host.history(iid) if e["EventType"] == 10]
    # Longer than maximumShortTimerDuration (6 days): a 3-day segment, then the remaining 5 days.
    assert len(created) == 2
    assert parse_time(created[0]["FireAt"]) - parse_time(created[0]["Timestamp"]) == timedelta(days=3)


def test_orchestrator_that_raises_ends_failed_with_its_error(durable_host):
    iid = start(durable_host, "failing")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "boom in orchestrator"


def test_unhandled_activity_failure_fails_the_orchestration(durable_host):
    iid = start(durable_host, "failing_activity")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "Activity function 'explode' failed: cannot handle this" in status["output"]


def test_activity_failure_can_be_caught_by_the_orchestrator(durable_host):
    iid = start(durable_host, "catches")
    assert durable_host.wait_for(iid)["output"] == {"caught": True}


def test_idle_hook_runs_before_the_clock_jumps(make_host):
    host = make_host()
    seen = []
    begin = host.clock.now()
    host.add_idle_hook(lambda: seen.append((host.clock.now(), host.pending_timers())) and False)
    iid = start(host, "sleeper", {"hours": 2})
    host.wait_for(iid)
    # It ran while the 2-hour timer was pending and before time moved to it.
    assert any(pending == 1 and now < begin + timedelta(hours=2) for now, pending in seen), seen
