"""The host's admin API: POST /admin/functions/{name} runs a non-HTTP function now.

As the Functions host does: every /admin route needs the master key (`x-functions-key` header, or
`code=` in the query) else 401, checked before the function is looked up; an unknown function is
404; a body that is not {"input": <string, number, boolean or null>} is 400; otherwise the
invocation starts and the answer is 202 Accepted at once, without waiting for the function. A timer
function runs with IsPastDue false and its schedule is untouched; an Event Grid function is given
the event whose JSON is `input`. (Core Tools does not check the key locally; this host does, so a
caller that works here sends what Azure needs.)
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiohttp import web

from local.functions_host import eventgrid
from local.functions_host.http_triggers import Refusal, call_function, json_error, parse_json

log = logging.getLogger("functions_host")
PREFIX = "/admin"


def has_master_key(request: web.Request, master_key: str) -> bool:
    given = request.headers.get("x-functions-key") or request.query.get("code") or ""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), master_key.encode())


class AdminApi:
    def __init__(self, core: Any) -> None:
        self.core = core  # LocalHost: master_key, index, timers, scheduler, loop

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PREFIX + "/functions/{name}", self.invoke)]

    async def invoke(self, request: web.Request) -> web.Response:
        if not has_master_key(request, self.core.master_key):
            return json_error(401, "Unauthorized", "the admin API needs the master key in x-functions-key")
        name = request.match_info["name"]
        fn = self.core.index.functions.get(name)
        if fn is None:
            return json_error(404, "FunctionNotFound", f"there is no function {name[:100]!r}")
        value = _input(parse_json(await request.read()))
        if fn.trigger_type == "timerTrigger":
            if name in self.core.timers.errors:
                return json_error(400, "FunctionInError", self.core.timers.errors[name])
            self.core.timers.invoke(name)  # its input is ignored, as the timer extension does
        elif fn.trigger_type == "eventGridTrigger":
            event = parse_json(value.encode("utf-8", "surrogatepass"), "input") if isinstance(value, str) else None
            if not isinstance(event, dict):
                raise Refusal(400, "InvalidEvent", "input must be one Event Grid event or CloudEvent, as JSON text")
            self._start(fn, eventgrid.decode(0, event))
        else:
            message = f"{name} is a {fn.trigger_type} function; the admin API runs timer and Event Grid functions"
            return json_error(400, "NotSupported", message)
        log.info("admin: %s invoked", name)
        return web.Response(status=202)

    def _start(self, fn: Any, value: Any) -> None:
        task = self.core.loop.create_task(self._run(fn, value))
        self.core.scheduler.track(task)  # in-flight work until it returns, like a timer firing

    async def _run(self, fn: Any, value: Any) -> None:
        try:
            await call_function(self.core, fn, value)
        except Exception:
            log.exception("admin invocation of %s raised", fn.name)


def _input(body: Any) -> Any:
    if not isinstance(body, dict):
        raise Refusal(400, "InvalidBody", 'the body must be {"input": "..."}')
    value = body.get("input")
    if value is not None and not isinstance(value, str | int | float | bool):
        raise Refusal(400, "InvalidBody", "input must be a string, a number or a boolean")
    return value
