"""What the azd postdeploy hook wires (infra/hooks/postdeploy.py): the deployed Function App to Azure.

Per environment: an Event Grid system topic on its live cluster (the one already there for that source is reused:
one system topic per source) with the subscription `bluegreen` to the app's Event Grid webhook, filtered to the AKS
events the environment's policy starts runs on; and a metric alert on its Front Door profile (5xx share above
`bake.max_error_rate`) whose action group posts to the app's alert webhook, which rolls a run back. A run copies
the live cluster's topic to green (bluegreen/wiring.py), so the other slot is covered once traffic has moved.

Idempotent: each resource is read first and written only when it differs from the desired body; a second run
writes nothing and reports every resource `unchanged`. The webhook URLs carry the app's keys: they go into request
bodies only, never into a Result, and every error message is scrubbed of them before it is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit

from azure.core.exceptions import ResourceNotFoundError

from bluegreen.arm_ids import ResourceId, same_resource
from bluegreen.azure import AzureClients
from bluegreen.config import AksEventName, Environment
from bluegreen.errors import classify
from bluegreen.slots import live_cluster_id

Outcome = Literal["created", "updated", "unchanged", "skipped", "failed"]
AKS_TOPIC_TYPE = "Microsoft.ContainerService.ManagedClusters"
AKS_EVENT_PREFIX = "Microsoft.ContainerService."
SUBSCRIPTION_NAME = "bluegreen"
RECEIVER_NAME = "rollback"
SHORT_NAME = "bg-rollback"  # an action group's short name is at most 12 characters
SINGLE_RESOURCE = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
EVENTGRID_FUNCTION = "aks_lifecycle_events"  # triggers/eventgrid.py
ALERTS_FUNCTION = "monitor_alerts"  # triggers/alerts.py, route /api/alerts


@dataclass(frozen=True)
class Webhooks:
    """The app's two webhook URLs, each with its key (secrets: never printed)."""

    eventgrid: str
    alerts: str

    def secrets(self) -> list[str]:
        codes = [v for url in (self.eventgrid, self.alerts) for k, v in parse_qsl(urlsplit(url).query) if k == "code"]
        return [self.eventgrid, self.alerts, *codes]


@dataclass(frozen=True)
class Target:
    """Where the Function App is (the action group goes next to it), and the names the Bicep outputs may give."""

    subscription: str
    resource_group: str
    function_app: str
    action_group: str = ""  # default ag-{function_app}-rollback
    short_name: str = SHORT_NAME
    host_name: str = ""  # default: the app's defaultHostName, read from ARM

    @property
    def action_group_name(self) -> str:
        return self.action_group or f"ag-{self.function_app}-rollback"[:260]


@dataclass(frozen=True)
class Result:
    kind: str  # system_topic | event_subscription | action_group | metric_alert | environment (a failure)
    name: str
    outcome: Outcome
    id: str = ""
    note: str = ""


# -- the webhooks ------------------------------------------------------------------------------------------------


def webhook_urls(host: str, eventgrid_key: str, alerts_key: str) -> Webhooks:
    """learn.microsoft.com/azure/azure-functions/event-grid-how-tos ("Webhook endpoint URL", "System key"):
    `https://{app}.azurewebsites.net/runtime/webhooks/eventgrid?functionName={name}&code={systemkey}`, the system
    key being `eventgrid_extension`. HTTP triggers (AuthLevel.FUNCTION, function_app.py) take `?code=` with the
    function's key or a host key, under the default route prefix `api`."""
    eventgrid = urlencode({"functionName": EVENTGRID_FUNCTION, "code": eventgrid_key})
    return Webhooks(
        eventgrid=f"https://{host}/runtime/webhooks/eventgrid?{eventgrid}",
        alerts=f"https://{host}/api/alerts?{urlencode({'code': alerts_key})}",
    )


class KeysUnavailable(RuntimeError):
    pass


def function_app_webhooks(clients: AzureClients, target: Target) -> Webhooks:
    """The webhook URLs of the deployed app, its keys read with azure-mgmt-web (Website Contributor or more).

    `list_host_keys` is what `az functionapp keys list` shows (POST .../sites/{app}/host/default/listkeys):
    systemKeys.eventgrid_extension exists once the host has loaded the Event Grid extension. `list_function_keys`
    of monitor_alerts gives that function's own key (least privilege); the host's default key is the fallback."""
    from azure.mgmt.web import WebSiteManagementClient

    rg, app = target.resource_group, target.function_app
    web = clients._arm(WebSiteManagementClient, target.subscription).web_apps
    host = target.host_name or web.get(rg, app).properties.default_host_name
    keys = web.list_host_keys(rg, app)
    eventgrid_key = (keys.system_keys or {}).get("eventgrid_extension")
    if not eventgrid_key:
        raise KeysUnavailable(
            f"Function App {app} has no system key 'eventgrid_extension' yet: the Functions host creates it when it "
            "first loads the Event Grid extension. Start the app (open any function once) and run the hook again."
        )
    try:
        alerts_key = (web.list_function_keys(rg, app, ALERTS_FUNCTION).properties or {}).get("default")
    except ResourceNotFoundError:
        alerts_key = None
    alerts_key = alerts_key or (keys.function_keys or {}).get("default")
    if not alerts_key:
        raise KeysUnavailable(f"Function App {app} has no key for {ALERTS_FUNCTION} and no default host key.")
    return webhook_urls(str(host), str(eventgrid_key), str(alerts_key))


# -- desired bodies (REST shapes; pure) ---------------------------------------------------------------------------


def event_types(env: Environment) -> list[str]:
    """The AKS event types that start a run for this environment: triggers.decisions.event_action is START exactly
    for a lifecycle starter (config.AksEventName) that `policy.start_on` lists."""
    return [AKS_EVENT_PREFIX + name for name in get_args(AksEventName) if name in env.policy.start_on]


def system_topic_body(cluster_id: str, location: str) -> dict[str, Any]:
    return {"location": location, "properties": {"source": cluster_id, "topicType": AKS_TOPIC_TYPE}}


def event_subscription_body(endpoint_url: str, types: list[str]) -> dict[str, Any]:
    return {
        "properties": {
            "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": endpoint_url}},
            "filter": {"includedEventTypes": list(types)},
            "eventDeliverySchema": "EventGridSchema",
        }
    }


def action_group_body(alerts_url: str, short_name: str = SHORT_NAME) -> dict[str, Any]:
    receiver = {"name": RECEIVER_NAME, "serviceUri": alerts_url, "useCommonAlertSchema": True, "useAadAuth": False}
    return {
        "location": "Global",
        "properties": {"groupShortName": short_name, "enabled": True, "webhookReceivers": [receiver]},
    }


def alert_name(env: Environment) -> str:
    return f"bluegreen-{env.name}-5xx"


def metric_alert_body(env: Environment, action_group_id: str) -> dict[str, Any] | None:
    """Front Door Standard/Premium's `Percentage5XX` (profile-wide: /api/alerts attributes an alert to the
    environment by its target, the profile id) above `bake.max_error_rate`. None for classic Front Door, whose
    platform metrics have no 5xx share (BackendRequestCount by HttpStatusGroup is a count, not a rate)."""
    if env.front_door.kind != "standard":
        return None
    threshold = round(env.bake.max_error_rate * 100, 6)
    criterion = {
        "criterionType": "StaticThresholdCriterion",
        "name": "frontdoor-5xx",
        "metricName": "Percentage5XX",
        "metricNamespace": "Microsoft.Cdn/profiles",
        "operator": "GreaterThan",
        "threshold": threshold,
        "timeAggregation": "Average",
    }
    return {
        "location": "global",
        "properties": {
            "description": f"aks-bluegreen {env.name}: Front Door 5xx above {threshold}% rolls a switched run back",
            "severity": 1,
            "enabled": True,
            "scopes": [env.front_door.id],
            "evaluationFrequency": "PT1M",
            "windowSize": "PT5M",
            "criteria": {"odata.type": SINGLE_RESOURCE, "allOf": [criterion]},
            "autoMitigate": True,
            "actions": [{"actionGroupId": action_group_id}],
        },
    }


def covers(actual: Any, desired: Any) -> bool:
    """Does the service's body say everything the desired one says? ARM ids and names compare case-insensitively,
    URLs exactly (a key is case-sensitive), numbers as numbers."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(covers(actual.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return isinstance(actual, list) and len(actual) == len(desired) and all(map(covers, actual, desired))
    if isinstance(desired, bool) or desired is None:
        return actual is desired
    if isinstance(desired, int | float):
        return isinstance(actual, int | float) and not isinstance(actual, bool) and math.isclose(actual, desired)
    if isinstance(desired, str) and "://" not in desired:
        return isinstance(actual, str) and actual.lower() == desired.lower()
    return bool(actual == desired)


# -- applying ---------------------------------------------------------------------------------------------------


@dataclass
class DeployWiring:
    clients: AzureClients
    webhooks: Webhooks
    target: Target
    dry_run: bool = False
    results: list[Result] = field(default_factory=list)

    def apply(self, environments: list[Environment]) -> list[Result]:
        group_id = self._guarded("action_group", self.target.action_group_name, self._action_group)
        for env in environments:
            self._guarded("environment", env.name, partial(self._event_grid, env))
            self._guarded("metric_alert", alert_name(env), partial(self._metric_alert, env, group_id or ""))
        return self.results

    def _guarded(self, kind: str, name: str, step: Callable[[], str | None]) -> str | None:
        """One step; its failure becomes a `failed` Result (scrubbed of the keys) and the next step runs."""
        try:
            return step()
        except Exception as exc:
            error = classify(exc)
            self._add(Result(kind, name, "failed", note=self._scrub(f"{error.code}: {error.message}")))
            return None

    def _scrub(self, text: str) -> str:
        for secret in sorted(self.webhooks.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _add(self, result: Result) -> Result:
        self.results.append(result)
        return result

    # Event Grid

    def _event_grid(self, env: Environment) -> None:
        try:
            cluster_id = live_cluster_id(self.clients, env)
        except Exception as exc:
            error = classify(exc)
            raise type(error)(error.code, f"its live cluster cannot be read from Front Door: {error.message}") from exc
        rid = ResourceId.parse(cluster_id)
        eventgrid = self.clients.eventgrid(rid.subscription)
        topics = eventgrid.system_topics
        topic = next((t for t in topics.list_by_subscription() if same_resource(str(t.source), cluster_id)), None)
        if topic is not None:  # one system topic per source: the one there is reused, whatever its name
            topic_id = str(topic.id)
            topic_rg, topic_name = ResourceId.parse(topic_id).resource_group, str(topic.name)
            self._add(Result("system_topic", topic_name, "unchanged", topic_id, f"source {rid.name}"))
        else:
            topic_rg, topic_name = rid.resource_group, f"{rid.name}-events".replace("_", "-")
            topic_id = f"/subscriptions/{rid.subscription}/resourceGroups/{topic_rg}"
            topic_id += f"/providers/Microsoft.EventGrid/systemTopics/{topic_name}"
            cluster = self.clients.containers(rid.subscription).managed_clusters.get(rid.resource_group, rid.name)
            if not self.dry_run:
                model = topics.models.SystemTopic.deserialize(system_topic_body(cluster_id, str(cluster.location)))
                topic_id = str(topics.begin_create_or_update(topic_rg, topic_name, model).result().id)
            self._add(Result("system_topic", topic_name, "created", topic_id, f"source {rid.name}"))
        types = event_types(env)
        if not types:  # an empty includedEventTypes would deliver every event type
            self._add(Result("event_subscription", SUBSCRIPTION_NAME, "skipped", note="policy.start_on is empty"))
            return
        subscriptions = eventgrid.system_topic_event_subscriptions
        existing = None if topic is None else self._get(subscriptions.get, topic_rg, topic_name, SUBSCRIPTION_NAME)
        sub_id = f"{topic_id}/eventSubscriptions/{SUBSCRIPTION_NAME}"
        outcome: Outcome = "created" if existing is None else "updated"
        if existing is not None and self._subscription_matches(existing, subscriptions, topic_rg, topic_name, types):
            outcome = "unchanged"
        elif not self.dry_run:
            model = subscriptions.models.EventSubscription.deserialize(
                event_subscription_body(self.webhooks.eventgrid, types)
            )
            made = subscriptions.begin_create_or_update(topic_rg, topic_name, SUBSCRIPTION_NAME, model).result()
            sub_id = str(made.id)
        self._add(Result("event_subscription", SUBSCRIPTION_NAME, outcome, sub_id, ", ".join(types)))

    def _subscription_matches(self, existing: Any, subscriptions: Any, rg: str, topic: str, types: list[str]) -> bool:
        props = existing.serialize(keep_readonly=True).get("properties") or {}
        filter_ = props.get("filter") or {}
        narrowed = filter_.get("subjectBeginsWith") or filter_.get("subjectEndsWith") or filter_.get("advancedFilters")
        if (
            props.get("provisioningState") != "Succeeded"
            or str((props.get("destination") or {}).get("endpointType", "")).lower() != "webhook"
            or {t.lower() for t in filter_.get("includedEventTypes") or []} != {t.lower() for t in types}
            or narrowed
            or props.get("eventDeliverySchema", "EventGridSchema") != "EventGridSchema"
        ):
            return False
        # A GET shows only endpointBaseUrl; the URL with its key comes from getFullUrl (a POST that only reads).
        return bool(subscriptions.get_full_url(rg, topic, SUBSCRIPTION_NAME).endpoint_url == self.webhooks.eventgrid)

    # Monitor

    def _action_group(self) -> str:
        t = self.target
        groups = self.clients.monitor(t.subscription).action_groups
        body = action_group_body(self.webhooks.alerts, t.short_name)
        return self._put_if_changed(
            "action_group",
            t.action_group_name,
            f"/subscriptions/{t.subscription}/resourceGroups/{t.resource_group}"
            f"/providers/microsoft.insights/actionGroups/{t.action_group_name}",
            body,
            lambda: groups.get(t.resource_group, t.action_group_name),
            lambda: groups.create_or_update(
                t.resource_group, t.action_group_name, groups.models.ActionGroupResource.deserialize(body)
            ),
        )

    def _metric_alert(self, env: Environment, action_group_id: str) -> str | None:
        body = metric_alert_body(env, action_group_id)
        name = alert_name(env)
        if body is None:
            note = "classic Front Door has no 5xx-share metric: the bake's own metric checks still roll back"
            self._add(Result("metric_alert", name, "skipped", note=note))
            return None
        if not action_group_id:
            self._add(Result("metric_alert", name, "skipped", note="the action group could not be wired"))
            return None
        fd = ResourceId.parse(env.front_door.id)
        alerts = self.clients.monitor(fd.subscription).metric_alerts
        return self._put_if_changed(
            "metric_alert",
            name,
            f"/subscriptions/{fd.subscription}/resourceGroups/{fd.resource_group}"
            f"/providers/microsoft.insights/metricAlerts/{name}",
            body,
            lambda: alerts.get(fd.resource_group, name),
            lambda: alerts.create_or_update(
                fd.resource_group, name, alerts.models.MetricAlertResource.deserialize(body)
            ),
        )

    def _put_if_changed(self, kind: str, name: str, rid: str, body: dict[str, Any], get: Any, put: Any) -> str:
        existing = self._get(get)
        if existing is not None and covers(existing.serialize(), body):
            return self._add(Result(kind, name, "unchanged", str(existing.id))).id
        if not self.dry_run:
            rid = str(put().id)
        return self._add(Result(kind, name, "created" if existing is None else "updated", rid)).id

    @staticmethod
    def _get(read: Any, *args: str) -> Any:
        try:
            return read(*args)
        except ResourceNotFoundError:
            return None
