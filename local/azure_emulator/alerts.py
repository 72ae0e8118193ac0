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
    ) -> AlertRule:
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
            )
            self.rules = [r for r in self.rules if r.name != name] + [rule]
            return rule

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
        breached = total > 0 and percent > rule.threshold_percent
        if breached and rule.fired_at is None:
            rule.fired_at, rule.fired_value = at, percent
            rule.firings += 1
            self._pending.append((rule.webhook_url, self._payload(rule, "Fired", at, start, percent)))
        elif not breached and rule.fired_at is not None:
            self._pending.append((rule.webhook_url, self._payload(rule, "Resolved", at, start, percent)))
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
            "alertRuleID": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/microsoft.insights/metricAlerts/"
            f"{rule.name}",
            "severity": "Sev1",
            "signalType": "Metric",
            "monitorCondition": condition,
            "monitoringService": "Platform",
            "alertTargetIDs": [scope.lower()],
            "configurationItems": [scope.rstrip("/").split("/")[-1]],
            "originAlertId": f"{sub}_{rg}_microsoft.insights_metricAlerts_{rule.name}_{rule.firings}",
            "firedDateTime": iso(fired_at),
            "resolvedDateTime": iso(at) if condition == "Resolved" else None,
            "description": f"5xx rate through Front Door above {rule.threshold_percent:g}%",
            "essentialsVersion": "1.0",
            "alertContextVersion": "1.0",
        }
        criterion: dict[str, Any] = {
            "metricName": "Percentage5XX",
            "metricNamespace": "Microsoft.Network/frontdoors" if classic else "Microsoft.Cdn/profiles",
            "operator": "GreaterThan",
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
            "data": {"essentials": essentials, "alertContext": context, "customProperties": None},
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
