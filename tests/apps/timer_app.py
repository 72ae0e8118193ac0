"""Test app: timer triggers (one starts an orchestration through the durable client), orchestrations, Event Grid."""

from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
FIRED: list = []  # (function, past_due, schedule_status, instance id or None) per invocation
RAISE: set = set()  # functions that raise when invoked
EVENTS: list = []


@app.timer_trigger(schedule="0 */15 * * * *", arg_name="timer", use_monitor=True)
@app.durable_client_input(client_name="client")
async def every_quarter_hour(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    instance_id = await client.start_new("record_time", None, {"past_due": timer.past_due})
    FIRED.append(("every_quarter_hour", timer.past_due, timer.schedule_status, instance_id))


@app.timer_trigger(schedule="%TIMER_APP_RETENTION_SCHEDULE%", arg_name="timer")
def retention(timer: func.TimerRequest) -> None:
    FIRED.append(("retention", timer.past_due, timer.schedule_status, None))
    if "retention" in RAISE:
        raise RuntimeError("retention failed")


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def on_startup(timer: func.TimerRequest) -> None:
    FIRED.append(("on_startup", timer.past_due, timer.schedule_status, None))


@app.event_grid_trigger(arg_name="event")
def on_event(event: func.EventGridEvent) -> None:
    EVENTS.append((event.id, event.event_type))


@app.orchestration_trigger(context_name="context")
def record_time(context: df.DurableOrchestrationContext):
    return {"now": context.current_utc_datetime.isoformat(), "input": context.get_input()}


@app.orchestration_trigger(context_name="context")
def wait_hours(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=context.get_input()["hours"]))
    return context.current_utc_datetime.isoformat()
