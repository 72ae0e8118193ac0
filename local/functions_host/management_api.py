"""The Durable HTTP management API under /runtime/webhooks/durabletask/ (also the client's rpcBaseUrl).

Mirrors HttpApiHandler.cs as far as the Python client and the documented API use it.

Raised events: the host records `EventRaised.Input` = the raw request body text, as the real host
does. The Python DurableOrchestrationClient sends `json=json.dumps(data)`, so its payloads arrive
double-encoded: a dict raised with `client.raise_event(..., {"by": "carol"})` reaches the
orchestrator as the *string* '{"by": "carol"}' (azure-functions-durable-python issue #295). The local
host deliberately does not undo this, so code that works here works on Azure; the app normalises
event payloads itself (a str holding JSON is json.loads-ed once). A raw JSON body sent with
curl/urllib arrives as its JSON value.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web

from local.functions_host import history as h
from local.functions_host.engine import RUNNING, TERMINAL, Effects

PREFIX = "/runtime/webhooks/durabletask"


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
    return default if value is None else value.lower() == "true"


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
            web.post(PREFIX + "/instances/{instance_id}/{operation}", self.unsupported),
        ]

    async def start(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        iid = request.match_info.get("instance_id") or uuid.uuid4().hex
        if self.core.index.orchestrator(name) is None:
            return _message(
                400, f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator function."
            )
        existing = self.core.store.instance(iid)
        if existing is not None and existing["status"] in RUNNING:
            return _message(409, f"An instance with ID '{iid}' already exists.")
        body = await request.text()
        fx = Effects()
        with self.core.store.tx() as tx:
            # ExecutionStarted.Input is the body text; the orchestrator's input is its JSON token.
            self.core.engine.create(tx, name, iid, body if body.strip() else None, None, fx)
        self.core.scheduler.apply(fx)
        payload = management_payload(self.core.base_url, self.core.index.task_hub, iid)
        return web.json_response(payload, status=202, headers={"Location": payload["statusQueryGetUri"]})

    async def status(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return web.Response(status=404)
        events = None
        if _flag(request, "showHistory", False):
            with_output = _flag(request, "showHistoryOutput", False)
            events = [_public_event(e, with_output) for e in self.core.store.history(row["instance_id"])]
        payload = status_payload(row, _flag(request, "showInput", True), events)
        if row["status"] in TERMINAL:
            return web.json_response(payload, status=200)
        location = management_payload(self.core.base_url, self.core.index.task_hub, row["instance_id"])
        headers = {"Location": location["statusQueryGetUri"], "Retry-After": "10"}
        return web.json_response(payload, status=202, headers=headers)

    async def list(self, request: web.Request) -> web.Response:
        show_input = _flag(request, "showInput", False)
        rows = [r for r in self.core.store.instances() if _matches(r, request)]
        return web.json_response([status_payload(r, show_input) for r in rows])

    async def raise_event(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _message(404, "No instance with this ID was found.")
        if row["status"] in TERMINAL:
            return _message(410, "The instance is in a terminal state.")
        body = await request.text()
        if body.strip() and request.content_type != "application/json":
            return _message(400, "Only application/json request content is supported")
        if body.strip():
            try:
                json.loads(body)
            except ValueError:
                return _message(400, "The request body is not valid JSON.")
        event = h.event_raised(self.core.clock.now(), request.match_info["event"], body if body.strip() else None)
        with self.core.store.tx() as tx:
            tx.add_inbox(row["instance_id"], "event", event)
        self.core.scheduler.apply(Effects(enqueue=[row["instance_id"]]))
        return web.Response(status=202)

    async def terminate(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return _message(404, "No instance with this ID was found.")
        if row["status"] in TERMINAL:
            return _message(410, "The instance is in a terminal state.")
        fx = Effects()
        with self.core.store.tx() as tx:
            self.core.engine.request_terminate(tx, row["instance_id"], request.query.get("reason"), fx)
        self.core.scheduler.apply(fx)
        return web.Response(status=202)

    async def purge(self, request: web.Request) -> web.Response:
        row = self.core.store.instance(request.match_info["instance_id"])
        if row is None:
            return web.Response(status=404)
        if row["status"] not in TERMINAL:
            return _message(412, "The instance is not in a terminal state.")
        with self.core.store.tx() as tx:
            tx.delete_instance(row["instance_id"])
        return web.json_response({"instancesDeleted": 1})

    async def purge_many(self, request: web.Request) -> web.Response:
        rows = [r for r in self.core.store.instances() if r["status"] in TERMINAL and _matches(r, request)]
        if not rows:
            return web.Response(status=404)
        with self.core.store.tx() as tx:
            for row in rows:
                tx.delete_instance(row["instance_id"])
        return web.json_response({"instancesDeleted": len(rows)})

    async def unsupported(self, request: web.Request) -> web.Response:
        operation = request.match_info["operation"]
        return _message(501, f"'{operation}' is not supported by the local Functions host.")


def _matches(row: dict[str, Any], request: web.Request) -> bool:
    query = request.query
    created = h.parse_time(row["created"])
    if query.get("createdTimeFrom") and created < h.parse_time(query["createdTimeFrom"]):
        return False
    if query.get("createdTimeTo") and created > h.parse_time(query["createdTimeTo"]):
        return False
    statuses = {s.strip() for s in query.get("runtimeStatus", "").split(",") if s.strip()}
    if statuses and row["status"] not in statuses:
        return False
    return row["instance_id"].startswith(query.get("instanceIdPrefix", ""))


def _public_event(event: dict[str, Any], with_output: bool) -> dict[str, Any]:
    public = {k: v for k, v in event.items() if k not in ("IsPlayed",)} | {"EventType": h.type_name(event)}
    if not with_output:
        public.pop("Result", None)
    return public


def _message(status: int, message: str) -> web.Response:
    return web.json_response({"Message": message, "ExceptionMessage": message}, status=status)
