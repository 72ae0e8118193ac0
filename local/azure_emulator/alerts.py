"""Azure Monitor metric alert rules on a Front Door's 5xx percentage, delivered as common-alert-schema webhooks.

Evaluation only queues payloads: the clock-advance listener that triggers it may run on the server's own thread,
so the POSTs happen in `flush()` (called by the owner, or by a background thread with a real clock).
"""

from __future__ import annotations

import json
import re
import sys
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator.lro import iso
from local.azure_emulator.traffic import Traffic, floor_minute


@dataclass
class AlertRule:
    name: str
    scope_id: str
    threshold_percent: float
    window_minutes: int
    webhook_url: str
    frequency_minutes: int
    next_evaluation: datetime
    fired_at: datetime | None = None
    fired_value: float = 0.0
    firings: int = 0
    # Set when a Microsoft.Insights/metricAlerts resource drives the rule (insights_metric_alerts); the defaults
    # are what add_alert_rule has always posted.
    rule_id: str = ""
    severity: int = 1
    description: str = ""
    operator: str = "GreaterThan"
    auto_mitigate: bool = True
    custom_properties: dict[str, str] | None = None
    # The webhook URLs at delivery time (its action groups' receivers); None: webhook_url alone.
    targets: Callable[[], list[str]] | None = None

    @property
    def key(self) -> str:
        return (self.rule_id or self.name).lower()

    def urls(self) -> list[str]:
        return self.targets() if self.targets is not None else [self.webhook_url]


class Alerts:
    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.world = traffic.world
        self.rules: list[AlertRule] = []
        self._pending: list[tuple[str, dict[str, Any]]] = []

    def add_rule(
        self,
        name: str,
        scope_id: str,
        threshold_percent: float,
        webhook_url: str,
        window_minutes: int = 5,
        frequency_minutes: int = 1,
        **options: Any,
    ) -> AlertRule:
        """`options` set the AlertRule fields a metricAlerts resource has (rule_id, severity, description,
        operator, auto_mitigate, custom_properties, targets); a rule replaces the one with the same key."""
        with self.world.lock:
            first = floor_minute(self.world.now()) + timedelta(minutes=frequency_minutes)
            rule = AlertRule(
                name,
                scope_id,
                float(threshold_percent),
                int(window_minutes),
                webhook_url,
                int(frequency_minutes),
                first,
                **options,
            )
            self.rules = [r for r in self.rules if r.key != rule.key] + [rule]
            return rule

    def remove_rule(self, rule_key: str) -> None:
        with self.world.lock:
            self.rules = [r for r in self.rules if r.key != rule_key.lower()]

    def evaluate(self, now: datetime) -> None:
        """Evaluate every rule at each of its boundaries that has passed; queue Fired / Resolved payloads."""
        with self.world.lock:
            for rule in self.rules:
                while rule.next_evaluation <= now:
                    self._evaluate_at(rule, rule.next_evaluation)
                    rule.next_evaluation += timedelta(minutes=rule.frequency_minutes)

    def _evaluate_at(self, rule: AlertRule, at: datetime) -> None:
        if self.traffic.scope_kind(rule.scope_id) is None:
            return
        start = at - timedelta(minutes=rule.window_minutes)
        percent, total = self.traffic.five_xx_percent(rule.scope_id, start, at)
        above = (
            percent >= rule.threshold_percent
            if rule.operator == "GreaterThanOrEqual"
            else percent > rule.threshold_percent
        )
        breached = total > 0 and above
        if breached and rule.fired_at is None:
            rule.fired_at, rule.fired_value = at, percent
            rule.firings += 1
            payload = self._payload(rule, "Fired", at, start, percent)
            self._pending += [(url, payload) for url in rule.urls()]
        elif not breached and rule.fired_at is not None and rule.auto_mitigate:
            # autoMitigate false: the alert stays fired until someone closes it (metricAlert_API.json).
            payload = self._payload(rule, "Resolved", at, start, percent)
            self._pending += [(url, payload) for url in rule.urls()]
            rule.fired_at = None

    def _payload(self, rule: AlertRule, condition: str, at: datetime, start: datetime, value: float) -> dict[str, Any]:
        scope = rule.scope_id
        sub = _part(scope, "subscriptions")
        rg = _part(scope, "resourcegroups")
        classic = self.traffic.scope_kind(scope) == "classic"
        alert_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}#{rule.name}#{rule.firings}")
        fired_at = rule.fired_at or at
        essentials = {
            "alertId": f"/subscriptions/{sub}/providers/Microsoft.AlertsManagement/alerts/{alert_uuid}",
            "alertRule": rule.name,
            "alertRuleID": rule.rule_id
            or f"/subscriptions/{sub}/resourceGroups/{rg}/providers/microsoft.insights/metricAlerts/{rule.name}",
            "severity": f"Sev{rule.severity}",
            "signalType": "Metric",
            "monitorCondition": condition,
            "monitoringService": "Platform",
            "alertTargetIDs": [scope.lower()],
            "configurationItems": [scope.rstrip("/").split("/")[-1]],
            "originAlertId": f"{sub}_{rg}_microsoft.insights_metricAlerts_{rule.name}_{rule.firings}",
            "firedDateTime": iso(fired_at),
            "resolvedDateTime": iso(at) if condition == "Resolved" else None,
            "description": rule.description or f"5xx rate through Front Door above {rule.threshold_percent:g}%",
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        }
        criterion: dict[str, Any] = {
            "metricName": "Percentage5XX",
            "metricNamespace": "Microsoft.Network/frontdoors" if classic else "Microsoft.Cdn/profiles",
            "operator": rule.operator,
            "threshold": f"{rule.threshold_percent:g}",
            "timeAggregation": "Average",
            "dimensions": [],
            "metricValue": round(value, 3),
        }
        context = {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": {
                "windowSize": f"PT{rule.window_minutes}M",
                "allOf": [criterion],
                "windowStartTime": iso(start),
                "windowEndTime": iso(at),
            },
        }
        return {
            "schemaId": "azureMonitorCommonAlertSchema",
            "data": {"essentials": essentials, "alertContext": context, "customProperties": rule.custom_properties},
        }

    def pending(self) -> int:
        with self.world.lock:
            return len(self._pending)

    def flush(self) -> int:
        """POST every queued payload (outside the lock); return how many the receivers accepted."""
        with self.world.lock:
            batch, self._pending = self._pending, []
        delivered = 0
        for url, payload in batch:
            request = urllib.request.Request(
                url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    delivered += 1 if response.status < 300 else 0
            except OSError as exc:  # a down receiver loses the alert, as an action group eventually would
                print(f"emulated Azure: alert webhook to {url} failed: {exc}", file=sys.stderr)
        return delivered


def _part(resource_id: str, segment: str) -> str:
    match = re.search(rf"/{segment}/([^/]+)", resource_id, re.IGNORECASE)
    return match.group(1) if match else ""
