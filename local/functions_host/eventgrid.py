"""Event Grid trigger webhook: POST /runtime/webhooks/eventgrid?functionName=NAME.

Event Grid schema: the body is an array, one invocation per event; the SubscriptionValidation
handshake is answered synchronously with {"validationResponse": code}, as the Functions
extension does. CloudEvents: an object or a batch array with `specversion`; their abuse-protection
handshake is an OPTIONS request answered with WebHook-Allowed-Origin. A function that raises
gives 500, on which Event Grid would retry (deliveries are at-least-once).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from functools import partial
from typing import Any

from aiohttp import web
from azure.functions import meta
from azure.functions.eventgrid import EventGridEventInConverter

from local.functions_host.http_triggers import invocation_kwargs

log = logging.getLogger("functions_host")
PATH = "/runtime/webhooks/eventgrid"
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"


class EventGridWebhook:
    def __init__(self, core: Any) -> None:
        self.core = core

    def routes(self) -> list[web.RouteDef]:
        return [web.post(PATH, self.deliver), web.options(PATH, self.handshake)]

    def _function(self, request: web.Request) -> Any:
        name = request.query.get("functionName", "")
        return self.core.index.by_trigger("eventGridTrigger").get(name)

    async def handshake(self, request: web.Request) -> web.Response:
        if self._function(request) is None:
            return web.Response(status=404)
        origin = request.headers.get("WebHook-Request-Origin")
        headers = {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*"} if origin else {}
        return web.Response(status=200, headers=headers)

    async def deliver(self, request: web.Request) -> web.Response:
        fn = self._function(request)
        if fn is None:
            return web.json_response({"error": "unknown functionName"}, status=404)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        events = body if isinstance(body, list) else [body]
        if not all(isinstance(e, dict) for e in events):
            return web.json_response({"error": "expected event objects"}, status=400)
        is_validation = request.headers.get("aeg-event-type", "").lower() == "subscriptionvalidation"
        validation = next((e for e in events if e.get("eventType") == VALIDATION_EVENT), None)
        if is_validation or validation is not None:
            code = ((validation or events[0]).get("data") or {}).get("validationCode")
            log.info("eventgrid %s: subscription validation answered", fn.name)
            return web.json_response({"validationResponse": code})
        for event in events:
            # The worker's converter picks func.CloudEvent when `specversion` is present, else EventGridEvent.
            value = EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata=None)
            kwargs = invocation_kwargs(self.core, fn, value)
            started = time.perf_counter()
            try:
                if fn.is_async:
                    await fn.user_function(**kwargs)
                else:
                    await self.core.loop.run_in_executor(self.core.scheduler.pool, partial(fn.user_function, **kwargs))
            except Exception:
                log.error("eventgrid %s event %s raised:\n%s", fn.name, event.get("id"), traceback.format_exc())
                return web.json_response({"error": "function failed"}, status=500)
            log.info(
                "eventgrid %s event %s (%s) handled (%.0f ms)",
                fn.name,
                event.get("id"),
                event.get("eventType") or event.get("type"),
                (time.perf_counter() - started) * 1000,
            )
        return web.Response(status=200)
