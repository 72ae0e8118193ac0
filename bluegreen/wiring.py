"""Blue's cluster-bound Azure wiring, and green's twin of it: Event Grid, alerts, diagnostic settings.

Each of these names blue by id, so none follows a new cluster: blue's Event Grid system topic is the one
that delivers `ClusterSupportEnding` (only one system topic per source, azure-more.md (f)), its metric and
activity-log alerts watch blue, its diagnostic settings export blue's logs. Green gets a twin of each: the
same body, with blue's id replaced by green's. Twins are recorded with their ids in the run's output and
removed with green; when blue is deleted its own wiring goes with it (nothing stays pointing at nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId, retarget_all, same_resource, subscription_of, twin_name
from bluegreen.azure import AzureClients
from bluegreen.contract import Inherited, WiringToCopy
from bluegreen.errors import PermanentError, classify

_DIAGNOSTICS = "/providers/microsoft.insights/diagnosticsettings/"


@dataclass(frozen=True)
class Twin:
    """One resource of blue's wiring, with what green's twin needs (the REST body, the event subscriptions)."""

    item: WiringToCopy
    body: dict[str, Any]
    subscriptions: list[dict[str, Any]]  # a system topic's event subscriptions (REST bodies, full webhook URLs)


class Wiring:
    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    # -- what blue has ----------------------------------------------------------------------------------------

    def of_cluster(self, cluster_id: str, cluster_name: str, green_name: str = "", *, urls: bool = True) -> list[Twin]:
        """Every piece of wiring bound to this cluster, with its twin's name for green. `urls`: read each
        webhook's full URL (a POST, and a secret): what a copy needs, and a plan does not."""
        subscription = ResourceId.parse(cluster_id).subscription
        found: list[Twin] = []
        try:
            found += self._system_topics(subscription, cluster_id, cluster_name, green_name, urls)
            found += self._metric_alerts(subscription, cluster_id, cluster_name, green_name)
            found += self._activity_log_alerts(subscription, cluster_id, cluster_name, green_name)
            found += self._diagnostic_settings(subscription, cluster_id, cluster_name, green_name)
        except Exception as exc:  # an SDK error, classified (ours pass through as they are)
            raise classify(exc) from exc
        return found

    def _system_topics(self, subscription: str, cluster_id: str, blue: str, green: str, urls: bool) -> list[Twin]:
        client = self._clients.eventgrid(subscription)
        twins = []
        for topic in client.system_topics.list_by_subscription():
            if not same_resource(str(topic.source or ""), cluster_id):
                continue
            rid = ResourceId.parse(str(topic.id))
            subscriptions = []
            for sub in client.system_topic_event_subscriptions.list_by_system_topic(rid.resource_group, rid.name):
                body = sub.serialize()
                destination = (body.get("properties") or {}).get("destination") or {}
                if urls and str(destination.get("endpointType", "")).lower() == "webhook":
                    # A GET gives only endpointBaseUrl; the URL with its key comes from getFullUrl (azure-more (f)).
                    full = client.system_topic_event_subscriptions.get_full_url(rid.resource_group, rid.name, sub.name)
                    destination.setdefault("properties", {})["endpointUrl"] = full.endpoint_url
                    destination["properties"].pop("endpointBaseUrl", None)
                body["name"] = sub.name
                subscriptions.append(body)
            item = WiringToCopy(
                kind="system_topic",
                source_id=str(topic.id),
                twin_name=twin_name(rid.name, blue, green),
                subscriptions=[str(b["name"]) for b in subscriptions],
            )
            twins.append(Twin(item, topic.serialize(), subscriptions))
        return twins

    def _metric_alerts(self, subscription: str, cluster_id: str, blue: str, green: str) -> list[Twin]:
        twins = []
        for alert in self._clients.monitor(subscription).metric_alerts.list_by_subscription():
            if any(same_resource(str(s), cluster_id) for s in alert.scopes or []):
                name = twin_name(str(alert.name), blue, green, limit=260)
                twins.append(
                    Twin(
                        WiringToCopy(kind="metric_alert", source_id=str(alert.id), twin_name=name),
                        alert.serialize(),
                        [],
                    )
                )
        return twins

    def _activity_log_alerts(self, subscription: str, cluster_id: str, blue: str, green: str) -> list[Twin]:
        twins = []
        for alert in self._clients.monitor(subscription).activity_log_alerts.list_by_subscription_id():
            body = alert.serialize()
            if _mentions(body.get("properties") or {}, cluster_id):
                name = twin_name(str(alert.name), blue, green, limit=260)
                item = WiringToCopy(kind="activity_log_alert", source_id=str(alert.id), twin_name=name)
                twins.append(Twin(item, body, []))
        return twins

    def _diagnostic_settings(self, subscription: str, cluster_id: str, blue: str, green: str) -> list[Twin]:
        settings = self._clients.monitor(subscription).diagnostic_settings.list(cluster_id)
        twins = []
        for setting in settings:
            name = twin_name(str(setting.name), blue, green, limit=260)
            item = WiringToCopy(kind="diagnostic_setting", source_id=str(setting.id), twin_name=name)
            twins.append(Twin(item, setting.serialize(), []))
        return twins

    # -- green's twins ----------------------------------------------------------------------------------------

    def copy(self, twins: list[Twin], blue_id: str, green_id: str, green_location: str) -> list[Inherited]:
        created: list[Inherited] = []
        for twin in twins:
            body = retarget_all(_writable(twin.body), blue_id, green_id)
            try:
                created += self._create(twin, body, green_id, green_location)
            except Exception as exc:
                raise classify(exc) from exc
        return created

    def _create(self, twin: Twin, body: dict[str, Any], green_id: str, location: str) -> list[Inherited]:
        # Each operation group's own models module: multi-API clients pin an API version per group.
        item, source = twin.item, ResourceId.parse(twin.item.source_id)
        subscription = source.subscription
        if item.kind == "system_topic":
            client = self._clients.eventgrid(subscription)
            body["location"] = location
            topics = client.system_topics
            topic = topics.begin_create_or_update(
                source.resource_group, item.twin_name, topics.models.SystemTopic.deserialize(body)
            ).result()
            made = [Inherited(kind="system_topic", id=str(topic.id), twin_of=item.source_id)]
            for sub_body in twin.subscriptions:
                name = str(sub_body["name"])
                sub = retarget_all(_writable(sub_body), twin.item.source_id, str(topic.id))
                sub = retarget_all(sub, _source_of(twin.body), green_id)
                subscriptions = client.system_topic_event_subscriptions
                result = subscriptions.begin_create_or_update(
                    source.resource_group, item.twin_name, name, subscriptions.models.EventSubscription.deserialize(sub)
                ).result()
                made.append(
                    Inherited(
                        kind="event_subscription",
                        id=str(result.id),
                        twin_of=f"{item.source_id}/eventSubscriptions/{name}",
                    )
                )
            return made
        monitor = self._clients.monitor(subscription)
        if item.kind == "metric_alert":
            body["properties"]["scopes"] = [green_id]  # a twin watches green alone, even of a multi-resource alert
            alerts = monitor.metric_alerts
            alert = alerts.create_or_update(
                source.resource_group, item.twin_name, alerts.models.MetricAlertResource.deserialize(body)
            )
            return [Inherited(kind="metric_alert", id=str(alert.id), twin_of=item.source_id)]
        if item.kind == "activity_log_alert":
            log_alerts = monitor.activity_log_alerts
            alert = log_alerts.create_or_update(
                source.resource_group, item.twin_name, log_alerts.models.ActivityLogAlertResource.deserialize(body)
            )
            return [Inherited(kind="activity_log_alert", id=str(alert.id), twin_of=item.source_id)]
        settings = monitor.diagnostic_settings
        setting = settings.create_or_update(
            green_id, item.twin_name, settings.models.DiagnosticSettingsResource.deserialize(body)
        )
        return [Inherited(kind="diagnostic_setting", id=str(setting.id), twin_of=item.source_id)]

    # -- removal ----------------------------------------------------------------------------------------------

    def remove(self, record: Inherited) -> None:
        """Delete one piece of wiring by id; already gone counts as removed."""
        try:
            self._remove(record)
        except Exception as exc:
            error = classify(exc)
            if error.status != 404:
                raise error from exc

    def _remove(self, record: Inherited) -> None:
        subscription = subscription_of(record.id)
        if record.kind == "diagnostic_setting":
            at = record.id.lower().rfind(_DIAGNOSTICS)
            resource, name = record.id[:at], record.id[at + len(_DIAGNOSTICS) :]
            self._clients.monitor(subscription).diagnostic_settings.delete(resource, name)
            return
        rid = ResourceId.parse(record.id)
        if record.kind == "event_subscription":
            (_, topic), (_, name) = rid.segments[-2], rid.segments[-1]
            ops = self._clients.eventgrid(subscription).system_topic_event_subscriptions
            ops.begin_delete(rid.resource_group, topic, name).result()
        elif record.kind == "system_topic":
            self._clients.eventgrid(subscription).system_topics.begin_delete(rid.resource_group, rid.name).result()
        elif record.kind == "metric_alert":
            self._clients.monitor(subscription).metric_alerts.delete(rid.resource_group, rid.name)
        elif record.kind == "activity_log_alert":
            self._clients.monitor(subscription).activity_log_alerts.delete(rid.resource_group, rid.name)
        else:
            raise PermanentError("UnknownWiring", f"cannot remove a {record.kind}")


def records_of(twins: list[Twin]) -> list[Inherited]:
    """Blue's own wiring as removal records: what goes when blue is deleted (subscriptions before their topic)."""
    records = []
    for twin in twins:
        for sub in twin.subscriptions:
            records.append(
                Inherited(kind="event_subscription", id=f"{twin.item.source_id}/eventSubscriptions/{sub['name']}")
            )
        if twin.item.kind == "metric_alert" and len((twin.body.get("properties") or {}).get("scopes") or []) > 1:
            continue  # an alert that watches other resources too stays
        records.append(Inherited(kind=twin.item.kind, id=twin.item.source_id))
    return records


def _mentions(body: Any, cluster_id: str) -> bool:
    """Does the body name the cluster (a scope, or an activity-log condition `resourceId equals <id>`)?"""
    if isinstance(body, str):
        return same_resource(body, cluster_id)
    if isinstance(body, list):
        return any(_mentions(item, cluster_id) for item in body)
    if isinstance(body, dict):
        return any(_mentions(item, cluster_id) for item in body.values())
    return False


def _source_of(topic_body: dict[str, Any]) -> str:
    return str((topic_body.get("properties") or {}).get("source") or "")


def _writable(body: dict[str, Any]) -> dict[str, Any]:
    """A REST body without what the service sets (ids, system data, states): fit for a PUT of a new resource."""
    copied: dict[str, Any] = json.loads(json.dumps(body))
    for key in ("id", "name", "type", "systemData", "etag"):
        copied.pop(key, None)
    props = copied.get("properties")
    if isinstance(props, dict):
        for key in ("provisioningState", "metricResourceId", "topic", "lastUpdatedTime", "isMigrated"):
            props.pop(key, None)
    return copied
