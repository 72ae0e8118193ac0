"""Test app for crash and resume: three steps, each appending a line to a side file when it runs."""

import threading
from datetime import timedelta
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
GATE = threading.Event()  # step 2 waits on it when asked to, so a test can kill the host mid-activity
IN_STEP_TWO = threading.Event()


@app.activity_trigger(input_name="payload")
def step(payload: dict) -> str:
    if payload.get("block"):
        IN_STEP_TWO.set()
        GATE.wait(timeout=30)
    with Path(payload["file"]).open("a") as side:
        side.write(f"step-{payload['n']}\n")
    return f"done {payload['n']}"


@app.orchestration_trigger(context_name="context")
def three_steps(context: df.DurableOrchestrationContext):
    options = context.get_input()
    first = yield context.call_activity("step", {"n": 1, "file": options["file"]})
    yield context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    second = yield context.call_activity("step", {"n": 2, "file": options["file"], "block": options["block"]})
    third = yield context.call_activity("step", {"n": 3, "file": options["file"]})
    return [first, second, third]
