"""Test app: one orchestrator per durable behaviour the local host must reproduce."""

import json
from collections import Counter
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
CALLS: Counter = Counter()  # activity executions, by activity and input key
ATTEMPTS: Counter = Counter()


def _payload(value):
    """Event payloads from the Python client arrive double-encoded (a str holding JSON): decode once."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@app.activity_trigger(input_name="name")
def say_hello(name: str) -> str:
    CALLS[f"say_hello:{name}"] += 1
    return f"Hello {name}!"


@app.activity_trigger(input_name="n")
def square(n: int) -> int:
    CALLS[f"square:{n}"] += 1
    return n * n


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> str:
    ATTEMPTS[payload["key"]] += 1
    attempt = ATTEMPTS[payload["key"]]
    if attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {attempt} failed")
    return f"ok after {attempt} attempts"


@app.activity_trigger(input_name="payload")
async def explode(payload: str) -> str:
    raise ValueError(f"cannot handle {payload}")


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext):
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield context.call_activity(say_hello, city)))
    return results


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext):
    options = context.get_input()
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=options["max"])
    return (yield context.call_activity_with_retry("flaky", retry, options))


@app.orchestration_trigger(context_name="context")
def approval(context: df.DurableOrchestrationContext):
    context.set_custom_status({"stage": "waiting"})
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=1))
    event = context.wait_for_external_event("Approval")
    winner = yield context.task_any([event, timer])
    if winner == event:
        timer.cancel()
        return {"approved": _payload(event.result)}
    return {"approved": None, "at": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext):
    values = yield context.task_all([context.call_activity("square", n) for n in range(context.get_input()["n"])])
    return sum(values)


@app.orchestration_trigger(context_name="context")
def parent(context: df.DurableOrchestrationContext):
    child = yield context.call_sub_orchestrator("chain", None, f"{context.instance_id}-child")
    doubled = yield context.call_sub_orchestrator("fan_out", {"n": 4})
    return {"child": child, "fan_out": doubled}


@app.orchestration_trigger(context_name="context")
def counter(context: df.DurableOrchestrationContext):
    state = context.get_input() or {"n": 0, "seen": []}
    if state["n"] >= 3:
        return state
    squared = yield context.call_activity("square", state["n"])
    context.continue_as_new({"n": state["n"] + 1, "seen": [*state["seen"], squared]})


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext):
    hours = context.get_input()["hours"]
    start = context.current_utc_datetime
    yield context.create_timer(start + timedelta(hours=hours))
    return (context.current_utc_datetime - start).total_seconds() / 3600


@app.orchestration_trigger(context_name="context")
def early_event(context: df.DurableOrchestrationContext):
    yield context.create_timer(context.current_utc_datetime + timedelta(minutes=5))
    value = yield context.wait_for_external_event("Early")
    return {"got": _payload(value)}


@app.orchestration_trigger(context_name="context")
def waiter(context: df.DurableOrchestrationContext):
    yield context.wait_for_external_event("Never")
    return "unreachable"


@app.orchestration_trigger(context_name="context")
def failing(context: df.DurableOrchestrationContext):
    yield context.call_activity("say_hello", "doomed")
    raise ValueError("boom in orchestrator")


@app.orchestration_trigger(context_name="context")
def failing_activity(context: df.DurableOrchestrationContext):
    return (yield context.call_activity("explode", "this"))


@app.orchestration_trigger(context_name="context")
def catches(context: df.DurableOrchestrationContext):
    try:
        yield context.call_activity("explode", "that")
    except Exception as exc:
        return {"caught": "cannot handle that" in str(exc)}
    return {"caught": False}


# ---- sub-orchestrations: retries, children that continue as new, run trees


def _sub_id(context: df.DurableOrchestrationContext, n: int) -> str:
    """The app's child-id convention: sub_<parent id>_<n>."""
    return f"sub_{context.instance_id}_{n}"


@app.activity_trigger(input_name="key")
def count_attempt(key: str) -> int:
    """Which attempt this is for `key`. An activity, so a replay sees the number the first run saw."""
    ATTEMPTS[key] += 1
    return ATTEMPTS[key]


@app.orchestration_trigger(context_name="context")
def fails_first(context: df.DurableOrchestrationContext):
    """A child that raises until its `succeed_on`-th execution (its input alone cannot tell them apart)."""
    options = context.get_input()
    attempt = yield context.call_activity("count_attempt", options["key"])
    if attempt < options["succeed_on"]:
        raise RuntimeError(f"child attempt {attempt} failed")
    return f"child ok on attempt {attempt}"


@app.orchestration_trigger(context_name="context")
def retrying_parent(context: df.DurableOrchestrationContext):
    options = context.get_input()
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=1000, max_number_of_attempts=options["max"])
    return (yield context.call_sub_orchestrator_with_retry("fails_first", retry, options, _sub_id(context, 0)))


@app.orchestration_trigger(context_name="context")
def countdown(context: df.DurableOrchestrationContext):
    """Continues as new until `left` is 0; the execution with `left` = k calls k activities, so k = 3 is longest."""
    state = context.get_input()
    left, squares = state["left"], list(state["squares"])
    if left == 0:
        return squares
    for _ in range(left):
        squares.append((yield context.call_activity("square", left)))
    context.continue_as_new({"left": left - 1, "squares": squares})


@app.orchestration_trigger(context_name="context")
def countdown_parent(context: df.DurableOrchestrationContext):
    start = {"left": context.get_input()["left"], "squares": []}
    return (yield context.call_sub_orchestrator("countdown", start, _sub_id(context, 0)))


@app.orchestration_trigger(context_name="context")
def two_children(context: df.DurableOrchestrationContext):
    greetings = yield context.call_sub_orchestrator("chain", None, _sub_id(context, 0))
    total = yield context.call_sub_orchestrator("fan_out", {"n": 3}, _sub_id(context, 1))
    return {"greetings": greetings, "total": total}


@app.orchestration_trigger(context_name="context")
def grandparent(context: df.DurableOrchestrationContext):
    return (yield context.call_sub_orchestrator("two_children", None, _sub_id(context, 0)))
