"""The operator API's environments: their state, what a run of one would do now, and the revert.

- `GET /api/environments` and `GET /api/environments/{name}`: the live cluster, the idle slot (empty,
  retained until when, a run's green), the last runs and the next scheduled deletion.
- `GET /api/environments/{name}/plan`: the same PlanReport `python -m bluegreen plan --json` prints.
- `POST /api/environments/{name}/revert`: a run of kind `revert`, back to the retained cluster.
Reads only read (the clients refuse writes) and need only the function key, like every read of this API;
the revert changes traffic, so it needs a signed-in caller, and its approval the same four eyes.
"""

from __future__ import annotations

import asyncio

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import azure, config, contract, errors, planning, slots
from triggers.http_common import bp, environments_config, models, read_body, require_caller, start_or_conflict
from triggers.responses import ApiError, invalid, json_api, json_response
from triggers.runs import RunView, list_runs

# How many of an environment's runs its status lists, newest first.
RECENT_RUNS = 10


def read_only_clients() -> azure.AzureClients:
    shared = azure.clients()
    return azure.AzureClients(shared.settings, read_only=True)


def configured(name: str) -> config.Environment:
    env = environments_config().get(name)
    if env is None:
        raise ApiError(404, "UnknownEnvironment", f"no environment named {name!r} is configured")
    return env


def run_summary(run: RunView) -> contract.EnvironmentRun:
    output, request = run.output, run.request
    kind = output.kind if output else request.kind if request else run.status.kind
    return contract.EnvironmentRun(
        id=run.instance_id,
        kind=kind,
        runtime_status=run.runtime_status,
        outcome=output.outcome if output else None,
        reason=output.reason if output else None,
        started_by=run.status.started_by or (output.started_by if output else None),
        created=run.created.isoformat() if run.created else None,
    )


async def environment_status(
    client: df.DurableOrchestrationClient, env: config.Environment
) -> contract.EnvironmentStatus:
    runs = await list_runs(client, env.name)
    active = next((r.instance_id for r in runs if r.active), None)
    status = contract.EnvironmentStatus(
        environment=env.name, active_run=active, runs=[run_summary(r) for r in runs[:RECENT_RUNS]]
    )
    try:
        found = await asyncio.to_thread(slots.environment_slots, read_only_clients(), env)
    except errors.BlueGreenError as exc:
        return status.model_copy(update={"problems": [f"{exc.code}: {exc.message}"]})
    return status.model_copy(
        update={
            "live": found.live,
            "idle": found.idle,
            "next_deletion": found.retained[0] if found.retained else None,
            "can_revert": active is None and found.idle.state == "retained",
        }
    )


@bp.route(route="environments", methods=["GET"])
@bp.durable_client_input(client_name="client")
@json_api
async def list_environments(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    statuses = [await environment_status(client, env) for env in environments_config().environment]
    return json_response({"environments": [contract.wire(s) for s in statuses]})


@bp.route(route="environments/{name}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@json_api
async def get_environment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    env = configured(req.route_params.get("name", ""))
    return json_response(contract.wire(await environment_status(client, env)))


@bp.route(route="environments/{name}/revert", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def revert_environment(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.RevertRequest, allow_empty=True)
    env = configured(req.route_params.get("name", ""))
    try:  # something to go back to, before a run starts: the run's resolve checks again
        await asyncio.to_thread(revert_target_now, env)
    except errors.BlueGreenError as exc:
        if exc.temporary:
            raise ApiError(503, exc.code, f"Azure did not answer: {exc.message}") from None
        raise ApiError(409, exc.code, exc.message) from None
    request = contract.RunRequest(
        environment=env.name,
        kind="revert",
        reason=body.reason or f"revert requested by {caller.name}",
        started_by=caller.name,
        trigger=contract.RunTrigger(kind="http"),
    )
    run_id = await start_or_conflict(client, request)
    location = req.url.split("?", 1)[0].rsplit("/environments/", 1)[0] + f"/upgrades/{run_id}"
    payload = {"runId": run_id, "environment": env.name, "kind": "revert", "statusUrl": location}
    return json_response(payload, 202, headers={"Location": location})


def revert_target_now(env: config.Environment) -> contract.RetainedCluster:
    found = slots.environment_slots(read_only_clients(), env)
    if found.idle.state != "retained" or found.idle.retained is None:
        raise errors.PermanentError(
            "NothingToRevertTo", f"the idle slot ({found.idle.origin}) holds no retained cluster: {found.idle.detail}"
        )
    return found.idle.retained


@bp.route(route="environments/{name}/plan", methods=["GET"])
@json_api
async def get_plan(req: func.HttpRequest) -> func.HttpResponse:
    try:
        query = models.PlanQuery.model_validate(dict(req.params))
    except ValueError as exc:
        raise invalid(exc, "query") from None
    env = configured(req.route_params.get("name", ""))
    strategy = contract.Strategy(query.strategy) if query.strategy else None
    try:
        report = await asyncio.to_thread(planning.plan_report, read_only_clients(), env, query.target_version, strategy)
    except errors.BlueGreenError as exc:
        if exc.temporary:
            raise ApiError(503, exc.code, f"Azure did not answer the plan's reads: {exc.message}") from None
        # The request asked for what cannot be (400), or the estate is not in a state to plan from (409).
        status = 400 if exc.code in planning.VERSION_REFUSALS else 409
        raise ApiError(status, exc.code, exc.message) from None
    return json_response(contract.wire(report))
