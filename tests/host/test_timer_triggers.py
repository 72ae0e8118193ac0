"""Timer triggers: NCRONTAB schedules fired on a virtual clock, past-due runs, the admin API, %NAME% schedules."""

import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest

from local.clock import VIRTUAL_EPOCH
from local.functions_host.timers import CronSchedule, ScheduleError, resolve_settings, timer_payload, timer_request
from tests.host.conftest import call

T0 = VIRTUAL_EPOCH  # Friday 2026-11-20 06:00:00 UTC
QUARTER = "every_quarter_hour"


def at(hour, minute=0, second=0, day=20):
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def timer_host(make_host, monkeypatch):
    monkeypatch.setenv("TIMER_APP_RETENTION_SCHEDULE", "0 0 3 * * *")
    host = make_host("timer_app.py")
    host.settle_timers()  # the run_on_startup function has run
    host.module.FIRED.clear()
    host.module.RAISE.clear()
    yield host
    host.module.RAISE.clear()


def fired(host, name=QUARTER):
    return [entry for entry in host.module.FIRED if entry[0] == name]


# ---- the NCRONTAB parser


def test_every_fifteen_minutes():
    schedule = CronSchedule.parse("0 */15 * * * *")
    assert schedule.next_after(T0) == at(6, 15)
    assert schedule.next_after(at(6, 14, 59)) == at(6, 15)
    assert schedule.next_after(at(6, 15)) == at(6, 30)
    assert schedule.next_after(at(23, 59, 30)) == at(0, day=21)


def test_weekdays_at_half_past_nine():
    schedule = CronSchedule.parse("0 30 9 * * 1-5")
    assert schedule.next_after(T0) == at(9, 30)  # Friday
    assert schedule.next_after(at(9, 30)) == at(9, 30, day=23)  # over the weekend, to Monday
    assert CronSchedule.parse("0 30 9 * * Mon-fri").weekdays == schedule.weekdays  # names, as NCrontab's
    assert CronSchedule.parse("0 0 0 1 jan,Jul *").months == {1, 7}


def test_every_ten_seconds_and_other_forms():
    schedule = CronSchedule.parse("*/10 * * * * *")
    assert schedule.next_after(T0) == at(6, 0, 10)
    assert schedule.next_after(at(6, 0, 55)) == at(6, 1, 0)
    assert schedule.next_after(T0 + timedelta(microseconds=500)) == at(6, 0, 10)
    assert CronSchedule.parse("0 0 8-18/5 * * *").hours == (8, 13, 18)
    assert CronSchedule.parse("0 5,10 * * * *").minutes == (5, 10)
    assert CronSchedule.parse("0 0 22/1 * * *").hours == (22, 23)  # `a/n`: from a to the field's end
    # Day and day-of-week both restricted: both must match (NCrontab), here the next Friday the 13th.
    assert CronSchedule.parse("0 0 0 13 * 5").next_after(T0) == datetime(2027, 8, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["0 */15 * * *", "0 0 0 * * * *", "60 * * * * *", "0 0 24 * * *", "0 */0 * * * *", "0 5-1 * * * *", "x * * * * *"],
)
def test_bad_schedules_are_refused(expression):
    with pytest.raises(ScheduleError):
        CronSchedule.parse(expression)


def test_a_schedule_that_never_occurs_is_refused():
    with pytest.raises(ScheduleError, match="never occurs"):
        CronSchedule.parse("0 0 0 30 2 *").next_after(T0)


def test_app_setting_expressions():
    assert resolve_settings("%A%", {"A": "0 0 3 * * *"}) == "0 0 3 * * *"
    assert resolve_settings("0 %M% * * * *", {"M": "*/5"}) == "0 */5 * * * *"
    with pytest.raises(ScheduleError, match="does not resolve"):
        resolve_settings("%MISSING%", {})


def test_the_payload_decodes_with_the_sdk_converter():
    request = timer_request(timer_payload(True, None, at(6, 15), T0))
    assert request.past_due is True
    assert request.schedule == {"AdjustForDST": True}
    assert request.schedule_status == {
        "Last": "0001-01-01T00:00:00",
        "Next": "2026-11-20T06:15:00+00:00",
        "LastUpdated": "2026-11-20T06:00:00+00:00",
    }
    assert timer_request(timer_payload(False, None, None, None)).schedule_status == {}


# ---- firing on a virtual clock


def test_nothing_fires_before_the_first_occurrence(timer_host):
    assert timer_host.advance_to(at(6, 14, 59)) == []
    assert timer_host.module.FIRED == []


def test_reaching_one_occurrence_fires_once_not_past_due_and_starts_the_orchestration(timer_host, caplog):
    caplog.set_level(logging.INFO, logger="functions_host")
    firings = timer_host.advance_to(at(6, 15))
    assert [(f.function, f.scheduled, f.past_due, f.done, f.error) for f in firings] == [
        (QUARTER, at(6, 15), False, True, None)
    ]
    [(_, past_due, status, instance_id)] = fired(timer_host)
    assert past_due is False
    assert status == {"Last": "0001-01-01T00:00:00", "Next": "2026-11-20T06:15:00+00:00", "LastUpdated": T0.isoformat()}
    assert sum("timer every_quarter_hour fired (past due: false)" in m for m in caplog.messages) == 1
    # The orchestration it started runs at the clock's time of firing.
    final = timer_host.wait_for(instance_id)
    assert final["runtimeStatus"] == "Completed"
    assert datetime.fromisoformat(final["output"]["now"]).astimezone(UTC) == at(6, 15) == timer_host.clock.now()
    assert final["output"]["input"] == {"past_due": False}
    assert timer_host.advance_to(at(6, 29, 59)) == []


def test_jumping_over_three_occurrences_fires_once_past_due(timer_host):
    timer_host.advance_to(at(6, 15))
    [firing] = timer_host.advance_to(at(7, 0, 30))  # 06:30, 06:45 and 07:00 all passed
    assert (firing.scheduled, firing.past_due, firing.at) == (at(6, 30), True, at(7, 0, 30))
    [_, (_, past_due, status, instance_id)] = fired(timer_host)
    assert past_due is True and status["Last"] == "2026-11-20T06:15:00+00:00"
    assert timer_host.wait_for(instance_id)["output"]["input"] == {"past_due": True}
    # The schedule goes on from the clock's time: the next occurrence is 07:15, on time again.
    assert [f.past_due for f in timer_host.advance_to(at(7, 15))] == [False]


def test_an_idle_host_with_only_timer_triggers_keeps_virtual_time(timer_host):
    looked = threading.Event()
    timer_host.add_idle_hook(lambda: looked.set() or False)
    assert looked.wait(5)
    timer_host.settle_timers()
    timer_host.settle_timers()  # a whole turn of the loop after the hook said "nothing to do"
    assert timer_host.clock.now() == T0
    assert timer_host.clock.next_wakeup() is None  # timer triggers are no wake-up source
    assert timer_host.module.FIRED == []


def test_the_idle_jump_to_a_durable_timer_fires_passed_occurrences_once(timer_host):
    # Time moves for another reason (an orchestration's 2-hour timer): the timer function fires after the jump.
    status, _, body = call(
        "POST", f"{timer_host.base_url}/runtime/webhooks/durabletask/orchestrators/wait_hours", {"hours": 2}
    )
    assert status == 202
    assert timer_host.wait_for(body["id"])["output"] == at(8).isoformat()
    timer_host.settle_timers()
    [firing] = [f for f in timer_host.timer_firings() if f.function == QUARTER]
    assert (firing.at, firing.scheduled, firing.past_due) == (at(8), at(6, 15), True)
    assert timer_host.clock.now() == at(8)


def test_an_app_without_timer_triggers_has_none(make_host):
    host = make_host("orchestrations.py")
    assert host.timer_firings() == [] and host.timers.timers == {}


def test_run_on_startup_fires_once_when_the_host_starts(make_host, monkeypatch):
    monkeypatch.setenv("TIMER_APP_RETENTION_SCHEDULE", "0 0 3 * * *")
    host = make_host("timer_app.py")
    host.settle_timers()
    startup = [f for f in host.timer_firings() if f.function == "on_startup"]
    assert [(f.cause, f.past_due, f.done) for f in startup] == [("startup", False, True)]
    assert host.timers.status("on_startup")["next"] == datetime(2027, 1, 1, tzinfo=UTC)


def test_app_setting_schedules_resolve(timer_host):
    assert timer_host.timers.status("retention")["next"] == at(3, day=21)
    [firing] = [f for f in timer_host.advance_to(at(3, day=21)) if f.function == "retention"]
    assert (firing.scheduled, firing.past_due) == (at(3, day=21), False)
    assert fired(timer_host, "retention")[0][1] is False


def test_an_unresolved_setting_leaves_that_function_unscheduled(make_host, monkeypatch, caplog):
    monkeypatch.delenv("TIMER_APP_RETENTION_SCHEDULE", raising=False)
    host = make_host("timer_app.py")
    assert "does not resolve" in host.timers.status("retention")["error"]
    assert any("timer retention is not scheduled" in m for m in caplog.messages)
    assert any(line.startswith("  retention: timerTrigger (error:") for line in host.routes)
    assert [f.function for f in host.advance_to(at(6, 15))] == [QUARTER]


def test_a_failing_function_is_logged_and_its_schedule_goes_on(timer_host, caplog):
    timer_host.module.RAISE.add("retention")
    [firing] = [f for f in timer_host.advance_to(at(3, day=21)) if f.function == "retention"]
    assert firing.error == "RuntimeError: retention failed"
    assert any("timer retention raised" in m for m in caplog.messages)
    assert timer_host.timers.status("retention")["next"] == at(3, day=22)
    assert [f.error for f in timer_host.advance_to(at(3, day=22)) if f.function == "retention"] == [firing.error]
    assert call("GET", f"{timer_host.base_url}/runtime/webhooks/durabletask/instances")[0] == 200


# ---- running by hand


def test_invoke_timer_runs_it_now_not_past_due(timer_host):
    firing = timer_host.invoke_timer("retention")
    assert (firing.cause, firing.past_due, firing.done, firing.error) == ("manual", False, True, None)
    assert fired(timer_host, "retention")[0][1] is False
    assert timer_host.timers.status("retention")["next"] == at(3, day=21)  # the schedule is untouched
    with pytest.raises(LookupError):
        timer_host.invoke_timer("record_time")


def test_the_admin_endpoint_needs_the_master_key_and_runs_the_function(timer_host):
    url = f"{timer_host.base_url}/admin/functions/{QUARTER}"
    key = {"x-functions-key": timer_host.master_key}
    assert call("POST", url, {"input": ""})[0] == 401
    assert call("POST", url, {"input": ""}, headers={"x-functions-key": "wrong"})[0] == 401
    assert call("POST", f"{timer_host.base_url}/admin/functions/nope", {"input": ""})[0] == 401
    assert call("POST", f"{timer_host.base_url}/admin/functions/nope", {"input": ""}, headers=key)[0] == 404
    assert call("POST", url, raw=b"not json", headers=key)[0] == 400
    assert call("POST", f"{timer_host.base_url}/admin/functions/record_time", {"input": ""}, headers=key)[0] == 400

    status, _, _ = call("POST", url, {"input": "ignored"}, headers=key)
    assert status == 202
    timer_host.settle_timers()
    [(_, past_due, _, instance_id)] = fired(timer_host)
    assert past_due is False
    assert timer_host.wait_for(instance_id)["output"]["now"] == T0.isoformat()
    # `code=` in the query is the key too; the schedule did not move.
    assert call("POST", f"{url}?code={timer_host.master_key}", {"input": ""})[0] == 202
    timer_host.settle_timers()
    assert len(fired(timer_host)) == 2 and timer_host.timers.status(QUARTER)["next"] == at(6, 15)


def test_the_admin_endpoint_runs_an_event_grid_function(timer_host):
    timer_host.module.EVENTS.clear()
    event = {"id": "e1", "eventType": "Demo.Happened", "subject": "s", "eventTime": "2026-11-20T06:00:00Z", "data": {}}
    url = f"{timer_host.base_url}/admin/functions/on_event"
    key = {"x-functions-key": timer_host.master_key}
    assert call("POST", url, {"input": json.dumps(event)}, headers=key)[0] == 202
    timer_host.settle_timers()
    assert timer_host.module.EVENTS == [("e1", "Demo.Happened")]
    assert call("POST", url, {"input": json.dumps({"id": "e2"})}, headers=key)[0] == 400


def test_serve_lines_name_the_timers_and_the_admin_api(timer_host):
    assert f"  {QUARTER}: timerTrigger (0 */15 * * * *, next 2026-11-20T06:15:00Z)" in timer_host.routes
    assert any(line.startswith("  admin API: [POST] ") for line in timer_host.routes)
