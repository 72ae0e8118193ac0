"""Microsoft.EventGrid event subscriptions of a system topic: PUT (long-running, answered 201 on create and on
update, the only status the spec gives), GET, list, DELETE (long-running), POST getFullUrl.

- destination `WebHook`: `properties.endpointUrl` (HTTPS only: "Event Grid only supports HTTPS webhook
  endpoints", DOCS event-grid/event-handlers.md). Responses give `endpointBaseUrl` (the URL without its query
  string) and never the full URL, which may carry a function key; POST `.../getFullUrl` returns {"endpointUrl"}
  (samples/arm/more/eventgrid-systemtopic-eventsubscription-webhook-put-response.json and ...-getfullurl.json).
  On create, and whenever the endpoint changes, the validation handshake runs (eventgrid_handshake); the
  operation, and the subscription's provisioningState, end Succeeded only if the endpoint proved ownership, else
  Failed with Event Grid's message.
- destination `AzureFunction`: `properties.resourceId` of a function (`.../Microsoft.Web/sites/{app}/functions/
  {name}`), which must exist (declared as an emulator/resource: the emulator has no Function Apps). "Azure
  Functions with Event Grid Trigger" validate automatically (same docs): no handshake.
- other destinations (StorageQueue, EventHub, ServiceBusQueue, ...): `properties.resourceId`, which must exist.
- filter: includedEventTypes (for an AKS topic, one of the six AKS event types of reference/azure.md §1.1;
  refusing others is inferred from that list), subjectBeginsWith / subjectEndsWith, isSubjectCaseSensitive
  (default false). Defaults shown in responses: eventDeliverySchema EventGridSchema, retryPolicy
  {maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440} (reference/azure-more.md §(f)); attempts 1-30 and TTL
  1-1440 minutes (learn.microsoft.com/azure/event-grid/delivery-and-retry).
- names: 3-64 letters, digits and hyphens (learn.microsoft.com/azure/azure-resource-manager/management/
  resource-name-rules, Microsoft.EventGrid).
Refusals are 400 InvalidRequest (Event Grid's code for request validation); a missing topic is 404
ParentResourceNotFound (learn.microsoft.com/azure/azure-resource-manager/troubleshooting/error-parent-resource).
Events themselves are not published or delivered.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from local.azure_emulator import arm_lro
from local.azure_emulator.arm_exists import exists
from local.azure_emulator.arm_store import key, resource_type, view
from local.azure_emulator.errors import ArmError
from local.azure_emulator.eventgrid_handshake import Handshake, failure, validation_event
from local.azure_emulator.eventgrid_topics import API, NS, TOPIC, invalid, topic_id
from local.azure_emulator.lro import Operation
from local.azure_emulator.protocol import Request, Response, Route, route
from local.azure_emulator.world import World

SUB_TYPE = "Microsoft.EventGrid/systemTopics/eventSubscriptions"
SUBSCRIPTION = TOPIC + "/eventSubscriptions/{es}"
AKS_EVENT_TYPES = {
    f"Microsoft.ContainerService.{name}".lower()
    for name in (
        "NewKubernetesVersionAvailable",
        "ClusterSupportEnding",
        "ClusterSupportEnded",
        "NodePoolRollingStarted",
        "NodePoolRollingSucceeded",
        "NodePoolRollingFailed",
    )
}
_NAME = re.compile(r"^[A-Za-z0-9-]{3,64}$")
_SCHEMAS = ("EventGridSchema", "CloudEventSchemaV1_0")


def base_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class EventSubscriptions:
    def __init__(self, world: World, handshake: Handshake) -> None:
        self.world = world
        self.handshake = handshake
        # Seeding (arm_seed): the subscription was validated before the emulator started.
        self.seeding = False

    def routes(self) -> list[Route]:
        op = f"{NS}/systemTopics/eventSubscriptions"
        return [
            route("GET", TOPIC + "/eventSubscriptions", self.list, f"{op}/read"),
            route("GET", SUBSCRIPTION, self.get, f"{op}/read"),
            route("PUT", SUBSCRIPTION, self.put, f"{op}/write"),
            route("DELETE", SUBSCRIPTION, self.delete, f"{op}/delete"),
            route("POST", SUBSCRIPTION + "/getFullUrl", self.full_url, f"{op}/getFullUrl/action", kind="read"),
        ]

    # -- lookups -------------------------------------------------------------------------------------------

    def topic(self, m: dict[str, str]) -> dict[str, Any]:
        stored = self.world.arm.get(topic_id(m["sub"], m["rg"], m["topic"]))
        if stored is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{m['topic']}' not found.",
            )
        return stored

    def find(self, m: dict[str, str]) -> dict[str, Any]:
        topic = self.topic(m)
        stored = self.world.arm.get(f"{topic['id']}/eventSubscriptions/{m['es']}")
        if stored is None:
            raise ArmError(404, "ResourceNotFound", f"The event subscription '{m['es']}' was not found.")
        return stored

    # -- handlers ------------------------------------------------------------------------------------------

    def list(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            topic = self.topic(m)
            return Response(
                200, {"value": [view(s) for s in self.world.arm.children(topic["id"], "eventSubscriptions")]}
            )

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, view(self.find(m)))

    def full_url(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            stored = self.find(m)
            if "_endpointUrl" not in stored:
                raise invalid(f"The destination of event subscription {m['es']} is not a WebHook.")
            return Response(200, {"endpointUrl": stored["_endpointUrl"]})

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            self.world.settle()
            topic = self.topic(m)
            rid = f"{topic['id']}/eventSubscriptions/{m['es']}"
            existing = self.world.arm.get(rid)
            stored, endpoint = self.validate(rid, m["es"], topic, body, existing)
            needs_handshake = endpoint is not None and (
                existing is None
                or existing.get("_endpointUrl") != endpoint
                or existing["properties"].get("provisioningState") != "Succeeded"
            )
            event = validation_event(topic["id"], m["es"], str(topic.get("location", "")), self.world.now())
        validated = True
        if needs_handshake and endpoint is not None and not self.seeding:
            if stored["properties"]["eventDeliverySchema"] == "CloudEventSchemaV1_0":
                validated = self.handshake.cloud_events(endpoint)
            else:
                validated = self.handshake.event_grid_schema(endpoint, event)
        with self.world.lock:
            op = arm_lro.provision(
                self.world,
                stored,
                existing,
                m["sub"],
                NS,
                str(topic.get("location", "")),
                self.world.timings.eventgrid_write,
            )
            if not validated and op.error is None:
                op.error = failure(base_url(endpoint or ""))
            return Response(201, view(stored), arm_lro.put_headers(op, req, API))

    def validate(
        self, rid: str, name: str, topic: dict[str, Any], body: dict[str, Any], existing: dict[str, Any] | None
    ) -> tuple[dict[str, Any], str | None]:
        if not _NAME.match(name):
            raise invalid(f"Event subscription name {name} must be 3 to 64 letters, digits or hyphens.")
        props = copy.deepcopy(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        destination = props.get("destination") or old.get("destination")
        if not isinstance(destination, dict) or not destination.get("endpointType"):
            raise invalid("The event subscription needs a destination with an endpointType.")
        kind = str(destination["endpointType"])
        dest_props = dict(destination.get("properties") or {})
        endpoint: str | None = None
        if kind.lower() == "webhook":
            endpoint = dest_props.pop("endpointUrl", None) or (existing or {}).get("_endpointUrl")
            if not endpoint:
                raise invalid("A WebHook destination needs properties.endpointUrl.")
            if urlsplit(endpoint).scheme.lower() != "https":
                raise invalid(f"The WebHook endpoint {base_url(endpoint)} must use HTTPS.")
            dest_props.pop("endpointBaseUrl", None)
            dest_props = {"endpointBaseUrl": base_url(endpoint), **dest_props}
            kind = "WebHook"
        else:
            target = str(dest_props.get("resourceId") or "")
            if not target:
                raise invalid(f"A {kind} destination needs properties.resourceId.")
            if kind.lower() == "azurefunction":
                kind = "AzureFunction"
                if resource_type(target).lower() != "microsoft.web/sites/functions":
                    raise invalid(f"The AzureFunction destination {target} is not a function of a Function App.")
            if not exists(self.world, target):
                raise invalid(f"The destination resource {target} does not exist.")
        dest_props.setdefault("maxEventsPerBatch", 1)
        dest_props.setdefault("preferredBatchSizeInKilobytes", 64)
        filter_ = dict(props.get("filter") or old.get("filter") or {})
        filter_.setdefault("isSubjectCaseSensitive", False)
        filter_.setdefault("subjectBeginsWith", "")
        filter_.setdefault("subjectEndsWith", "")
        topic_type = str(topic["properties"]["topicType"]).lower()
        for event_type in filter_.get("includedEventTypes") or []:
            if (
                topic_type == "microsoft.containerservice.managedclusters"
                and str(event_type).lower() not in AKS_EVENT_TYPES
            ):
                raise invalid(f"Event type {event_type} is not one the topic type {topic_type} publishes.")
        schema = str(props.get("eventDeliverySchema") or old.get("eventDeliverySchema") or "EventGridSchema")
        if schema not in _SCHEMAS:
            raise invalid(f"Event delivery schema {schema} is not supported for a system topic.")
        retry = {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440, **(props.get("retryPolicy") or {})}
        if not 1 <= int(retry["maxDeliveryAttempts"]) <= 30 or not 1 <= int(retry["eventTimeToLiveInMinutes"]) <= 1440:
            raise invalid("retryPolicy: maxDeliveryAttempts must be 1-30 and eventTimeToLiveInMinutes 1-1440.")
        stored: dict[str, Any] = {
            "id": rid,
            "name": name,
            "type": SUB_TYPE,
            "properties": {
                "topic": topic["id"],
                "destination": {"endpointType": kind, "properties": dest_props},
                "filter": filter_,
                "labels": props.get("labels", old.get("labels")),
                "eventDeliverySchema": schema,
                "retryPolicy": retry,
            },
        }
        for optional in ("expirationTimeUtc", "deadLetterDestination"):
            if props.get(optional) is not None:
                stored["properties"][optional] = props[optional]
        if endpoint is not None:
            stored["_endpointUrl"] = endpoint
        return stored, endpoint

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            topic = self.topic(m)
            rid = f"{topic['id']}/eventSubscriptions/{m['es']}"
            stored = self.world.arm.get(rid)
            if stored is None:
                return Response(204)
            stored["properties"]["provisioningState"] = "Deleting"

            def done(op: Operation) -> None:
                self.world.arm.bodies.pop(key(rid), None)

            seconds = self.world.timings.eventgrid_write
            op = arm_lro.start(self.world, rid, "delete", m["sub"], NS, str(topic.get("location", "")), seconds, done)
            return Response(202, None, arm_lro.delete_headers(op, req, API))
