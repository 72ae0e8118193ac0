"""The operator API: start, list, inspect, approve, reject, roll back and abort upgrades.

Calls that change clusters or traffic need a caller (App Service Authentication headers); reads
need only the function key. Every answer is JSON; errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ValidationError

from bluegreen.config import ConfigError, Environment, load_environments
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT, ROLLBACK_EVENT
from triggers import decisions
from triggers.identity import Caller, caller_from_headers
from triggers.models import AbortRequest, Decision, ListQuery, RollbackRequest, StartUpgrade
from triggers.responses import ApiError, invalid, json_api, json_response, parse_json_body
from triggers.runs import RunView, get_run, list_runs, start_run

bp = df.Blueprint()
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
Body = TypeVar("Body", bound=BaseModel)


# ---- helpers shared by the routes


def require_caller(req: func.HttpRequest) -> Caller:
    caller = caller_from_headers(req.headers)
    if caller is None:
        raise ApiError(401, "Unauthenticated", "sign in: this call needs an App Service Authentication identity")
    return caller


def read_body(req: func.HttpRequest, model: type[Body], *, allow_empty: bool) -> Body:
    data = parse_json_body(req, allow_empty=allow_empty)
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidRequest", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc) from None


def environments_config() -> Any:
    try:
        return load_environments()
    except ConfigError as exc:
        raise ApiError(500, "ConfigurationError", str(exc)) from None


def environment_of(run: RunView) -> str:
    return str((run.input or {}).get("environment") or (run.output or {}).get("environment") or "")


async def find_run(client: df.DurableOrchestrationClient, req: func.HttpRequest) -> RunView:
    instance_id = req.route_params.get("id", "")
    run = await get_run(client, instance_id, show_input=True)
    if run is None:
        raise ApiError(404, "RunNotFound", f"no upgrade run with id {instance_id!r}")
    return run


async def send_event(client: df.DurableOrchestrationClient, run: RunView, name: str, payload: dict[str, Any]) -> None:
    try:
        await client.raise_event(run.instance_id, name, payload)
    except Exception:
        # The run ended between our status read and the event (410/404 from the extension).
        latest = await get_run(client, run.instance_id)
        if latest is not None and not latest.active:
            raise ApiError(409, "RunFinished", f"run {run.instance_id} has finished", runId=run.instance_id) from None
        raise


def started_by(run: RunView) -> str | None:
    return run.custom.get("started_by") or (run.input or {}).get("started_by") or (run.output or {}).get("started_by")


def summary(run: RunView) -> dict[str, Any]:
    output = run.output or {}
    return {
        "id": run.instance_id,
        "environment": environment_of(run) or run.instance_id.rsplit("-", 1)[0],
        "runtimeStatus": run.runtime_status,
        "phase": run.phase,
        "outcome": output.get("outcome"),
        "startedBy": started_by(run),
        "createdTime": run.created.isoformat() if run.created else None,
        "lastUpdatedTime": run.updated.isoformat() if run.updated else None,
    }


def detail(run: RunView) -> dict[str, Any]:
    """Everything an operator asks about one run; facts come from the output once it has finished."""
    facts = run.output or run.custom
    approval = facts.get("approval") or run.custom.get("approval")
    resources = facts.get("resources") or run.custom.get("resources") or {}
    return {
        **summary(run),
        "message": run.custom.get("message"),
        "reason": (run.output or {}).get("reason"),
        "trigger": (run.input or {}).get("trigger"),
        "request": {k: (run.input or {}).get(k) for k in ("target_version", "strategy", "reason")},
        "timeline": facts.get("timeline") or run.custom.get("timeline") or [],
        "verification": facts.get("verification") or run.custom.get("verification"),
        "approval": approval,
        "approvedBy": approval.get("by") if isinstance(approval, dict) and approval.get("approved") else None,
        "rollback": facts.get("rollback") or run.custom.get("rollback"),
        "resources": {
            "frontDoor": resources.get("front_door"),
            "blue": resources.get("blue"),
            "green": resources.get("green"),
        },
        "customStatus": run.custom,
        "output": run.output,
    }


# ---- routes


@bp.route(route="upgrades", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def start_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, StartUpgrade, allow_empty=False)
    env: Environment | None = environments_config().get(body.environment)
    if env is None:
        raise ApiError(404, "UnknownEnvironment", f"no environment named {body.environment!r} is configured")
    request = {
        "environment": env.name,
        "target_version": body.target_version,
        "strategy": body.strategy,
        "reason": body.reason or f"requested by {caller.name}",
        "started_by": caller.name,
        "trigger": {"kind": "http"},
    }
    result = await start_run(client, env.name, request)
    if not result.started:
        raise ApiError(
            409,
            "RunInProgress",
            f"{env.name} already has a run in progress: {result.instance_id}",
            runId=result.instance_id,
        )
    assert result.instance_id is not None
    response = client.create_check_status_response(req, result.instance_id)
    payload = json.loads(response.get_body()) | {"runId": result.instance_id, "environment": env.name}
    return json_response(payload, 202, headers={k: v for k, v in response.headers.items() if k != "Content-Type"})


@bp.route(route="upgrades", methods=["GET"])
@bp.durable_client_input(client_name="client")
@json_api
async def list_upgrades(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    try:
        query = ListQuery.model_validate(dict(req.params))
    except ValidationError as exc:
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


async def decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, approved: bool) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, Decision, allow_empty=True)
    run = await find_run(client, req)
    if not run.active or not decisions.waiting_for_approval(run.custom):
        raise ApiError(
            409,
            "NotAwaitingApproval",
            f"run {run.instance_id} is not waiting for approval (phase {run.phase})",
            phase=run.phase,
        )
    env = environments_config().get(environment_of(run))
    if env is None:
        raise ApiError(409, "UnknownEnvironment", f"environment {environment_of(run)!r} is no longer configured")
    check = decisions.approver_check(
        {caller.name.lower(), *caller.aliases}, env.approval.approvers, env.approval.four_eyes, started_by(run)
    )
    if check == decisions.ApproverCheck.NOT_AN_APPROVER:
        raise ApiError(403, "NotAnApprover", f"{caller.name} is not an approver of {env.name}")
    if check == decisions.ApproverCheck.INITIATOR:
        raise ApiError(403, "FourEyes", f"{caller.name} started this run; four-eyes needs someone else to decide")
    payload = {"approved": approved, "by": caller.name, "comment": body.comment}
    await send_event(client, run, APPROVAL_EVENT, payload)
    return json_response({"id": run.instance_id, "event": APPROVAL_EVENT, **payload}, 202)


@bp.route(route="upgrades/{id}/approve", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def approve_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await decide(req, client, approved=True)


@bp.route(route="upgrades/{id}/reject", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def reject_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await decide(req, client, approved=False)


@bp.route(route="upgrades/{id}/rollback", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def rollback_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, RollbackRequest, allow_empty=False)
    run = await find_run(client, req)
    if not run.active or not decisions.can_roll_back(run.custom):
        raise ApiError(
            409,
            "NothingToRollBack",
            f"run {run.instance_id} has nothing to roll back (phase {run.phase}, {run.runtime_status})",
            phase=run.phase,
        )
    payload = {"trigger": "manual", "by": caller.name, "reason": body.reason}
    await send_event(client, run, ROLLBACK_EVENT, payload)
    return json_response({"id": run.instance_id, "event": ROLLBACK_EVENT, **payload}, 202)


@bp.route(route="upgrades/{id}/abort", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def abort_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, AbortRequest, allow_empty=True)
    run = await find_run(client, req)
    if not run.active or not decisions.can_abort(run.custom):
        raise ApiError(
            409,
            "TooLateToAbort",
            f"run {run.instance_id} cannot be aborted in phase {run.phase} ({run.runtime_status}); "
            "after the switch use rollback",
            phase=run.phase,
        )
    payload = {"by": caller.name, "reason": body.reason or f"aborted by {caller.name}"}
    await send_event(client, run, ABORT_EVENT, payload)
    return json_response({"id": run.instance_id, "event": ABORT_EVENT, **payload}, 202)


@bp.route(route="openapi.json", methods=["GET"])
@json_api
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
