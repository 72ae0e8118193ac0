"""Deciding on a run: approve, reject, roll back, abort, resolve by hand; and a pipeline's green-ready.

Each door checks what the run accepts now (its RunStatus), raises the event with an id of its own and
the caller from Easy Auth (never from the body), then waits a moment to see what the run took: the
answer says what happened, and a decision that can no longer apply (the run decided otherwise
first) is a 409. Who may decide: `approval.approvers` for approvals (four-eyes), `operators`
(default: the approvers) for abort, rollback and resolving by hand.

The checks are functions that return the refusal rather than raise it (`approval_refusal`,
`approver_refusal`, ...), and each decision is one function of (run, caller, what they said)
(`decide_run`, `abort_run`, `roll_back_run`): the JSON doors below and the web pages (triggers/ui.py)
call the same ones, so a page shows a button exactly when the door would take it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import config, contract
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT, GREEN_READY_EVENT, RESOLVE_EVENT, ROLLBACK_EVENT
from triggers import decisions
from triggers.http_common import (
    ApiError,
    acknowledged,
    bp,
    environment,
    find_run,
    models,
    new_event_id,
    read_body,
    reenable_blue,
    require_caller,
    require_one_of,
    send_event,
    started_by,
)
from triggers.identity import Caller
from triggers.responses import json_api, json_response
from triggers.runs import RunView


@dataclass(frozen=True)
class Raised:
    """An event a door raised on a run, and what the run made of it."""

    run: RunView
    name: str
    event: contract.Contract
    # `taken` (the run acted on this event), `accepted` (raised; not acted on yet), or what the run was
    # already doing instead.
    result: str


def answer(run: RunView, name: str, event: contract.Contract, outcome: str, status: int = 202) -> func.HttpResponse:
    """`result`: `taken` (the run acted on this event), `accepted` (raised; not acted on yet), or what the
    run was already doing instead."""
    fields = contract.wire(event)
    body: dict[str, Any] = {"id": run.instance_id, "event": name, "eventId": fields.pop("id", None), "result": outcome}
    return json_response(body | fields, status)


def answered(raised: Raised) -> func.HttpResponse:
    return answer(raised.run, raised.name, raised.event, raised.result)


def describe(decision: contract.Decision | None) -> str:
    if decision is None:
        return "it ended"
    if decision.by is None:
        return decision.comment or "no decision"
    return f"{'approved' if decision.approved else 'rejected'} by {decision.by}"


def refuse(refusal: ApiError | None) -> None:
    if refusal is not None:
        raise refusal


# ---- what the run accepts now, and who may act on it: refusals, or None


def approval_refusal(run: RunView) -> ApiError | None:
    if run.active and decisions.waiting_for_approval(run.status):
        return None
    return ApiError(
        409,
        "NotAwaitingApproval",
        f"run {run.instance_id} is not waiting for approval (phase {run.phase})",
        phase=run.phase,
    )


def approver_refusal(caller: Caller, env: config.Environment, run: RunView) -> ApiError | None:
    check = decisions.approver_check(
        {caller.name.lower(), *caller.aliases}, env.approval.approvers, env.approval.four_eyes, started_by(run)
    )
    if check == decisions.ApproverCheck.NOT_AN_APPROVER:
        return ApiError(403, "NotAnApprover", f"{caller.name} is not an approver of {env.name}")
    if check == decisions.ApproverCheck.INITIATOR:
        return ApiError(403, "FourEyes", f"{caller.name} started this run; four-eyes needs someone else to decide")
    return None


def rollback_refusal(run: RunView) -> ApiError | None:
    if run.active and decisions.can_roll_back(run.status):
        return None
    return ApiError(
        409,
        "NothingToRollBack",
        f"run {run.instance_id} has nothing to roll back (phase {run.phase}, {run.runtime_status})",
        phase=run.phase,
    )


def abort_refusal(run: RunView) -> ApiError | None:
    if run.active and decisions.can_abort(run.status):
        return None
    return ApiError(
        409,
        "TooLateToAbort",
        f"run {run.instance_id} cannot be aborted in phase {run.phase} ({run.runtime_status}); "
        "after the switch use rollback",
        phase=run.phase,
    )


def operator_refusal(caller: Caller, env: config.Environment, what: str) -> ApiError | None:
    """`what`: the verb, as the refusal says it ("abort", "roll back")."""
    try:
        require_one_of(caller, env.operator_names, env, what)
    except ApiError as refused:
        return refused
    return None


# ---- the decisions, whoever asks (a JSON door or a web page's form)


async def decide_run(
    client: df.DurableOrchestrationClient, run: RunView, caller: Caller, approved: bool, comment: str | None
) -> Raised:
    refuse(approval_refusal(run))
    env = environment(run)
    refuse(approver_refusal(caller, env, run))
    event = contract.ApprovalEvent(
        approved=approved, by=caller.name, comment=comment, id=new_event_id(), deadline=run.status.deadline
    )
    await send_event(client, run, APPROVAL_EVENT, event)
    seen = await acknowledged(client, run, lambda r: r.status.approval is not None)
    decision = seen.status.approval if seen is not None else None
    if seen is not None and (decision is None or decision.event_id != event.id):
        raise ApiError(
            409, "DecisionAlreadyTaken", f"run {run.instance_id} was decided otherwise first: {describe(decision)}"
        )
    return Raised(run, APPROVAL_EVENT, event, "taken" if seen is not None else "accepted")


async def roll_back_run(client: df.DurableOrchestrationClient, run: RunView, caller: Caller, reason: str) -> Raised:
    refuse(rollback_refusal(run))
    env = environment(run)
    refuse(operator_refusal(caller, env, "roll back"))
    enabled_in = await reenable_blue(run)
    event = contract.RollbackEvent(
        trigger="manual", by=caller.name, reason=reason, id=new_event_id(), blue_enabled_in=enabled_in
    )
    await send_event(client, run, ROLLBACK_EVENT, event)
    seen = await acknowledged(client, run, lambda r: r.status.rollback is not None)
    record = seen.status.rollback if seen is not None else None
    if record is not None and record.event_id != event.id:
        return Raised(run, ROLLBACK_EVENT, event, f"already rolling back ({record.trigger}: {record.detail})")
    return Raised(run, ROLLBACK_EVENT, event, "taken" if record is not None else "accepted")


async def abort_run(client: df.DurableOrchestrationClient, run: RunView, caller: Caller, reason: str | None) -> Raised:
    refuse(abort_refusal(run))
    env = environment(run)
    refuse(operator_refusal(caller, env, "abort"))
    event = contract.AbortEvent(by=caller.name, reason=reason or f"aborted by {caller.name}", id=new_event_id())
    await send_event(client, run, ABORT_EVENT, event)
    seen = await acknowledged(client, run, lambda r: r.status.abort is not None)
    taken = seen.status.abort if seen is not None else None
    if taken is not None and taken.id != event.id:
        return Raised(run, ABORT_EVENT, event, f"already aborting (by {taken.by})")
    return Raised(run, ABORT_EVENT, event, "taken" if taken is not None else "accepted")


# ---- the JSON doors


async def decide(req: func.HttpRequest, client: df.DurableOrchestrationClient, approved: bool) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.Decision, allow_empty=True)
    run = await find_run(client, req)
    return answered(await decide_run(client, run, caller, approved, body.comment))


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
    return answered(await roll_back_run(client, run, caller, body.reason))


@bp.route(route="upgrades/{id}/abort", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def abort_upgrade(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    caller = require_caller(req)
    body = read_body(req, models.AbortRequest, allow_empty=True)
    run = await find_run(client, req)
    return answered(await abort_run(client, run, caller, body.reason))


@bp.route(route="upgrades/{id}/resolve-manually", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def resolve_upgrade_manually(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """End a run that keeps failing to route traffic back: the operator takes it from here."""
    caller = require_caller(req)
    body = read_body(req, models.ResolveRequest, allow_empty=False)
    run = await find_run(client, req)
    if not run.active or not run.status.can_resolve_manually:
        raise ApiError(
            409,
            "NothingToResolve",
            f"run {run.instance_id} is not waiting on anything an operator can resolve (phase {run.phase})",
            phase=run.phase,
        )
    env = environment(run)
    require_one_of(caller, env.operator_names, env, "resolve")
    event = contract.ResolveEvent(by=caller.name, reason=body.reason, id=new_event_id())
    await send_event(client, run, RESOLVE_EVENT, event)
    seen = await acknowledged(client, run, lambda r: not r.status.can_resolve_manually)
    return answer(run, RESOLVE_EVENT, event, "taken" if seen is not None else "accepted")


@bp.route(route="upgrades/{id}/green-ready", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def green_ready(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The team's pipeline has deployed the applications to green (`ok`), or could not (`ok: false`)."""
    caller = require_caller(req)
    body = read_body(req, models.GreenReadyRequest, allow_empty=False)
    run = await find_run(client, req)
    if not run.active or run.status.awaiting != contract.Awaiting.GREEN_READY:
        raise ApiError(
            409,
            "NotAwaitingGreenReady",
            f"run {run.instance_id} is not waiting for its pipeline (phase {run.phase})",
            phase=run.phase,
        )
    env = environment(run)
    pipeline = env.workloads.pipeline
    require_one_of(caller, pipeline.callers if pipeline else [], env, "report green ready for")
    event = contract.GreenReadyEvent(ok=body.ok, by=caller.name, detail=body.detail, id=new_event_id())
    await send_event(client, run, GREEN_READY_EVENT, event)
    seen = await acknowledged(client, run, lambda r: r.status.awaiting != contract.Awaiting.GREEN_READY)
    return answer(run, GREEN_READY_EVENT, event, "taken" if seen is not None else "accepted")
