"""A host killed at any moment: a new host on the same SQLite file finishes every unfinished instance."""

import threading

from local.functions_host.app_index import load_app
from tests.host.conftest import APPS, event_types, start


def _lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_killed_after_first_activity_resumes_without_rerunning_it(make_host, tmp_path):
    db, side = tmp_path / "state.db", tmp_path / "side.txt"
    reached, release = threading.Event(), threading.Event()
    first = make_host("crash_app.py", state=str(db))
    state: dict = {"id": "crash-after-step-1"}  # known before the start: the hook cannot race start()

    def hold_before_the_timer_jump() -> bool:
        iid = state.get("id")
        if iid and "TimerCreated" in event_types(first, iid):
            reached.set()
            release.wait(timeout=10)
        return False

    first.add_idle_hook(hold_before_the_timer_jump)
    start(first, "three_steps", {"file": str(side), "block": False}, instance_id=state["id"])
    assert reached.wait(timeout=10), "never reached the point after step 1"
    first.kill()
    release.set()
    assert _lines(side) == ["step-1"]

    second = make_host("crash_app.py", state=str(db))
    status = second.wait_for(state["id"])
    assert status["output"] == ["done 1", "done 2", "done 3"]
    assert sorted(_lines(side)) == ["step-1", "step-2", "step-3"]  # each completed activity ran once


def test_killed_while_an_activity_runs_reruns_only_that_activity(make_host, tmp_path):
    db, side = tmp_path / "state.db", tmp_path / "side.txt"
    app = load_app(APPS / "crash_app.py").module
    app.GATE.clear()
    app.IN_STEP_TWO.clear()
    first = make_host("crash_app.py", state=str(db))
    iid = start(first, "three_steps", {"file": str(side), "block": True})
    assert app.IN_STEP_TWO.wait(timeout=10), "step 2 never started"
    first.kill()

    second = make_host("crash_app.py", state=str(db))
    assert second.get_status(iid)["runtimeStatus"] == "Running"
    app.GATE.set()  # both the dead host's thread and the new one finish step 2
    status = second.wait_for(iid)
    assert status["output"] == ["done 1", "done 2", "done 3"]
    lines = _lines(side)
    # At-least-once, as on Azure: the in-flight activity ran again; the completed ones did not.
    assert lines.count("step-1") == 1 and lines.count("step-3") == 1
    assert lines.count("step-2") == 2
    assert [e["EventId"] for e in second.history(iid) if e["EventType"] == 4] == [0, 2, 3]


def test_restart_after_completion_changes_nothing(make_host, tmp_path):
    db, side = tmp_path / "state.db", tmp_path / "side.txt"
    first = make_host("crash_app.py", state=str(db))
    iid = start(first, "three_steps", {"file": str(side), "block": False})
    done = first.wait_for(iid)
    first.kill()
    second = make_host("crash_app.py", state=str(db))
    again = second.get_status(iid)
    assert again["runtimeStatus"] == "Completed" and again["output"] == done["output"]
    assert again["createdTime"] == done["createdTime"]
    assert second.pending_timers() == 0
    assert len(_lines(side)) == 3
    types = event_types(second, iid)
    assert types[-1] == "ExecutionCompleted" and types.count("TaskScheduled") == 3
