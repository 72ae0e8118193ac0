"""Sub-orchestrations: a retried child, a child that continues as new, and history counts per run tree."""

from datetime import timedelta

from local.functions_host.history import T, parse_time, type_name
from tests.host.conftest import start

SUB_AND_TIMER = (
    T.SUB_ORCHESTRATION_INSTANCE_CREATED,
    T.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
    T.SUB_ORCHESTRATION_INSTANCE_FAILED,
    T.TIMER_CREATED,
    T.TIMER_FIRED,
)


def _sequence(history):
    """(type, EventId, the id it answers) for sub-orchestration and timer events, in history order."""
    return [
        (type_name(e), e["EventId"], e.get("TaskScheduledId", e.get("TimerId")))
        for e in history
        if e["EventType"] in SUB_AND_TIMER
    ]


def _visible_events(host, instance_ids):
    """Events the instances' current executions hold, i.e. what history() can still show."""
    return [len(host.history(iid)) for iid in instance_ids]


def test_sub_orchestration_retry_fails_waits_and_recreates_the_child(durable_host):
    options = {"key": "sub-retry-sequence", "succeed_on": 2, "max": 3}
    iid = start(durable_host, "retrying_parent", options, instance_id="retry-parent")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "child ok on attempt 2"
    history = durable_host.history(iid)
    # As DTFx does for an activity retry: failure, a retry timer, then the call again with the next ids.
    assert _sequence(history) == [
        ("SubOrchestrationInstanceCreated", 0, None),
        ("SubOrchestrationInstanceFailed", -1, 0),
        ("TimerCreated", 1, None),
        ("TimerFired", -1, 1),
        ("SubOrchestrationInstanceCreated", 2, None),
        ("SubOrchestrationInstanceCompleted", -1, 2),
    ]
    created = [e["InstanceId"] for e in history if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_CREATED]
    assert created == ["sub_retry-parent_0", "sub_retry-parent_0"]  # the retry reuses the explicit id
    failure = next(e for e in history if e["EventType"] == T.SUB_ORCHESTRATION_INSTANCE_FAILED)
    assert "child attempt 1 failed" in failure["Details"]
    timer = next(e for e in history if e["EventType"] == T.TIMER_CREATED)
    assert parse_time(timer["FireAt"]) - parse_time(timer["Timestamp"]) == timedelta(seconds=1)
    assert durable_host.get_status("sub_retry-parent_0")["runtimeStatus"] == "Completed"


def test_sub_orchestration_retry_gives_up_after_max_attempts(durable_host):
    options = {"key": "sub-retry-never", "succeed_on": 99, "max": 2}
    iid = start(durable_host, "retrying_parent", options, instance_id="retry-never-parent")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Failed"
    assert "child attempt 2 failed" in status["output"]
    assert durable_host.module.ATTEMPTS["sub-retry-never"] == 2


def test_history_counts_include_the_failed_attempt_of_a_retried_child(durable_host):
    options = {"key": "sub-retry-counts", "succeed_on": 2, "max": 3}
    iid = start(durable_host, "retrying_parent", options, instance_id="retry-counts")
    durable_host.wait_for(iid)
    parent_events, child_events = _visible_events(durable_host, [iid, "sub_retry-counts_0"])
    counts = durable_host.history_counts(iid)
    # Both attempts of the child run the same steps (one activity, then raise or return), so the
    # failed one, whose history the re-creation cleared, wrote as many events as the one still shown.
    assert counts == {
        "instances": 2,
        "events": parent_events + 2 * child_events,
        "max_instance": max(parent_events, child_events),
    }


def test_child_that_continues_as_new_returns_its_final_output_to_the_parent(durable_host):
    iid = start(durable_host, "countdown_parent", {"left": 3}, instance_id="countdown")
    status = durable_host.wait_for(iid)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == [9, 9, 9, 4, 4, 1]
    child = "sub_countdown_0"
    assert durable_host.get_status(child)["runtimeStatus"] == "Completed"
    assert [type_name(e) for e in durable_host.history(child)].count("ExecutionStarted") == 1


def test_history_counts_span_every_execution_of_a_child_that_continues_as_new(durable_host):
    iid = start(durable_host, "countdown_parent", {"left": 3}, instance_id="countdown-counts")
    durable_host.wait_for(iid)
    counts = durable_host.history_counts(iid)
    # Child execution with left=k>0: 4 events for the first episode, 4 per later activity, 2 for the
    # last (its continue_as_new clears the history): 4k + 2, so 14, 10, 6; left=0 writes 4. Parent: 8.
    assert counts == {"instances": 2, "events": 14 + 10 + 6 + 4 + 8, "max_instance": 14}
    visible = _visible_events(durable_host, [iid, "sub_countdown-counts_0"])
    assert counts["max_instance"] > max(visible)  # the longest execution was one continue_as_new cleared
    assert counts["max_instance"] < counts["events"]


def test_history_counts_of_a_parent_with_two_children_count_three_instances(durable_host):
    start(durable_host, "chain", instance_id="unrelated")  # another tree in the same store
    durable_host.wait_for("unrelated")
    iid = start(durable_host, "two_children", instance_id="twins")
    assert durable_host.wait_for(iid)["output"] == {
        "greetings": ["Hello Tokyo!", "Hello Seattle!", "Hello London!"],
        "total": 5,
    }
    visible = _visible_events(durable_host, [iid, "sub_twins_0", "sub_twins_1"])
    # Nobody continued as new or retried: the counters equal the histories still stored.
    assert durable_host.history_counts(iid) == {"instances": 3, "events": sum(visible), "max_instance": max(visible)}
    assert durable_host.history_counts("sub_twins_1")["instances"] == 1  # a child's tree is only its own


def test_history_counts_reach_grandchildren(durable_host):
    iid = start(durable_host, "grandparent", instance_id="elder")
    durable_host.wait_for(iid)
    middle = durable_host.history_counts("sub_elder_0")
    counts = durable_host.history_counts(iid)
    assert middle["instances"] == 3
    assert counts["instances"] == 4
    assert counts["events"] == middle["events"] + len(durable_host.history(iid))


def test_history_counts_of_an_unknown_instance_are_zero(durable_host):
    assert durable_host.history_counts("nobody") == {"instances": 0, "events": 0, "max_instance": 0}
