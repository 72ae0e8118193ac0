"""Event Grid's WebHook validation handshake, as it runs when an event subscription is created or its endpoint
changes (learn.microsoft.com/azure/event-grid/end-point-validation-event-grid-events-schema, and
...-cloud-events-schema; reference/azure.md §1.3):

- Event Grid schema: a POST of one `Microsoft.EventGrid.SubscriptionValidationEvent` (an array, shaped as
  tests/fixtures/eventgrid/subscription-validation.json) with header `aeg-event-type: SubscriptionValidation`; the
  endpoint proves ownership by answering 200 with `{"validationResponse": "<validationCode>"}`.
- CloudEvents v1.0 schema: an OPTIONS request with `WebHook-Request-Origin: eventgrid.azure.net`; the endpoint
  answers 200 with `WebHook-Allowed-Origin` naming that origin (or `*`).
Anything else (an error status, no answer within Event Grid's 30 seconds, a wrong code, TLS that cannot be
verified) fails: the subscription ends Failed with "The attempt to validate the provided endpoint {url} failed.
For more details, visit https://aka.ms/esvalidation" (learn.microsoft.com/azure/event-grid/
troubleshoot-subscription-validation), code "Url validation" (as az shows it: "(Url validation) Webhook
validation handshake failed ..."). The asynchronous handshake (a GET of validationUrl within 10 minutes, state
AwaitingManualAction meanwhile) is not modelled: an endpoint that does not echo the code fails at once.

The request goes out from the request thread, outside the emulator's lock (the endpoint may call ARM itself).
HTTPS is verified against the system CAs plus any CA bundle the emulator was told to trust (trust_ca).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from datetime import datetime

from local.azure_emulator.lro import iso

TIMEOUT_SECONDS = 30.0
ORIGIN = "eventgrid.azure.net"


def failure(endpoint_base: str) -> dict[str, str]:
    return {
        "code": "Url validation",
        "message": f"The attempt to validate the provided endpoint {endpoint_base} failed. "
        "For more details, visit https://aka.ms/esvalidation",
    }


def validation_event(topic: str, subscription_name: str, location: str, now: datetime) -> list[dict[str, object]]:
    code = str(uuid.uuid4()).upper()
    stamp = iso(now)
    url = (
        f"https://rp-{location or 'global'}.eventgrid.azure.net:553/eventsubscriptions/{subscription_name}"
        f"/validate?id={code}&t={stamp}"
    )
    return [
        {
            "id": str(uuid.uuid4()),
            "topic": topic,
            "subject": "",
            "data": {"validationCode": code, "validationUrl": url},
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": stamp,
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]


class Handshake:
    def __init__(self) -> None:
        self.ca_files: list[str] = []

    def trust_ca(self, path: str) -> None:
        self.ca_files.append(path)

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        for path in self.ca_files:
            context.load_verify_locations(cafile=path)
        return context

    def event_grid_schema(self, endpoint: str, event: list[dict[str, object]]) -> bool:
        expected = str(event[0]["data"]["validationCode"])  # type: ignore[index]
        request = urllib.request.Request(
            endpoint,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "aeg-event-type": "SubscriptionValidation"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=self._context()) as response:
                if response.status != 200:
                    return False
                answer = json.loads(response.read() or b"{}")
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return isinstance(answer, dict) and str(answer.get("validationResponse", "")) == expected

    def cloud_events(self, endpoint: str) -> bool:
        request = urllib.request.Request(endpoint, headers={"WebHook-Request-Origin": ORIGIN}, method="OPTIONS")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS, context=self._context()) as response:
                allowed = [o.strip() for o in (response.headers.get("WebHook-Allowed-Origin") or "").split(",")]
                return response.status == 200 and (ORIGIN in allowed or "*" in allowed)
        except (OSError, urllib.error.URLError):
            return False
