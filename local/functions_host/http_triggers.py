"""HTTP triggers on /api/<route>: route templates, func.HttpRequest in, func.HttpResponse out.

Function keys (`code=` or `x-functions-key`) are accepted and not checked, as Core Tools does locally.

Also what every door of the host shares to refuse bad input: `Refusal` (raised anywhere in a
handler, answered by the server's middleware) and `parse_json` (UTF-8 JSON at most MAX_JSON_DEPTH
deep, as the host's extensions read bodies with Json.NET). A refusal is a 4xx with a JSON body
{"error": {"code", "message"}}; a 500 means a function failed (or a bug in the host), never the input.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import azure.functions as func
from aiohttp import web

from local.functions_host.app_index import IndexedFunction

log = logging.getLogger("functions_host")
ROUTE_PREFIX = "/api"
# Json.NET's default JsonReader.MaxDepth (since 13.0.1), which the Durable and Event Grid extensions parse with.
MAX_JSON_DEPTH = 64
_TOKEN = re.compile(r"\{([^}]+)\}")
_CONSTRAINTS = {"int": r"-?\d+", "long": r"-?\d+", "bool": r"(?i:true|false)", "guid": r"[0-9a-fA-F-]{36}"}


class Refusal(Exception):
    """Bad input: answered with `status` and a JSON error naming what is wrong."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def parse_json(raw: bytes, what: str = "body") -> Any:
    """The bytes as JSON, or a Refusal: not UTF-8, not JSON, or nested deeper than MAX_JSON_DEPTH."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal(400, "InvalidJson", f"the {what} is not valid JSON: not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number is out of range"
        raise Refusal(400, "InvalidJson", f"the {what} is not valid JSON: {reason}") from None
    if nests_deeper_than(value, MAX_JSON_DEPTH):
        raise _too_deep(what)
    return value


def _too_deep(what: str) -> Refusal:
    return Refusal(400, "TooDeeplyNested", f"the {what} nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Without recursion: the input chooses the depth."""
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth >= limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


@dataclass
class Route:
    function: IndexedFunction
    template: str
    methods: set[str] | None  # None: every method
    pattern: re.Pattern[str]
    names: dict[str, str]  # regex group -> route parameter name


def compile_route(template: str) -> tuple[re.Pattern[str], dict[str, str]]:
    """ASP.NET-style template: literals (case-insensitive), {p}, {p?}, {p:int}, {*rest}."""
    names: dict[str, str] = {}
    pattern = ""
    for segment in [s for s in template.strip("/").split("/") if s]:
        whole = re.fullmatch(r"\{(\*?)([^}:?=]+)(?::[^}?]*)?(\?)?\}", segment)
        if whole and (whole.group(1) or whole.group(3)):
            group = f"g{len(names)}"
            names[group] = whole.group(2)
            body = ".*" if whole.group(1) else "[^/]+"
            pattern += f"(?:/(?P<{group}>{body}))?"
            continue
        piece, last = "", 0
        for token in _TOKEN.finditer(segment):
            piece += re.escape(segment[last : token.start()])
            spec = token.group(1).lstrip("*")
            name, _, constraint = spec.partition(":")
            group = f"g{len(names)}"
            names[group] = name.rstrip("?")
            piece += f"(?P<{group}>{_CONSTRAINTS.get(constraint.split('(')[0], '[^/]+?')})"
            last = token.end()
        pattern += "/" + piece + re.escape(segment[last:])
    return re.compile(f"(?i:^{pattern}/?$)"), names


def build_routes(functions: dict[str, IndexedFunction]) -> list[Route]:
    routes = []
    for fn in functions.values():
        template = fn.trigger.get("route") or fn.name
        methods = {m.upper() for m in fn.trigger.get("methods") or []} or None
        pattern, names = compile_route(template)
        routes.append(Route(fn, template, methods, pattern, names))
    # Literal routes win over parameterised ones, as in ASP.NET routing.
    return sorted(routes, key=lambda r: (r.template.count("{"), -len(r.template)))


class HttpTriggers:
    def __init__(self, core: Any) -> None:
        self.core = core
        self.routes = build_routes(core.index.by_trigger("httpTrigger"))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path[len(ROUTE_PREFIX) :] or "/"
        allowed = False
        for route in self.routes:
            match = route.pattern.match(path)
            if not match:
                continue
            if route.methods is not None and request.method not in route.methods:
                allowed = True
                continue
            params = {route.names[g]: v for g, v in match.groupdict().items() if v is not None}
            return await self._invoke(route, request, params)
        if allowed:
            return json_error(405, "MethodNotAllowed", f"no HTTP function takes {request.method} {request.path}")
        return json_error(404, "NotFound", f"no HTTP function serves {request.path}")

    async def _invoke(self, route: Route, request: web.Request, params: dict[str, str]) -> web.StreamResponse:
        fn = route.function
        req = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=dict(request.query),
            route_params=params,
            body=await request.read(),
        )
        kwargs = invocation_kwargs(self.core, fn, req)
        started = time.perf_counter()
        try:
            if fn.is_async:
                result = await fn.user_function(**kwargs)
            else:
                result = await self.core.loop.run_in_executor(
                    self.core.scheduler.pool, partial(fn.user_function, **kwargs)
                )
        except Exception:
            log.error(
                "http %s %s -> function %s raised:\n%s", request.method, request.path, fn.name, traceback.format_exc()
            )
            return web.json_response({"error": "Internal Server Error", "function": fn.name}, status=500)
        response = to_response(result)
        log.info(
            "http %s %s -> %s %d (%.0f ms)",
            request.method,
            request.path,
            fn.name,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response


class _Context:
    """The bits of func.Context a function (and the durable client middleware) reads."""

    def __init__(self, function_name: str) -> None:
        self.invocation_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_directory = ""
        self.trace_context = None
        self.retry_context = None


def invocation_kwargs(core: Any, fn: IndexedFunction, trigger_value: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {fn.trigger_name: trigger_value}
    if fn.client_binding:
        kwargs[fn.client_binding] = core.binding_json
    if fn.wants_context:
        kwargs["context"] = _Context(fn.name)
    return kwargs


async def call_function(core: Any, fn: IndexedFunction, trigger_value: Any) -> Any:
    """Invoke a non-orchestrator function with its bindings: async ones on the loop, sync ones in the pool."""
    kwargs = invocation_kwargs(core, fn, trigger_value)
    if fn.is_async:
        return await fn.user_function(**kwargs)
    return await core.loop.run_in_executor(core.scheduler.pool, partial(fn.user_function, **kwargs))


def to_response(result: Any) -> web.Response:
    if isinstance(result, func.HttpResponse):
        headers = dict(result.headers)
        if not any(k.lower() == "content-type" for k in headers) and result.mimetype:
            charset = f"; charset={result.charset}" if result.charset else ""
            headers["Content-Type"] = f"{result.mimetype}{charset}"
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str | bytes):
        return web.Response(status=200, body=result.encode() if isinstance(result, str) else result)
    return web.Response(status=200, text=json.dumps(result), content_type="application/json")
