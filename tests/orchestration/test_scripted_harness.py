"""The scripted harness itself: what these tests rely on it getting right, beyond the runbook."""

from __future__ import annotations

from local.functions_host.scripted import ScriptedRun
from tests.orchestration import racing_app


def test_an_ended_executions_activity_result_never_reaches_the_next_execution():
    harness = ScriptedRun(app=racing_app, script=lambda name, payload: f"answer to execution {payload}")
    harness.start("racer", "racer-1", 0)
    harness.raise_event("racer-1", "restart", {})  # wins the race before the first activity answers
    harness.run()
    status = harness.status("racer-1")
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "answer to execution 1")
    # The first execution's activity still ran (at least once, as on Azure); only its result was dropped.
    assert [(call.name, call.payload) for call in harness.calls] == [("echo", 0), ("echo", 1)]
