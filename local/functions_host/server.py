"""The aiohttp application: management API, admin API, Event Grid webhook and /api/<route> HTTP triggers.

Every refusal is JSON {"error": {"code", "message"}} (the management API adds Azure's HttpError
fields): an unknown route (404), a wrong method (405), a request over MAX_REQUEST_BYTES (413, from
its Content-Length before the body is read, or while reading a chunked one), or a `Refusal` raised
by a door. A 500 is a function's failure, or a bug in the host (logged with its traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from local.functions_host.admin_api import AdminApi
from local.functions_host.eventgrid import EventGridWebhook
from local.functions_host.http_triggers import ROUTE_PREFIX, HttpTriggers, Refusal, json_error
from local.functions_host.management_api import ManagementApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger("functions_host")
# Azure Functions' limit on an HTTP request body (100 MB); the app's own routes accept far less.
MAX_REQUEST_BYTES = 100 * 1024 * 1024
_CODES = {404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


async def too_large(request: web.Request, size: int) -> web.StreamResponse:
    """413 without reading a byte of the body, then the connection closes (as Kestrel does): aiohttp would
    otherwise linger reading the body it refused, for up to 10 s, past a test host's stop."""
    response = json_error(
        413, "PayloadTooLarge", f"the request body is {size} bytes; at most {MAX_REQUEST_BYTES} are read"
    )
    response.force_close()  # says "Connection: close"
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


@web.middleware
async def refuse_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    declared = request.content_length
    if declared is not None and declared > MAX_REQUEST_BYTES:
        return await too_large(request, declared)
    try:
        return await handler(request)
    except Refusal as refusal:
        return json_error(refusal.status, refusal.code, refusal.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except Exception:
        log.exception("host error on %s %s", request.method, request.path)
        return json_error(500, "HostError", "the local Functions host failed; see its log")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    messages = {
        404: f"nothing is served at {request.path}",
        405: f"{request.path} does not take {request.method}",
    }
    message = messages.get(exc.status) or exc.text or exc.reason
    return json_error(exc.status, _CODES.get(exc.status, "BadRequest"), message)


def build_app(core: Any) -> tuple[web.Application, HttpTriggers, EventGridWebhook]:
    @web.middleware
    async def count_inflight(request: web.Request, handler: Handler) -> web.StreamResponse:
        # A request being handled keeps a virtual clock from jumping: it may be about to add work.
        core.scheduler.http_inflight += 1
        try:
            return await handler(request)
        finally:
            core.scheduler.http_inflight -= 1
            core.scheduler.wake()

    app = web.Application(middlewares=[count_inflight, refuse_as_json], client_max_size=MAX_REQUEST_BYTES)
    triggers = HttpTriggers(core)
    eventgrid = EventGridWebhook(core)
    app.add_routes(ManagementApi(core).routes())
    app.add_routes(AdminApi(core).routes())
    app.add_routes(eventgrid.routes())
    app.router.add_route("*", ROUTE_PREFIX + "/{tail:.*}", triggers.handle)
    return app, triggers, eventgrid


def describe_routes(core: Any, triggers: HttpTriggers) -> list[str]:
    """Human-readable lines for what the host serves (printed by `serve`)."""
    base = core.base_url
    lines = [f"Functions host: {base}"]
    for route in triggers.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "ALL"
        lines.append(f"  {route.function.name}: [{methods}] {base}{ROUTE_PREFIX}/{route.template.lstrip('/')}")
    for name in core.index.by_trigger("eventGridTrigger"):
        lines.append(f"  {name}: [POST] {base}/runtime/webhooks/eventgrid?functionName={name}")
    for name in core.index.by_trigger("timerTrigger"):
        status = core.timers.status(name)
        if "error" in status:
            lines.append(f"  {name}: timerTrigger (error: {status['error']})")
        else:
            lines.append(f"  {name}: timerTrigger ({status['schedule']}, next {status['next']:%Y-%m-%dT%H:%M:%SZ})")
    # The master key is this host's own (random unless given): whoever runs it may call its admin API.
    lines.append(f"  admin API: [POST] {base}/admin/functions/{{name}} (x-functions-key: {core.master_key})")
    lines.append(f"  durable management API: {base}/runtime/webhooks/durabletask/")
    for name in core.index.by_trigger("orchestrationTrigger"):
        lines.append(f"  {name}: orchestrationTrigger")
    for name in core.index.by_trigger("activityTrigger"):
        lines.append(f"  {name}: activityTrigger")
    return lines
