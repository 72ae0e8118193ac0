"""What the operator API's routes share: the blueprint, who calls, bodies, runs and raised events.

Calls that change clusters or traffic need a caller (App Service Authentication headers); reads need
only the function key. Every answer is JSON; errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import azure, config, contract, lazy_import, traffic
from triggers.identity import Caller, IdentityMismatch, caller_from_headers
from triggers.responses import ApiError, invalid, parse_json_body
from triggers.runs import RunView, get_run, start_run

if TYPE_CHECKING:
    from pydantic import BaseModel

    from triggers import models
else:
    models = lazy_import("triggers.models")

bp = df.Blueprint()
log = logging.getLogger("bluegreen.triggers")
Body = TypeVar("Body", bound="BaseModel")
# How long a door waits to see the run take the event it raised, before answering "accepted" anyway.
ACKNOWLEDGE_SECONDS = 5.0
ACKNOWLEDGE_POLL_SECONDS = 0.05


def require_caller(req: func.HttpRequest) -> Caller:
    try:
        caller = caller_from_headers(req.headers)
    except IdentityMismatch:
        raise ApiError(401, "IdentityMismatch", "the caller's name does not match its signed identity") from None
    if caller is None:
        raise ApiError(401, "Unauthenticated", "sign in: this call needs an App Service Authentication identity")
    return caller


async def start_or_conflict(client: df.DurableOrchestrationClient, request: contract.RunRequest) -> str:
    """Start the run and return its id; 409 with the running run's id when the environment has one."""
    result = await start_run(client, request)
    if not result.started:
        raise ApiError(
            409,
            "RunInProgress",
            f"{request.environment} already has a run in progress: {result.instance_id}",
            runId=result.instance_id,
        )
    assert result.instance_id is not None
    return result.instance_id


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


def new_event_id() -> str:
    return uuid.uuid4().hex


def require_one_of(caller: Caller, names: Iterable[str], env: config.Environment, what: str) -> None:
    """`names` empty: any authenticated caller; else the caller must be one of them."""
    allowed = [n for n in names if n.strip()]
    if allowed and not caller.is_one_of(allowed):
        raise ApiError(403, "NotAnOperator", f"{caller.name} may not {what} runs of {env.name}")


def environment(run: RunView) -> config.Environment:
    env = environments_config().get(environment_of(run))
    if env is None:
        raise ApiError(409, "UnknownEnvironment", f"environment {environment_of(run)!r} is no longer configured")
    return env


async def acknowledged(
    client: df.DurableOrchestrationClient, run: RunView, taken: Callable[[RunView], bool]
) -> RunView | None:
    """The run once it shows it acted on what the door raised (or ended), or None if it has not yet.

    The door then answers from what the run decided, not from what it asked: a decision that lost
    a race (approve and reject together, a late approval after the timeout) is refused with 409.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ACKNOWLEDGE_SECONDS
    while True:
        latest = await get_run(client, run.instance_id)
        if latest is None or not latest.active or taken(latest):
            return latest
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(ACKNOWLEDGE_POLL_SECONDS)


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
