"""The environments' doors: status (live, idle slot, runs, next deletion) and revert, through the local host."""

from __future__ import annotations

from tests.triggers.conftest import ALICE, Stack


def test_a_fresh_environment_shows_blue_live_an_empty_idle_slot_and_no_runs(stack: Stack) -> None:
    status, env = stack.api("GET", f"environments/{stack.env}", user=None)  # a read: the function key only
    assert status == 200, env
    assert (env["live"]["name"], env["live"]["state"], env["live"]["power_state"]) == (
        stack.estate.blue_name,
        "live",
        "Running",
    )
    assert env["idle"]["state"] == "empty" and env["idle"]["origin"] == stack.estate.origins["green"]
    assert (env["runs"], env["active_run"], env["next_deletion"], env["can_revert"]) == ([], None, None, False)
    status, listed = stack.api("GET", "environments", user=None)
    assert status == 200 and [e["environment"] for e in listed["environments"]] == [stack.env]
    assert stack.api("GET", "environments/nope")[0] == 404


def test_revert_needs_a_caller_and_something_to_go_back_to(stack: Stack) -> None:
    path = f"environments/{stack.env}/revert"
    status, body = stack.api("POST", path, {}, user=None)
    assert status == 401 and body["error"]["code"] == "Unauthenticated"
    assert stack.api("POST", "environments/nope/revert", {}, user=ALICE)[0] == 404
    status, body = stack.api("POST", path, {"reason": 7}, user=ALICE)
    assert status == 400 and "reason" in body["error"]["message"]
    stack.emulator.clear_requests()
    status, body = stack.api("POST", path, {}, user=ALICE)
    assert status == 409 and body["error"]["code"] == "NothingToRevertTo"
    assert "holds no retained cluster" in body["error"]["message"]
    assert stack.api("GET", "upgrades")[1]["runs"] == []  # no run started
    assert [r for r in stack.emulator.requests() if r["method"] != "GET"] == []


def test_a_completed_run_shows_in_the_status_and_makes_the_kept_blue_revertible(stack: Stack) -> None:
    run_id = stack.start()
    finished = stack.finish(run_id)
    assert finished["output"]["outcome"] == "completed"
    status, env = stack.api("GET", f"environments/{stack.env}", user=None)
    assert status == 200
    assert env["live"]["name"] == stack.estate.green_name
    # retire mode keep in this stack: blue runs on as a hot standby, retained until its time is up.
    idle = env["idle"]
    assert (idle["state"], idle["name"], idle["power_state"]) == ("retained", stack.estate.blue_name, "Running")
    assert idle["retained"]["retired_by"] == run_id and idle["retained"]["retired_as"] == "retired"
    assert env["next_deletion"]["retained_until"] == idle["retained"]["retained_until"]
    assert env["can_revert"] is True
    assert [(r["id"], r["kind"], r["outcome"]) for r in env["runs"]] == [(run_id, "upgrade", "completed")]
    (kept,) = finished["output"]["left_behind"]
    assert kept["retained_until"] == idle["retained"]["retained_until"]
