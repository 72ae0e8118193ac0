"""Event Grid trigger webhook: POST /runtime/webhooks/eventgrid?functionName=NAME.

As the Functions Event Grid extension does: `aeg-event-type: SubscriptionValidation` is answered
synchronously with {"validationResponse": code} (from the first event's data, or a CloudEvent's
JSON-encoded data); `Notification` invokes the function once per event of the array (or once for a
single CloudEvents object); `Unsubscribe` is 202; any other value is 400. A delivery without the
header is taken as a Notification (curl, the rehearsal's `--event FILE`), and any delivery that
contains a SubscriptionValidationEvent is answered as a validation. CloudEvents' abuse-protection
handshake is an OPTIONS request with WebHook-Request-Origin, answered with WebHook-Allowed-Origin.

A malformed delivery is refused with 400 and a JSON error naming the problem, before any event of
it is invoked (Event Grid does not retry a 400, so acting on part of it would act on events whose
delivery is reported failed). Refused: a body that is not UTF-8 JSON, is nested deeper than Json.NET
reads, or is not an object or an array of objects; an Event Grid schema event without `id`,
`eventType` or an ISO 8601 `eventTime`, or with a non-string `topic`/`subject`/`dataVersion`; a
CloudEvent whose `specversion` is not "1.0", without `id`/`source`/`type`, with a bad `time` or an
attribute name that is not lowercase ASCII letters and digits. `subject` and `data` may be absent
or null. A function that raises gives 500, on which Event Grid retries (at-least-once delivery).
Success is 200 here (the extension answers 202).
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
from functools import partial
from typing import Any

from aiohttp import web
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from local.functions_host.http_triggers import Refusal, invocation_kwargs, json_error, parse_json

log = logging.getLogger("functions_host")
PATH = "/runtime/webhooks/eventgrid"
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
NOTIFICATION, VALIDATION, UNSUBSCRIBE = "notification", "subscriptionvalidation", "unsubscribe"

_EVENT_GRID_REQUIRED = ("id", "eventType", "eventTime")
_EVENT_GRID_STRINGS = ("topic", "subject", "dataVersion", "metadataVersion")
_CLOUD_REQUIRED = ("id", "source", "type")
_CLOUD_STRINGS = ("subject", "time", "datacontenttype", "dataschema")
# CloudEvents 1.0: attribute names are lowercase ASCII letters and digits; data_base64 is the JSON format's.
_CLOUD_ATTRIBUTE = re.compile(r"[a-z0-9]+|data_base64", re.ASCII)


def _refuse(message: str, code: str = "InvalidEvent") -> Refusal:
    return Refusal(400, code, message)


# ---- what a delivery must look like


def delivery_kind(header: str | None) -> str:
    kind = NOTIFICATION if header is None else header.strip().lower()
    if kind not in (NOTIFICATION, VALIDATION, UNSUBSCRIBE):
        raise _refuse(
            f"aeg-event-type must be Notification, SubscriptionValidation or Unsubscribe, not {header[:50]!r}",
            "UnknownEventType",
        )
    return kind


def events_of(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, list | dict):
        raise _refuse("the delivery must be an array of events or one event object")
    events = body if isinstance(body, list) else [body]
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _refuse(f"event {index} is not a JSON object")
    return events


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _valid_time(value: str) -> bool:
    """What the worker's converter can parse (it would fail the invocation on anything else)."""
    try:
        return meta.InConverter._parse_datetime(value) is not None
    except (ValueError, TypeError, OverflowError):
        return False


def event_problem(event: dict[str, Any]) -> str | None:
    return _cloud_event_problem(event) if "specversion" in event else _event_grid_problem(event)


def _event_grid_problem(event: dict[str, Any]) -> str | None:
    missing = [name for name in _EVENT_GRID_REQUIRED if not _is_text(event.get(name))]
    if missing:
        return f"{', '.join(missing)} must be non-empty strings (Event Grid schema)"
    wrong = [name for name in _EVENT_GRID_STRINGS if event.get(name) is not None and not isinstance(event[name], str)]
    if wrong:
        return f"{', '.join(wrong)} must be strings"
    if not _valid_time(event["eventTime"]):
        return "eventTime is not an ISO 8601 date and time"
    return None


def _cloud_event_problem(event: dict[str, Any]) -> str | None:
    if event["specversion"] != "1.0":
        return 'specversion must be "1.0" (CloudEvents)'
    missing = [name for name in _CLOUD_REQUIRED if not _is_text(event.get(name))]
    if missing:
        return f"{', '.join(missing)} must be non-empty strings (CloudEvents)"
    wrong = [name for name in _CLOUD_STRINGS if event.get(name) is not None and not isinstance(event[name], str)]
    if wrong:
        return f"{', '.join(wrong)} must be strings"
    if event.get("time") and not _valid_time(event["time"]):
        return "time is not an RFC 3339 date and time"
    bad_names = [name for name in event if not _CLOUD_ATTRIBUTE.fullmatch(name)]
    if bad_names:
        return f"attribute names must be lowercase ASCII letters and digits: {', '.join(map(repr, bad_names[:3]))}"
    return None


def decode(index: int, event: dict[str, Any]) -> Any:
    """func.EventGridEvent or func.CloudEvent, as the worker's converter builds it (it picks by `specversion`)."""
    problem = event_problem(event)
    if problem is not None:
        raise _refuse(f"event {index}: {problem}")
    try:
        return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata=None)
    except (ValueError, TypeError) as exc:  # e.g. a CloudEvents extension named like a parameter
        raise _refuse(f"event {index} cannot be decoded by the Python worker ({type(exc).__name__})") from None


# ---- the validation handshake


def validation_code(body: Any) -> str:
    """The code to echo: data.validationCode of the validation event (or the first), as the extension reads it."""
    if isinstance(body, list):
        if not body:
            raise _refuse("a subscription validation needs an event", "InvalidValidationEvent")
        validation = next((e for e in body if isinstance(e, dict) and e.get("eventType") == VALIDATION_EVENT), None)
        event = validation if validation is not None else body[0]
    else:
        event = body
    data = event.get("data") if isinstance(event, dict) else None
    if isinstance(data, str):  # a CloudEvent's validation data is JSON-encoded once more
        try:
            data = parse_json(data.encode("utf-8", "surrogatepass"), "validation event's data")
        except Refusal:
            data = None
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not _is_text(code):
        raise _refuse("the subscription validation event has no data.validationCode string", "InvalidValidationEvent")
    return code


def has_validation_event(body: Any) -> bool:
    events = body if isinstance(body, list) else [body]
    return any(isinstance(e, dict) and e.get("eventType") == VALIDATION_EVENT for e in events)


class EventGridWebhook:
    def __init__(self, core: Any) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self.deliver), web.options(PATH, self.handshake)]

    def _function(self, request: web.Request) -> Any:
        name = request.query.get("functionName", "")
        return self.core.index.by_trigger("eventGridTrigger").get(name)

    def _unknown_function(self, request: web.Request) -> web.Response:
        name = request.query.get("functionName", "")
        return json_error(404, "FunctionNotFound", f"cannot find Event Grid function {name[:100]!r}")

    async def handshake(self, request: web.Request) -> web.Response:
        if self._function(request) is None:
            return self._unknown_function(request)
        origin = request.headers.get("WebHook-Request-Origin")
        if not origin:
            return json_error(400, "MissingOrigin", "a CloudEvents handshake needs a WebHook-Request-Origin header")
        return web.Response(status=200, headers={"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"})

    async def deliver(self, request: web.Request) -> web.Response:
        fn = self._function(request)
        if fn is None:
            return self._unknown_function(request)
        kind = delivery_kind(request.headers.get("aeg-event-type"))
        if kind == UNSUBSCRIBE:
            return web.Response(status=202)
        body = parse_json(await request.read(), "delivery")
        if kind == VALIDATION or has_validation_event(body):
            code = validation_code(body)
            log.info("eventgrid %s: subscription validation answered", fn.name)
            return web.json_response({"validationResponse": code})
        # Every event is checked before the first is invoked: a refused delivery acts on none of them.
        values = [decode(i, e) for i, e in enumerate(events_of(body))]
        for value in values:
            failed = await self._invoke(fn, value)
            if failed is not None:
                return failed
        return web.Response(status=200)

    async def _invoke(self, fn: Any, value: Any) -> web.Response | None:
        kwargs = invocation_kwargs(self.core, fn, value)
        started = time.perf_counter()
        try:
            if fn.is_async:
                await fn.user_function(**kwargs)
            else:
                await self.core.loop.run_in_executor(self.core.scheduler.pool, partial(fn.user_function, **kwargs))
        except Exception:
            log.error("eventgrid %s event %s raised:\n%s", fn.name, value.id, traceback.format_exc())
            return json_error(500, "FunctionFailed", f"function {fn.name} failed; Event Grid will redeliver")
        kind = getattr(value, "event_type", None) or getattr(value, "type", None)
        log.info("eventgrid %s event %s (%s) handled (%.0f ms)", fn.name, value.id, kind, _ms(started))
        return None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
