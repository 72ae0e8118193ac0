"""Microsoft.Insights through azure-mgmt-monitor: action groups, metric and activity log alerts, diagnostic
settings; a metric alert on Front Door that fires to its action group's webhook."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.monitor import MonitorManagementClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.arm_helpers import WORKSPACE_ID, webhook
from tests.emulator.conftest import PROFILE_ID, RG, SUB, StaticToken, app_seed, client_kwargs, fixture

GROUP_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/microsoft.insights/actionGroups/ag-bluegreen"


@pytest.fixture
def monitor(emu: AzureEmulator, clock: VirtualClock) -> MonitorManagementClient:
    return MonitorManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


@pytest.fixture
def blue(emu: AzureEmulator) -> str:
    body = fixture("managed-cluster-blue.json")
    body["properties"].pop("identityProfile", None)
    emu.seed([body, {"type": "emulator/resource", "id": WORKSPACE_ID, "location": "eastus2"}])
    return str(body["id"])


def action_group(url: str, common: bool = True) -> dict[str, Any]:
    return {
        "location": "Global",
        "properties": {
            "groupShortName": "bluegreen",
            "enabled": True,
            "webhookReceivers": [{"name": "rollback", "serviceUri": url, "useCommonAlertSchema": common}],
        },
    }


def metric_alert(scope: str, **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location": "global",
        "properties": {
            "description": "5xx through Front Door",
            "severity": 2,
            "enabled": True,
            "scopes": [scope],
            "evaluationFrequency": "PT1M",
            "windowSize": "PT5M",
            "criteria": {
                "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                "allOf": [
                    {
                        "criterionType": "StaticThresholdCriterion",
                        "name": "5xx",
                        "metricName": "Percentage5XX",
                        "metricNamespace": "Microsoft.Cdn/profiles",
                        "operator": "GreaterThan",
                        "threshold": 5,
                        "timeAggregation": "Average",
                    }
                ],
            },
            "actions": [{"actionGroupId": GROUP_ID, "webHookProperties": {"environment": "nod"}}],
        },
    }
    body["properties"].update(props)
    return body


def raw(monitor: MonitorManagementClient, method: str, path: str, body: Any, api: str) -> Any:
    """A request through the client's own pipeline with a body the SDK models would refuse client-side."""
    base = monitor._client._base_url.rstrip("/")
    return monitor._client.send_request(HttpRequest(method, f"{base}{path}?api-version={api}", json=body))


def test_action_group_webhook_receivers_carry_the_common_schema_flag(monitor: MonitorManagementClient) -> None:
    made = monitor.action_groups.create_or_update(RG, "ag-bluegreen", action_group("https://func.example/api/alerts"))
    assert (made.location, made.group_short_name, made.enabled) == ("Global", "bluegreen", True)
    got = monitor.action_groups.get(RG, "ag-bluegreen")
    assert got.webhook_receivers[0].use_common_alert_schema is True
    assert got.webhook_receivers[0].use_aad_auth is False
    assert got.email_receivers == [] and got.sms_receivers == []
    assert [g.name for g in monitor.action_groups.list_by_resource_group(RG)] == ["ag-bluegreen"]
    body = action_group("https://x")
    body["properties"]["groupShortName"] = "much-too-long-name"
    response = raw(monitor, "PUT", GROUP_ID, body, "2023-01-01")
    assert (response.status_code, response.json()["error"]["code"]) == (400, "BadRequest")
    monitor.action_groups.delete(RG, "ag-bluegreen")
    with pytest.raises(ResourceNotFoundError):
        monitor.action_groups.get(RG, "ag-bluegreen")


def test_metric_alert_fields_are_validated_as_the_spec_says(
    emu: AzureEmulator, monitor: MonitorManagementClient, blue: str
) -> None:
    emu.seed([fixture("afd-origin-group.json")])
    monitor.action_groups.create_or_update(RG, "ag-bluegreen", action_group("https://x.example/api/alerts"))
    made = monitor.metric_alerts.create_or_update(RG, "afd-5xx", metric_alert(PROFILE_ID))
    assert (made.location, made.auto_mitigate, made.is_migrated) == ("global", True, False)
    assert made.last_updated_time is not None
    assert [a.name for a in monitor.metric_alerts.list_by_subscription()] == ["afd-5xx"]
    path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Insights/metricAlerts/bad"
    good = metric_alert(PROFILE_ID)
    cases: list[tuple[dict[str, Any], str]] = []
    for field in ("severity", "enabled", "scopes", "evaluationFrequency", "windowSize", "criteria"):
        body = copy.deepcopy(good)
        body["properties"].pop(field)
        cases.append((body, f"'{field}' is required"))
    cases += [
        ({**copy.deepcopy(good), "location": "eastus2"}, "must be 'global'"),
        (metric_alert(PROFILE_ID, severity=5), "Severity"),
        (metric_alert(PROFILE_ID, evaluationFrequency="PT2M"), "Evaluation frequency"),
        (metric_alert(PROFILE_ID, evaluationFrequency="PT15M", windowSize="PT5M"), "window size"),
        (metric_alert(PROFILE_ID.replace("afd-nod-prod", "afd-gone")), "Alert scope is invalid"),
        (metric_alert(PROFILE_ID, scopes=[PROFILE_ID, blue]), "different from the selected target resource type"),
        (metric_alert(PROFILE_ID, actions=[{"actionGroupId": GROUP_ID.replace("bluegreen", "gone")}]), "was not found"),
    ]
    wrong_metric = metric_alert(PROFILE_ID)
    wrong_metric["properties"]["criteria"]["allOf"][0]["metricName"] = "CpuPercent"
    cases.append((wrong_metric, "Couldn't find a metric named CpuPercent"))
    for body, text in cases:
        response = raw(monitor, "PUT", path, body, "2018-03-01")
        assert response.status_code == 400, text
        error = response.json()["error"]
        assert error["code"] == "BadRequest" and text in error["message"], (text, error)
    monitor.metric_alerts.delete(RG, "afd-5xx")
    assert list(monitor.metric_alerts.list_by_resource_group(RG)) == []


def test_a_metric_alert_on_front_door_posts_to_its_action_groups_webhook(
    emu: AzureEmulator, clock: VirtualClock, monitor: MonitorManagementClient
) -> None:
    blue = fixture("managed-cluster-blue.json")
    blue["properties"].pop("identityProfile", None)
    emu.seed([fixture("afd-origin-group.json"), fixture("afd-origin-blue.json"), blue, app_seed(blue["id"])])
    emu.bind_host("blue.web.nodpublishers.example", "aks-nod-prod-blue")
    with webhook() as receiver, webhook() as legacy:
        monitor.action_groups.create_or_update(RG, "ag-bluegreen", action_group(receiver.url + "/api/alerts"))
        other = action_group(legacy.url, common=False)
        monitor.action_groups.create_or_update(RG, "ag-legacy", other)
        alert = metric_alert(PROFILE_ID)
        alert["properties"]["actions"].append({"actionGroupId": GROUP_ID.replace("ag-bluegreen", "ag-legacy")})
        made = monitor.metric_alerts.create_or_update(RG, "afd-5xx", alert)
        clock.advance(180)
        assert emu.flush_webhooks() == 0
        emu.set_error_fraction("aks-nod-prod-blue", 0.5)
        clock.advance(120)
        assert emu.flush_webhooks() == 1
        emu.set_error_fraction("aks-nod-prod-blue", 0.0)
        clock.advance(600)
        assert emu.flush_webhooks() == 1
    fired, resolved = receiver.received
    essentials = fired["data"]["essentials"]
    assert (essentials["monitorCondition"], resolved["data"]["essentials"]["monitorCondition"]) == ("Fired", "Resolved")
    assert essentials["alertRuleID"] == made.id and essentials["alertRule"] == "afd-5xx"
    assert (essentials["severity"], essentials["description"]) == ("Sev2", "5xx through Front Door")
    assert fired["data"]["customProperties"] == {"environment": "nod"}
    assert fired["data"]["alertContext"]["condition"]["windowSize"] == "PT5M"
    assert legacy.received == []  # no common schema: this receiver is not modelled
    # Disabled: no longer evaluated.
    monitor.metric_alerts.create_or_update(RG, "afd-5xx", metric_alert(PROFILE_ID, enabled=False))
    emu.set_error_fraction("aks-nod-prod-blue", 0.5)
    clock.advance(600)
    assert emu.pending_webhooks() == 0


def test_activity_log_alerts_need_scopes_conditions_and_actions(
    emu: AzureEmulator, monitor: MonitorManagementClient, blue: str
) -> None:
    monitor.action_groups.create_or_update(RG, "ag-bluegreen", action_group("https://x.example/api/alerts"))
    body: dict[str, Any] = {
        "location": "Global",
        "properties": {
            "scopes": [f"/subscriptions/{SUB}"],
            "condition": {
                "allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "resourceId", "equals": blue},
                    {
                        "anyOf": [
                            {"field": "operationName", "equals": "Microsoft.ContainerService/managedClusters/delete"}
                        ]
                    },
                ]
            },
            "actions": {"actionGroups": [{"actionGroupId": GROUP_ID}]},
        },
    }
    made = monitor.activity_log_alerts.create_or_update(RG, "blue-deleted", body)
    assert made.enabled is True and made.scopes == [f"/subscriptions/{SUB}"]
    assert [a.name for a in monitor.activity_log_alerts.list_by_subscription_id()] == ["blue-deleted"]
    path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Insights/activityLogAlerts/bad"
    only_category = copy.deepcopy(body)
    only_category["properties"]["condition"]["allOf"] = [{"field": "category", "equals": "Administrative"}]
    both = copy.deepcopy(body)
    both["properties"]["condition"]["allOf"][1]["containsAny"] = ["x"]
    gone_scope = copy.deepcopy(body)
    gone_scope["properties"]["scopes"] = [blue.replace("blue", "gone")]
    no_actions = copy.deepcopy(body)
    no_actions["properties"].pop("actions")
    for case, code in [
        (only_category, "UnsupportedCondition"),
        (both, "BadRequest"),
        (gone_scope, "BadRequest"),
        (no_actions, "BadRequest"),
    ]:
        response = raw(monitor, "PUT", path, case, "2020-10-01")
        assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    monitor.activity_log_alerts.delete(RG, "blue-deleted")
    with pytest.raises(ResourceNotFoundError):
        monitor.activity_log_alerts.get(RG, "blue-deleted")


def test_diagnostic_settings_are_extension_resources_of_an_existing_target(
    emu: AzureEmulator, monitor: MonitorManagementClient, aks: ContainerServiceClient, blue: str
) -> None:
    settings = monitor.diagnostic_settings
    body = {
        "properties": {
            "workspaceId": WORKSPACE_ID,
            "logs": [{"categoryGroup": "allLogs", "enabled": True}, {"category": "kube-audit", "enabled": True}],
            "metrics": [{"category": "AllMetrics", "enabled": True}],
        }
    }
    made = settings.create_or_update(blue, "to-log-analytics", body)
    assert made.id.lower() == f"{blue}/providers/microsoft.insights/diagnosticSettings/to-log-analytics".lower()
    assert made.workspace_id == WORKSPACE_ID and made.logs[0].category_group == "allLogs"
    assert [s.name for s in settings.list(blue)] == ["to-log-analytics"]
    assert settings.get(blue, "to-log-analytics").metrics[0].category == "AllMetrics"
    path = f"{blue}/providers/Microsoft.Insights/diagnosticSettings/bad"
    refused = [
        ({"logs": [{"category": "kube-audit", "enabled": True}]}, "destination"),
        ({"workspaceId": WORKSPACE_ID.replace("log-nod", "log-gone"), "logs": []}, "does not exist"),
        (
            {"workspaceId": WORKSPACE_ID, "logs": [{"category": "WorkflowRuntime", "enabled": True}]},
            "Category 'WorkflowRuntime' is not supported.",
        ),
        (
            {"workspaceId": WORKSPACE_ID, "metrics": [{"category": "Requests", "enabled": True}]},
            "supported categories are: 'AllMetrics'",
        ),
        (
            {
                "workspaceId": WORKSPACE_ID,
                "logs": [{"category": "guard", "enabled": True, "retentionPolicy": {"enabled": True, "days": 7}}],
            },
            "does not support retention",
        ),
    ]
    for props, text in refused:
        response = raw(monitor, "PUT", path, {"properties": props}, "2021-05-01-preview")
        assert response.status_code == 400 and text in response.json()["error"]["message"], (text, response.json())
    for n in range(4):
        settings.create_or_update(blue, f"extra-{n}", body)
    response = raw(monitor, "PUT", path, body, "2021-05-01-preview")
    assert response.status_code == 400 and "up to 5" in response.json()["error"]["message"]
    with pytest.raises(ResourceNotFoundError):
        settings.create_or_update(blue.replace("blue", "gone"), "x", body)
    for n in range(4):
        settings.delete(blue, f"extra-{n}")
    # The cluster goes, its settings stay: a cluster re-created under the same id has them again (docs' WARNING).
    aks.managed_clusters.begin_delete(RG, "aks-nod-prod-blue").result()
    with pytest.raises(ResourceNotFoundError):
        settings.get(blue, "to-log-analytics")
    again = fixture("managed-cluster-blue.json")
    again["properties"].pop("identityProfile", None)
    emu.seed(again)
    assert [s.name for s in settings.list(blue)] == ["to-log-analytics"]
    settings.delete(blue, "to-log-analytics")
    assert list(settings.list(blue)) == []
