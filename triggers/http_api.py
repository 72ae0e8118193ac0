"""The operator API's runs: start, list and inspect upgrades, and its OpenAPI description.

Deciding on a run (approve, reject, roll back, abort, resolve by hand) is in triggers/actions.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import azure, config, contract, errors, planning
from triggers import decisions
from triggers.http_common import (
    ApiError,
    bp,
    environment_of,
    environments_config,
    find_run,
    models,
    read_body,
    require_caller,
    start_or_conflict,
    started_by,
)
from triggers.responses import invalid, json_api, json_response
from triggers.runs import RunView, list_runs

OPENAPI_FILE = Path(__file__).with_name("openapi.json")


def summary(run: RunView) -> dict[str, Any]:
    return {
        "id": run.instance_id,
        "environment": environment_of(run),
        "kind": run.status.kind if run.output is None else run.output.kind,
        "runtimeStatus": run.runtime_status,
        "phase": run.phase,
        "outcome": run.output.outcome.value if run.output is not None else None,
        "startedBy": started_by(run),
        "createdTime": run.created.isoformat() if run.created else None,
        "lastUpdatedTime": run.updated.isoformat() if run.updated else None,
    }


def detail(run: RunView) -> dict[str, Any]:
    """Everything an operator asks about one run; facts come from the output once it has finished."""
    status, output = run.status, run.output
    approval = (output.approval if output else None) or status.approval
    resources = (output.resources if output else None) or status.resources
    request = run.request
    return {
        **summary(run),
        "message": status.message,
        "reason": output.reason if output else None,
        "accepts": {
            "abort": run.active and decisions.can_abort(status),
            "approval": run.active and decisions.waiting_for_approval(status),
            "rollback": run.active and decisions.can_roll_back(status),
            "resolveManually": run.active and status.can_resolve_manually,
        },
        "deadline": status.deadline,
        "waitingFor": status.waiting_for,
        "trigger": contract.wire(request.trigger) if request else None,
        "request": {
            "target_version": request.target_version if request else None,
            "strategy": request.strategy.value if request and request.strategy else None,
            "reason": request.reason if request else None,
        },
        "timeline": [contract.wire(e) for e in (output.timeline if output else status.timeline)],
        "verification": _wire(output.verification if output else status.verification),
        "approval": _wire(approval),
        "approvedBy": approval.by if approval is not None and approval.approved else None,
        "rollback": _wire((output.rollback if output else None) or status.rollback),
        "resources": {
            "frontDoor": resources.front_door if resources else None,
            "blue": resources.blue if resources else None,
            "green": resources.green if resources else None,
        },
        "leftBehind": [contract.wire(c) for c in output.left_behind] if output else [],
        # Each traffic change and when the edge carried it (intended and observed share on green).
        "trafficMoves": [contract.wire(m) for m in (output.traffic_moves if output else status.traffic_moves)],
        "customStatus": contract.wire(status),
        "output": contract.wire(output) if output else None,
    }


def _wire(model: contract.Contract | None) -> Any:
    return contract.wire(model) if model is not None else None


# ---- routes


@bp.route(route="upgrades", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def start_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.StartUpgrade, allow_empty=False)
    env = environments_config().get(body.environment)
    if env is None:
        raise ApiError(404, "UnknownEnvironment", f"no environment named {body.environment!r} is configured")
    strategy = contract.Strategy(body.strategy) if body.strategy else None
    if body.target_version not in (None, "latest"):
        await refuse_unreachable_target(env, body.target_version, strategy)
    request = contract.RunRequest(
        environment=env.name,
        target_version=body.target_version,
        strategy=strategy,
        reason=body.reason or f"requested by {caller.name}",
        started_by=caller.name,
        trigger=contract.RunTrigger(kind="http"),
    )
    run_id = await start_or_conflict(client, request)
    # Only the run's own API address: the Durable management URLs carry the system key, and with them a
    # caller could raise events (an approval with any `by`) past every check of this API.
    location = run_url(req, run_id)
    payload = {"runId": run_id, "environment": env.name, "statusUrl": location}
    return json_response(payload, 202, headers={"Location": location})


async def refuse_unreachable_target(env: config.Environment, version: str, strategy: contract.Strategy | None) -> None:
    """400, with the versions the region offers, before a run starts for a target it cannot reach.

    Read from Azure off the worker's event loop. Only the version's verdict is given here: anything else
    (Azure unavailable, a split Front Door) is the run's resolve phase to report, with its retries.
    """
    try:
        await asyncio.to_thread(planning.check_target, azure.clients(), env, version, strategy)
    except errors.BlueGreenError as exc:
        if exc.code in planning.VERSION_REFUSALS:
            raise ApiError(400, exc.code, exc.message) from None


def run_url(req: func.HttpRequest, run_id: str) -> str:
    """GET /api/upgrades/{id} on the host the caller reached (the route prefix as in the request)."""
    base = req.url.split("?", 1)[0].rstrip("/")
    return f"{base}/{run_id}"


@bp.route(route="upgrades", methods=["GET"])
@bp.durable_client_input(client_name="client")
@json_api
async def list_upgrades(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        query = models.ListQuery.model_validate(dict(req.params))
    except ValueError as exc:
        raise invalid(exc, "query") from None
    if query.environment is not None and environments_config().get(query.environment) is None:
        raise ApiError(404, "UnknownEnvironment", f"no environment named {query.environment!r} is configured")
    runs = await list_runs(client, query.environment)
    return json_response({"runs": [summary(r) for r in runs[: query.limit]]})


@bp.route(route="upgrades/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@json_api
async def get_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return json_response(detail(await find_run(client, req)))


@bp.route(route="openapi.json", methods=["GET"])
@json_api
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
