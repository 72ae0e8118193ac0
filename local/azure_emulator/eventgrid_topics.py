"""Microsoft.EventGrid system topics: PUT and DELETE long-running (arm_lro), GET, list by resource group and
subscription. The eventSubscriptions under a topic: eventgrid_subscriptions.

Rules (reference/azure-more.md §(f), samples/arm/more/eventgrid-systemtopic-get.json):
- `properties.source` (the resource whose events the topic carries) and `properties.topicType` are needed to
  create one; AKS's topic type is `Microsoft.ContainerService.ManagedClusters`. The topic type must be one Event
  Grid knows: 400 InvalidRequest "Unrecognized topic type {t} in system topic properties." (terraform-provider-
  azurerm#11352 quotes it), and must be the source's resource type (namespace.type, compared case-insensitively;
  our wording).
- The source must exist (arm_exists; our choice, Event Grid cannot publish for nothing): 400 InvalidRequest.
- "Only one system topic is allowed per source" (DOCS event-grid/system-topics.md): 400 InvalidRequest "There is
  an existing tracked system topic for the given source {source}. Only one system topic is allowed per source."
  (the service's wording, TaoYang-Cloud/azure.policy.monitor#12).
- "system topic is created in the same location as the Azure event source"; global sources use `global`
  (same page): a topic whose location differs is refused (400 InvalidRequest, our wording).
- `source` and `topicType` cannot change on an update (400 InvalidRequest, our wording).
- GETs return `topicType` in lower case and the provider segment of `source` in lower case, as the spec example
  does ("compare case-insensitively"), and a `metricResourceId` (a GUID).
- Deleting a topic deletes its event subscriptions (child resources).

Deleting the source: a topic created explicitly is a tracked resource of its own in its resource group; ARM
deletes child and extension resources with their parent, not sibling resources, and the docs say an explicit
topic outlives its last subscription, but not what happens when its source goes (reference/azure-more.md §(f):
not verified). The emulator keeps the topic and its subscriptions (provisioningState Succeeded; no events flow
any more). That is the harsher choice: a cluster re-created under the same name (the slots alternate) finds the
old topic still holding its source, so creating a second topic for it is refused until the old one is reused
(PUT with the same name) or deleted.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from local.azure_emulator import arm_lro
from local.azure_emulator.arm_exists import exists, location_of
from local.azure_emulator.arm_store import key, resource_type, view
from local.azure_emulator.errors import ArmError, not_found
from local.azure_emulator.lro import Operation
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.EventGrid"
API = "2025-02-15"
TOPIC_TYPE = "Microsoft.EventGrid/systemTopics"
TOPIC = RG + "/providers/Microsoft.EventGrid/systemTopics/{topic}"
AKS_TOPIC_TYPE = "Microsoft.ContainerService.ManagedClusters"
# Topic types of the system-topic sources (DOCS event-grid/system-topics.md, the included source list).
KNOWN_TOPIC_TYPES = {
    t.lower()
    for t in (
        "Microsoft.ApiManagement.Service",
        "Microsoft.AppConfiguration.ConfigurationStores",
        "Microsoft.Cache.Redis",
        "Microsoft.Communication.CommunicationServices",
        "Microsoft.ContainerRegistry.Registries",
        "Microsoft.ContainerService.ManagedClusters",
        "Microsoft.Devices.IoTHubs",
        "Microsoft.EventHub.Namespaces",
        "Microsoft.KeyVault.vaults",
        "Microsoft.MachineLearningServices.Workspaces",
        "Microsoft.Maps.Accounts",
        "Microsoft.Resources.ResourceGroups",
        "Microsoft.Resources.Subscriptions",
        "Microsoft.ServiceBus.Namespaces",
        "Microsoft.SignalRService.SignalR",
        "Microsoft.Storage.StorageAccounts",
        "Microsoft.Web.ServerFarms",
        "Microsoft.Web.Sites",
    )
}
_GLOBAL_TYPES = {"microsoft.resources.resourcegroups", "microsoft.resources.subscriptions"}


def topic_id(sub: str, rg: str, name: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.EventGrid/systemTopics/{name}"


def invalid(message: str) -> ArmError:
    return ArmError(400, "InvalidRequest", message)


def topic_type_of(source: str) -> str:
    """`microsoft.containerservice.managedclusters` for a cluster id: the source's namespace.type."""
    return resource_type(source).replace("/", ".").lower()


def lower_provider(source: str) -> str:
    """The source as the service echoes it: the provider segment lowercased, names kept."""
    head, sep, tail = source.rpartition("/providers/")
    if not sep:
        return source
    parts = tail.split("/")
    parts[0] = parts[0].lower()
    for i in range(1, len(parts), 2):
        parts[i] = parts[i].lower()
    return head + sep + "/".join(parts)


def topic_for_source(world: World, source: str) -> dict[str, Any] | None:
    """The system topic whose source is this resource (at most one exists)."""
    target = key(source)
    return next((t for t in world.arm.of_type(TOPIC_TYPE) if key(t["properties"]["source"]) == target), None)


class SystemTopics:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        op = f"{NS}/systemTopics"
        return [
            route("GET", SUB + "/providers/Microsoft.EventGrid/systemTopics", self.list_sub, f"{op}/read"),
            route("GET", RG + "/providers/Microsoft.EventGrid/systemTopics", self.list_rg, f"{op}/read"),
            route("GET", TOPIC, self.get, f"{op}/read"),
            route("PUT", TOPIC, self.put, f"{op}/write"),
            route("DELETE", TOPIC, self.delete, f"{op}/delete"),
        ]

    def find(self, m: dict[str, str]) -> dict[str, Any]:
        stored = self.world.arm.get(topic_id(m["sub"], m["rg"], m["topic"]))
        if stored is None:
            raise not_found(TOPIC_TYPE, m["topic"], m["rg"])
        return stored

    def list_sub(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, {"value": [view(t) for t in self.world.arm.of_type(TOPIC_TYPE, sub=m["sub"])]})

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            items = [view(t) for t in self.world.arm.of_type(TOPIC_TYPE, sub=m["sub"], rg=m["rg"])]
            return Response(200, {"value": items})

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, view(self.find(m)))

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            self.world.settle()
            rid = topic_id(m["sub"], m["rg"], m["topic"])
            existing = self.world.arm.get(rid)
            stored = self.validate(rid, body, existing)
            op = arm_lro.provision(
                self.world, stored, existing, m["sub"], NS, str(stored["location"]), self.world.timings.eventgrid_write
            )
            return Response(200 if existing else 201, view(stored), arm_lro.put_headers(op, req, API))

    def validate(self, rid: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        props = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        source = str(props.get("source") or old.get("source") or "")
        topic_type = str(props.get("topicType") or old.get("topicType") or "")
        location = str(body.get("location") or (existing or {}).get("location") or "")
        if not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        if not source or not topic_type:
            raise invalid("A system topic needs properties.source and properties.topicType.")
        if existing is not None and (
            key(source) != key(old["source"]) or topic_type.lower() != old["topicType"].lower()
        ):
            raise invalid("The source and topicType of an existing system topic cannot be changed.")
        if topic_type.lower() not in KNOWN_TOPIC_TYPES:
            raise invalid(f"Unrecognized topic type {topic_type} in system topic properties.")
        if topic_type.lower() != topic_type_of(source):
            raise invalid(f"The topic type {topic_type} does not match the type of the source {source}.")
        if not exists(self.world, source):
            raise invalid(f"The source resource {source} of the system topic does not exist.")
        other = topic_for_source(self.world, source)
        if other is not None and key(other["id"]) != key(rid):
            raise invalid(
                f"There is an existing tracked system topic for the given source {source}. "
                "Only one system topic is allowed per source."
            )
        expected = "global" if topic_type.lower() in _GLOBAL_TYPES else location_of(self.world, source)
        if expected and location.replace(" ", "").lower() != expected:
            raise invalid(
                f"The location {location} of the system topic must be the location of its source ({expected})."
            )
        metric_id = old.get("metricResourceId") or str(uuid.uuid5(uuid.NAMESPACE_URL, key(rid)))
        stored: dict[str, Any] = {
            "id": rid,
            "name": rid.rsplit("/", 1)[-1],
            "type": TOPIC_TYPE,
            "location": location,
            "tags": copy.deepcopy(body.get("tags")) if body.get("tags") is not None else (existing or {}).get("tags"),
            "properties": {
                "source": lower_provider(source),
                "topicType": topic_type.lower(),
                "metricResourceId": metric_id,
            },
        }
        if isinstance(body.get("identity"), dict):
            stored["identity"] = {"type": body["identity"].get("type", "None")}
        return stored

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            rid = topic_id(m["sub"], m["rg"], m["topic"])
            stored = self.world.arm.get(rid)
            if stored is None:
                return Response(204)
            stored["properties"]["provisioningState"] = "Deleting"

            def done(op: Operation) -> None:
                for child in self.world.arm.under(rid):
                    self.world.arm.pop(child["id"])
                self.world.arm.pop(rid)

            seconds = self.world.timings.eventgrid_write
            op = arm_lro.start(self.world, rid, "delete", m["sub"], NS, str(stored["location"]), seconds, done)
            return Response(202, None, arm_lro.delete_headers(op, req, API))
