"""Test app: HTTP starter with the durable client, an approval flow, plain routes, Event Grid triggers."""

import json
import logging
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
RECEIVED: list = []  # what the Event Grid functions were given
ATTEMPTS: dict = {}


@app.route(route="orchestrators/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    payload = json.loads(body) if body else None
    instance_id = await client.start_new(req.route_params["name"], req.route_params.get("instance_id"), payload)
    return client.create_check_status_response(req, instance_id)


@app.route(route="runs/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def run_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    status = await client.get_status(req.route_params["instance_id"])
    if not status:
        return func.HttpResponse("no such run", status_code=404)
    body = {"status": status.runtime_status.value, "custom": status.custom_status, "output": status.output}
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="echo/{word}/{extra?}", methods=["GET", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {
        "method": req.method,
        "route": dict(req.route_params),
        "query": dict(req.params),
        "principal": req.headers.get("x-ms-client-principal-name"),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(json.dumps(body), status_code=201, headers={"X-Echo": "yes"}, mimetype="application/json")


@app.route(route="broken")
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret-token-in-error")


@app.event_grid_trigger(arg_name="event")
def on_aks_event(event: func.EventGridEvent) -> None:
    RECEIVED.append(("eventgrid", event.event_type, event.subject, event.get_json()))


@app.event_grid_trigger(arg_name="event")
def on_cloud_event(event: func.CloudEvent) -> None:
    RECEIVED.append(("cloudevent", event.type, event.subject, event.get_json()))


@app.event_grid_trigger(arg_name="event")
@app.durable_client_input(client_name="client")
async def start_on_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    await client.start_new("approval_flow", f"eg-{event.id}", {"cluster": event.subject})


@app.event_grid_trigger(arg_name="event")
def failing_handler(event: func.EventGridEvent) -> None:
    raise RuntimeError("handler failed")


@app.activity_trigger(input_name="cluster")
def prepare(cluster: str) -> str:
    return f"prepared {cluster}"


@app.activity_trigger(input_name="cluster")
def flaky_check(cluster: str) -> str:
    ATTEMPTS[cluster] = ATTEMPTS.get(cluster, 0) + 1
    if ATTEMPTS[cluster] < 2:
        raise RuntimeError("not ready yet")
    return f"{cluster} healthy after {ATTEMPTS[cluster]} checks"


@app.orchestration_trigger(context_name="context")
def approval_flow(context: df.DurableOrchestrationContext):
    cluster = context.get_input()["cluster"]
    prepared = yield context.call_activity(prepare, cluster)
    retry = df.RetryOptions(first_retry_interval_in_milliseconds=500, max_number_of_attempts=3)
    health = yield context.call_activity_with_retry("flaky_check", retry, cluster)
    context.set_custom_status({"stage": "approval"})
    timer = context.create_timer(context.current_utc_datetime + timedelta(hours=2))
    approval = context.wait_for_external_event("Approval")
    winner = yield context.task_any([approval, timer])
    decision = None
    if winner == approval:
        timer.cancel()
        decision = approval.result
        if isinstance(decision, str):  # the Python client double-encodes event payloads
            decision = json.loads(decision)
    if not context.is_replaying:
        logging.info("approval_flow %s decided", context.instance_id)
    return {"prepared": prepared, "health": health, "decision": decision}
