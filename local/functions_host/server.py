"""The aiohttp application: management API, Event Grid webhook and /api/<route> HTTP triggers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from local.functions_host.eventgrid import EventGridWebhook
from local.functions_host.http_triggers import ROUTE_PREFIX, HttpTriggers
from local.functions_host.management_api import ManagementApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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

    app = web.Application(middlewares=[count_inflight], client_max_size=64 * 1024 * 1024)
    triggers = HttpTriggers(core)
    eventgrid = EventGridWebhook(core)
    app.add_routes(ManagementApi(core).routes())
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
    lines.append(f"  durable management API: {base}/runtime/webhooks/durabletask/")
    for name in core.index.by_trigger("orchestrationTrigger"):
        lines.append(f"  {name}: orchestrationTrigger")
    for name in core.index.by_trigger("activityTrigger"):
        lines.append(f"  {name}: activityTrigger")
    return lines
