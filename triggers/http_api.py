"""The operator API: start, list, inspect, approve, reject, roll back and abort upgrades.

Calls that change clusters or traffic need a caller (App Service Authentication headers); reads
need only the function key. Every answer is JSON; errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import azure, config, contract, lazy_import, traffic
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT, ROLLBACK_EVENT
from triggers import decisions
from triggers.identity import Caller, caller_from_headers
from triggers.responses import ApiError, invalid, json_api, json_response, parse_json_body
from triggers.runs import RunView, get_run, list_runs, start_run

if TYPE_CHECKING:
    from pydantic import BaseModel

    from triggers import models
else:
    models = lazy_import("triggers.models")

bp = df.Blueprint()
log = logging.getLogger("bluegreen.triggers")
OPENAPI_FILE = Path(__file__).with_name("openapi.json")
Body = TypeVar("Body", bound="BaseModel")


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
    except ValueError as exc:  # pydantic's ValidationError
        raise invalid(exc) from None


def environments_config() -> config.Environments:
    try:
        return config.load_environments()
    except config.ConfigError as exc:
        raise ApiError(500, "ConfigurationError", str(exc)) from None


def environment_of(run: RunView) -> str:
    if run.request is not None:
        return run.request.environment
    if run.output is not None:
        return run.output.environment
    return run.instance_id.rsplit("-", 1)[0]


async def find_run(client: df.DurableOrchestrationClient, req: func.HttpRequest) -> RunView:
    instance_id = req.route_params.get("id", "")
    run = await get_run(client, instance_id, show_input=True)
    if run is None:
        raise ApiError(404, "RunNotFound", f"no upgrade run with id {instance_id!r}")
    return run


async def send_event(client: df.DurableOrchestrationClient, run: RunView, name: str, event: contract.Contract) -> None:
    try:
        await client.raise_event(run.instance_id, name, contract.wire(event))
    except Exception:
        # The run ended between our status read and the event (410/404 from the extension).
        latest = await get_run(client, run.instance_id)
        if latest is not None and not latest.active:
            raise ApiError(409, "RunFinished", f"run {run.instance_id} has finished", runId=run.instance_id) from None
        raise


def started_by(run: RunView) -> str | None:
    if run.status.started_by:
        return run.status.started_by
    if run.request is not None:
        return run.request.started_by
    return run.output.started_by if run.output is not None else None


def summary(run: RunView) -> dict[str, Any]:
    return {
        "id": run.instance_id,
        "environment": environment_of(run),
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
        },
        "deadline": status.deadline,
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
    request = contract.RunRequest(
        environment=env.name,
        target_version=body.target_version,
        strategy=contract.Strategy(body.strategy) if body.strategy else None,
        reason=body.reason or f"requested by {caller.name}",
        started_by=caller.name,
        trigger=contract.RunTrigger(kind="http"),
    )
    result = await start_run(client, request)
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


async def decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, approved: bool) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.Decision, allow_empty=True)
    run = await find_run(client, req)
    if not run.active or not decisions.waiting_for_approval(run.status):
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
    event = contract.ApprovalEvent(approved=approved, by=caller.name, comment=body.comment)
    await send_event(client, run, APPROVAL_EVENT, event)
    return json_response({"id": run.instance_id, "event": APPROVAL_EVENT, **contract.wire(event)}, 202)


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
    body = read_body(req, models.RollbackRequest, allow_empty=False)
    run = await find_run(client, req)
    if not run.active or not decisions.can_roll_back(run.status):
        raise ApiError(
            409,
            "NothingToRollBack",
            f"run {run.instance_id} has nothing to roll back (phase {run.phase}, {run.runtime_status})",
            phase=run.phase,
        )
    enabled_in = await reenable_blue(run)
    event = contract.RollbackEvent(trigger="manual", by=caller.name, reason=body.reason, blue_enabled_in=enabled_in)
    await send_event(client, run, ROLLBACK_EVENT, event)
    return json_response({"id": run.instance_id, "event": ROLLBACK_EVENT, **contract.wire(event)}, 202)


@bp.route(route="upgrades/{id}/abort", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def abort_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.AbortRequest, allow_empty=True)
    run = await find_run(client, req)
    if not run.active or not decisions.can_abort(run.status):
        raise ApiError(
            409,
            "TooLateToAbort",
            f"run {run.instance_id} cannot be aborted in phase {run.phase} ({run.runtime_status}); "
            "after the switch use rollback",
            phase=run.phase,
        )
    event = contract.AbortEvent(by=caller.name, reason=body.reason or f"aborted by {caller.name}")
    await send_event(client, run, ABORT_EVENT, event)
    return json_response({"id": run.instance_id, "event": ABORT_EVENT, **contract.wire(event)}, 202)


async def reenable_blue(run: RunView) -> list[str]:
    """The rollback's first make-before-break step, done by the door itself so users are not kept
    waiting for the orchestrator's next replay: enable blue's origins (it never disables anything).

    Returns the origin groups it changed: none when blue was enabled already, or when Front Door
    cannot be written now (the orchestrator routes back anyway when it sees the event).
    """
    plan = run.status.traffic
    if plan is None:
        return []
    try:
        return await asyncio.to_thread(traffic.reenable_blue, azure.clients(), plan)
    except Exception as exc:  # an Azure error: the orchestrator's own route back retries it
        log.warning("run %s: re-enabling blue's origins failed (%s); the run routes back", run.instance_id, exc)
        return []


@bp.route(route="openapi.json", methods=["GET"])
@json_api
async def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
