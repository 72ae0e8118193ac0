"""The Durable HTTP management API under /runtime/webhooks/durabletask/ (also the client's rpcBaseUrl).

Mirrors HttpApiHandler.cs as far as the Python client and the documented API use it.

Raised events: the host records `EventRaised.Input` = the raw request body text, as the real host
does. The Python DurableOrchestrationClient sends `json=json.dumps(data)`, so its payloads arrive
double-encoded: a dict raised with `client.raise_event(..., {"by": "carol"})` reaches the
orchestrator as the *string* '{"by": "carol"}' (azure-functions-durable-python issue #295). The local
host deliberately does not undo this, so code that works here works on Azure; the app normalises
event payloads itself (a str holding JSON is json.loads-ed once). A raw JSON body sent with
curl/urllib arrives as its JSON value.

Bad input is refused before anything is stored, with Azure's HttpError body ({"Message",
"ExceptionMessage"}) plus the host's {"error": {"code", "message"}}; a 404 says what was not found
(Azure's is empty; the Python client reads neither). Refused as the extension refuses them: a start
whose body is not UTF-8 JSON or nests deeper than Json.NET reads ("Invalid JSON content": nothing is
created), an instance id over 256 characters, starting with '@' or containing / \\ # ? or control
characters, a raiseEvent body without Content-Type application/json or not JSON, and a filtered purge
without createdTimeFrom. Stricter than the extension (which ignores a value it cannot parse, and so
would list or purge more than asked): createdTimeFrom/To that are not ISO 8601, a runtimeStatus that
is not a status name, and showInput/showHistory/showHistoryOutput other than true or false are 400s.
Unknown operations are 404; rewind, restart, suspend and resume are not supported here (501).
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from local.functions_host import history as h
from local.functions_host.engine import RUNNING, TERMINAL, Effects
from local.functions_host.http_triggers import Refusal, parse_json

PREFIX = "/runtime/webhooks/durabletask"
MAX_INSTANCE_ID = 256  # DurableClient.MaxInstanceIdLength
STATUSES = {s.lower(): s for s in (*RUNNING, *TERMINAL)}
UNSUPPORTED_OPERATIONS = ("rewind", "restart", "suspend", "resume")
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?", re.ASCII
)
Handler = Callable[[Any, web.Request], Awaitable[web.Response]]


def binding_json(base_url: str, task_hub: str) -> str:
    """The durable client binding value, as DurableOrchestrationClientToString builds it."""
    api = f"{base_url}{PREFIX}"
    query = f"taskHub={task_hub}&connection=Storage"
    instance = f"{api}/instances/INSTANCEID"
    return json.dumps(
        {
            "taskHubName": task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{api}/orchestrators/{{functionName}}[/{{instanceId}}]?{query}",
                "createAndWaitOnNewInstancePostUri": f"{api}/orchestrators/{{functionName}}[/{{instanceId}}]"
                f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}",
            },
            "managementUrls": _management_urls(instance, query) | {"id": "INSTANCEID"},
            "baseUrl": api,
            "requiredQueryStringParameters": query,
            "rpcBaseUrl": f"{api}/",
        }
    )


def _management_urls(instance: str, query: str) -> dict[str, str]:
    return {
        "statusQueryGetUri": f"{instance}?{query}",
        "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{instance}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{instance}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{instance}?{query}",
        "restartPostUri": f"{instance}/restart?{query}",
        "suspendPostUri": f"{instance}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{instance}/resume?reason={{text}}&{query}",
    }


def management_payload(base_url: str, task_hub: str, instance_id: str) -> dict[str, str]:
    urls = _management_urls(
        f"{base_url}{PREFIX}/instances/{quote(instance_id, safe='')}", f"taskHub={task_hub}&connection=Storage"
    )
    return {"id": instance_id} | urls


def status_payload(row: dict[str, Any], show_input: bool = True, events: list | None = None) -> dict[str, Any]:
    payload = {
        "name": row["name"],
        "instanceId": row["instance_id"],
        "runtimeStatus": row["status"],
        "input": _token(row["input"]) if show_input else None,
        "customStatus": _token(row["custom_status"]),
        "output": _token(row["output"]),
        "createdTime": h.status_time(h.parse_time(row["created"])),
        "lastUpdatedTime": h.status_time(h.parse_time(row["updated"])),
    }
    if events is not None:
        payload["historyEvents"] = events
    return payload


def _token(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value.strip().lower() not in ("true", "false"):
        raise Refusal(400, "InvalidQuery", f"{name} must be true or false")
    return value.strip().lower() == "true"


def _query_time(query: Mapping[str, str], name: str) -> datetime | None:
    value = query.get(name)
    if not value:
        return None
    if _ISO_TIME.fullmatch(value.strip()):
        try:
            return h.parse_time(value)
        except ValueError:  # a well-formed date that does not exist (2026-02-30)
            pass
    raise Refusal(400, "InvalidQuery", f"{name} must be an ISO 8601 date and time, e.g. 2026-11-20T06:00:00Z")


def _query_statuses(query: Mapping[str, str]) -> frozenset[str]:
    names = [s.strip() for s in query.get("runtimeStatus", "").split(",") if s.strip()]
    unknown = [n for n in names if n.lower() not in STATUSES]
    if unknown:
        shown = ", ".join(repr(n[:40]) for n in unknown[:3])
        raise Refusal(400, "InvalidQuery", f"runtimeStatus {shown} is not one of {', '.join(STATUSES.values())}")
    return frozenset(STATUSES[n.lower()] for n in names)


@dataclass(frozen=True)
class InstanceFilter:
    """The list and purge filters, parsed once: a value that cannot be parsed is a 400, never ignored."""

    created_from: datetime | None
    created_to: datetime | None
    statuses: frozenset[str]
    prefix: str

    @classmethod
    def of(cls, request: web.Request) -> InstanceFilter:
        query = request.query
        return cls(
            _query_time(query, "createdTimeFrom"),
            _query_time(query, "createdTimeTo"),
            _query_statuses(query),
            query.get("instanceIdPrefix", ""),
        )

    def matches(self, row: dict[str, Any]) -> bool:
        created = h.parse_time(row["created"])
        if self.created_from is not None and created < self.created_from:
            return False
        if self.created_to is not None and created > self.created_to:
            return False
        if self.statuses and row["status"] not in self.statuses:
            return False
        return row["instance_id"].startswith(self.prefix)


def instance_id_problem(instance_id: str) -> str | None:
    """DurableClient's rules for a new instance id."""
    if len(instance_id) > MAX_INSTANCE_ID:
        return f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters."
    if instance_id.startswith("@"):
        return "Orchestration instance ids must not start with @."
    if any(c in "/\\#?" or unicodedata.category(c) == "Cc" for c in instance_id):
        return "Orchestration instance ids must not contain /, \\, #, ?, or control characters."
    return None


def refusing(handler: Handler) -> Handler:
    """A Refusal raised by a handler -> Azure's HttpError shape (with the host's error object)."""

    @functools.wraps(handler)
    async def run(self: Any, request: web.Request) -> web.Response:
        try:
            return await handler(self, request)
        except Refusal as refusal:
            return _message(refusal.status, refusal.message, refusal.code)

    return run


class ManagementApi:
    def __init__(self, core: Any) -> None:
        self.core = core  # LocalHost: store, engine, scheduler, index, base_url

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(PREFIX + "/orchestrators/{name}", self.start),
            web.post(PREFIX + "/orchestrators/{name}/{instance_id}", self.start),
            web.get(PREFIX + "/instances", self.list),
            web.get(PREFIX + "/instances/", self.list),
            web.delete(PREFIX + "/instances", self.purge_many),
            web.delete(PREFIX + "/instances/", self.purge_many),
            web.get(PREFIX + "/instances/{instance_id}", self.status),
            web.delete(PREFIX + "/instances/{instance_id}", self.purge),
            web.post(PREFIX + "/instances/{instance_id}/raiseEvent/{event}", self.raise_event),
            web.post(PREFIX + "/instances/{instance_id}/terminate", self.terminate),
            web.post(PREFIX + "/instances/{instance_id}/{operation}", self.operation),
        ]

    @refusing
    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        iid = request.match_info.get("instance_id") or uuid.uuid4().hex
        if self.core.index.orchestrator(name) is None:
            return _message(
                400,
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function.",
                "FunctionNotFound",
            )
        problem = instance_id_problem(iid)
        if problem is not None:
            return _message(400, problem, "InvalidInstanceId")
        body = await self._start_input(request)
        # No await from here to the create: a racing start of the same id sees this one, or is seen.
        existing = self.core.store.instance(iid)
        if existing is not None and existing["status"] in RUNNING:
            return _message(409, f"An instance with ID '{iid}' already exists.", "InstanceExists")
        fx = Effects()
        with self.core.store.tx() as tx:
            # ExecutionStarted.Input is the body text; the orchestrator's input is its JSON token.
            self.core.engine.create(tx, name, iid, body if body.strip() else None, None, fx)
        self.core.scheduler.apply(fx)
        payload = management_payload(self.core.base_url, self.core.index.task_hub, iid)
        return web.json_response(payload, status=202, headers={"Location": payload["statusQueryGetUri"]})

    @staticmethod
    async def _start_input(request: web.Request) -> str:
        """The body text, checked to be JSON before anything is created: ExecutionStarted.Input is this text."""
        raw = await request.read()
        if raw.strip():
            try:
                parse_json(raw)
            except Refusal as refusal:
                raise Refusal(400, refusal.code, f"Invalid JSON content: {refusal.message}") from None
        return raw.decode("utf-8")

    @refusing
    async def status(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _not_found(request.match_info["instance_id"])
        # Every flag is read, used or not: a bad value is refused whatever the others say.
        show_history, with_output = _flag(request, "showHistory", False), _flag(request, "showHistoryOutput", False)
        show_input = _flag(request, "showInput", True)
        events = None
        if show_history:
            events = [_public_event(e, with_output) for e in self.core.store.history(row["instance_id"])]
        payload = status_payload(row, show_input, events)
        if row["status"] in TERMINAL:
            return web.json_response(payload, status=200)
        location = management_payload(self.core.base_url, self.core.index.task_hub, row["instance_id"])
        headers = {"Location": location["statusQueryGetUri"], "Retry-After": "10"}
        return web.json_response(payload, status=202, headers=headers)

    @refusing
    async def list(self, request: web.Request) -> web.Response:
        show_input = _flag(request, "showInput", False)
        where = InstanceFilter.of(request)
        rows = [r for r in self.core.store.instances() if where.matches(r)]
        return web.json_response([status_payload(r, show_input) for r in rows])

    @refusing
    async def raise_event(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _message(404, "No instance with this ID was found.", "InstanceNotFound")
        if row["status"] in TERMINAL:
            return _message(410, "The instance is in a terminal state.", "InstanceEnded")
        if request.content_type.lower() != "application/json":
            return _message(400, "Only application/json request content is supported", "UnsupportedMediaType")
        raw = await request.read()
        if raw.strip():
            try:
                parse_json(raw)
            except Refusal as refusal:
                return _message(400, f"Invalid JSON content: {refusal.message}", refusal.code)
        body = raw.decode("utf-8")
        event = h.event_raised(self.core.clock.now(), request.match_info["event"], body if body.strip() else None)
        with self.core.store.tx() as tx:
            tx.add_inbox(row["instance_id"], "event", event)
        self.core.scheduler.apply(Effects(enqueue=[row["instance_id"]]))
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _message(404, "No instance with this ID was found.", "InstanceNotFound")
        if row["status"] in TERMINAL:
            return _message(410, "The instance is in a terminal state.", "InstanceEnded")
        fx = Effects()
        with self.core.store.tx() as tx:
            self.core.engine.request_terminate(tx, row["instance_id"], request.query.get("reason"), fx)
        self.core.scheduler.apply(fx)
        return web.Response(status=202)

    async def purge(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _not_found(request.match_info["instance_id"])
        if row["status"] not in TERMINAL:
            return _message(412, "The instance is not in a terminal state.", "InstanceRunning")
        with self.core.store.tx() as tx:
            tx.delete_instance(row["instance_id"])
        return web.json_response({"instancesDeleted": 1})

    @refusing
    async def purge_many(self, request: web.Request) -> web.Response:
        where = InstanceFilter.of(request)
        if where.created_from is None:  # as the extension: a filtered purge never means "everything"
            return _message(400, "Please provide value for 'createdTimeFrom' parameter.", "InvalidQuery")
        rows = [r for r in self.core.store.instances() if r["status"] in TERMINAL and where.matches(r)]
        if not rows:
            return _message(404, "No terminal instance matches the filter.", "NotFound")
        with self.core.store.tx() as tx:
            for row in rows:
                tx.delete_instance(row["instance_id"])
        return web.json_response({"instancesDeleted": len(rows)})

    async def operation(self, request: web.Request) -> web.Response:
        """POST /instances/{id}/{operation} other than terminate: the ones Azure has but this host lacks are 501."""
        iid, operation = request.match_info["instance_id"], request.match_info["operation"]
        if self.core.store.instance(iid) is None:
            return _message(404, "No instance with this ID was found.", "InstanceNotFound")
        if operation.lower() in UNSUPPORTED_OPERATIONS:
            return _message(501, f"'{operation}' is not supported by the local Functions host.", "NotSupported")
        return _message(404, f"There is no instance operation {operation[:50]!r}.", "NotFound")


def _public_event(event: dict[str, Any], with_output: bool) -> dict[str, Any]:
    public = {k: v for k, v in event.items() if k not in ("IsPlayed",)} | {"EventType": h.type_name(event)}
    if not with_output:
        public.pop("Result", None)
    return public


def _message(status: int, message: str, code: str) -> web.Response:
    body = {"Message": message, "ExceptionMessage": message, "error": {"code": code, "message": message}}
    return web.json_response(body, status=status)


def _not_found(instance_id: str) -> web.Response:
    return _message(404, f"No instance with ID {instance_id[:MAX_INSTANCE_ID]!r} was found.", "InstanceNotFound")
