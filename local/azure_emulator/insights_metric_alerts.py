"""Microsoft.Insights metric alerts (api-version 2018-03-01): PUT (200, create or update, as the spec has it), GET,
list by resource group and subscription, DELETE (200, or 204 when there was nothing).

Validation (SPEC monitor/…/Insights/stable/2018-03-01/metricAlert_API.json and the SDK's model of it; reference/
azure-more.md §(g)); every refusal is 400 BadRequest (insights_common):
- required: location (global), severity (0-4), enabled, scopes, evaluationFrequency, windowSize, criteria;
  `autoMitigate` defaults to true; `lastUpdatedTime` and `isMigrated` are read-only.
- evaluationFrequency one of PT1M, PT5M, PT15M, PT30M, PT1H; windowSize one of PT1M, PT5M, PT15M, PT30M, PT1H,
  PT6H, PT12H, P1D, and not shorter than the frequency (the values `az monitor metrics alert create` documents
  for --evaluation-frequency and --window-size).
- every scope must exist (arm_exists): "Alert scope is invalid." (Azure/ResourceModules#4550); scopes of
  different resource types: "You can't define a scope that is different from the selected target resource type."
  (Azure/azure-powershell#17105).
- criteria.odata.type SingleResourceMultipleMetricCriteria (one resource), MultipleResourceMultipleMetricCriteria
  (with targetResourceType and targetResourceRegion, "Mandatory if the scope contains a subscription, resource
  group, or more than one resource") or WebtestLocationAvailabilityCriteria; allOf criteria need criterionType,
  name, metricName, timeAggregation (Average|Count|Minimum|Maximum|Total); static ones an operator (Equals,
  NotEquals, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual) and a threshold; dynamic ones an operator
  (GreaterThan, LessThan, GreaterOrLessThan), alertSensitivity (Low|Medium|High) and failingPeriods with
  minFailingPeriodsToAlert <= numberOfEvaluationPeriods.
- metric names are checked for the namespaces whose metrics reference/azure.md §6.1 lists (Front Door Standard/
  Premium `Microsoft.Cdn/profiles`, classic `Microsoft.Network/frontdoors`), unless skipMetricValidation.
- every action's actionGroupId must name an existing action group.

What it drives: a rule on one Front Door Standard/Premium profile with a single static criterion `Percentage5XX`,
timeAggregation Average, operator GreaterThan or GreaterThanOrEqual and no dimensions is evaluated by the
emulator's alert machinery (alerts.py, the traffic the emulator routes): each evaluationFrequency over windowSize,
Fired when breached, Resolved when no longer (autoMitigate), posted in the common alert schema to the action
groups' webhook receivers that use it (insights_action_groups), with the actions' webHookProperties as
customProperties. Other rules are stored, not evaluated.
"""

from __future__ import annotations

from typing import Any

from local.azure_emulator.alerts import Alerts
from local.azure_emulator.arm_exists import exists
from local.azure_emulator.arm_store import resource_type
from local.azure_emulator.insights_action_groups import GROUP_TYPE, webhook_urls
from local.azure_emulator.insights_common import GlobalResources, bad_request
from local.azure_emulator.lro import iso
from local.azure_emulator.world import World

API = "2018-03-01"
ALERT_TYPE = "Microsoft.Insights/metricAlerts"
FREQUENCIES = {"PT1M": 1, "PT5M": 5, "PT15M": 15, "PT30M": 30, "PT1H": 60}
WINDOWS = {**FREQUENCIES, "PT6H": 360, "PT12H": 720, "P1D": 1440}
SINGLE = "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"
MULTIPLE = "Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria"
WEBTEST = "Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria"
AGGREGATIONS = {"Average", "Count", "Minimum", "Maximum", "Total"}
STATIC_OPERATORS = {"Equals", "NotEquals", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"}
DYNAMIC_OPERATORS = {"GreaterThan", "LessThan", "GreaterOrLessThan"}
# Platform metrics per namespace (reference/azure.md §6.1).
METRICS = {
    "microsoft.cdn/profiles": {
        "percentage4xx",
        "percentage5xx",
        "originhealthpercentage",
        "originrequestcount",
        "originlatency",
        "requestcount",
        "totallatency",
        "requestsize",
        "responsesize",
        "bytehitratio",
        "webapplicationfirewallrequestcount",
    },
    "microsoft.network/frontdoors": {
        "requestcount",
        "requestsize",
        "responsesize",
        "totallatency",
        "backendrequestcount",
        "backendrequestlatency",
        "backendhealthpercentage",
        "webapplicationfirewallrequestcount",
        "billableresponsesize",
    },
}
_SCOPE_TYPES = {"microsoft.resources/subscriptions", "microsoft.resources/resourcegroups"}


class MetricAlerts(GlobalResources):
    TYPE = ALERT_TYPE
    COLLECTION = "metricAlerts"
    WHAT = "a metric alert"
    READ_ONLY = ("lastUpdatedTime", "isMigrated")
    CREATED_STATUS = 200  # createOrUpdate answers 200 only (metricAlert_API.json 2018-03-01)

    def __init__(self, world: World, alerts: Alerts) -> None:
        super().__init__(world)
        self.alerts = alerts

    def prepare(self, props: dict[str, Any]) -> None:
        self.validate(props)
        props.setdefault("autoMitigate", True)
        props.setdefault("description", "")
        props.setdefault("actions", [])
        props.update(lastUpdatedTime=iso(self.world.now()), isMigrated=False)

    def stored(self, body: dict[str, Any]) -> None:
        self.drive(body)

    def removed(self, resource_id: str) -> None:
        self.alerts.remove_rule(resource_id)

    # -- validation ------------------------------------------------------------------------------------------

    def validate(self, props: dict[str, Any]) -> None:
        for field in ("severity", "enabled", "scopes", "evaluationFrequency", "windowSize", "criteria"):
            if props.get(field) is None:
                raise bad_request(f"The metric alert property '{field}' is required.")
        severity = props["severity"]
        if not isinstance(severity, int) or isinstance(severity, bool) or not 0 <= severity <= 4:
            raise bad_request(f"Severity must be an integer from 0 to 4, not {severity!r}.")
        if not isinstance(props["enabled"], bool):
            raise bad_request("enabled must be true or false.")
        frequency, window = str(props["evaluationFrequency"]).upper(), str(props["windowSize"]).upper()
        if frequency not in FREQUENCIES:
            raise bad_request(
                f"Evaluation frequency {frequency} is not supported: use one of {', '.join(FREQUENCIES)}."
            )
        if window not in WINDOWS:
            raise bad_request(f"Window size {window} is not supported: use one of {', '.join(WINDOWS)}.")
        if WINDOWS[window] < FREQUENCIES[frequency]:
            raise bad_request("The window size must be greater than or equal to the evaluation frequency.")
        props["evaluationFrequency"], props["windowSize"] = frequency, window
        scopes = props["scopes"]
        if not isinstance(scopes, list) or not scopes:
            raise bad_request("Alert scope is invalid: at least one scope is required.")
        for scope in scopes:
            if not isinstance(scope, str) or not exists(self.world, scope):
                raise bad_request(f"Alert scope is invalid. The resource '{scope}' was not found.")
        types = {resource_type(s).lower() for s in scopes}
        if len(types) > 1:
            raise bad_request("You can't define a scope that is different from the selected target resource type.")
        self._criteria(props, scopes, types.pop())
        for action in props.get("actions") or []:
            group = str(action.get("actionGroupId") or "")
            if resource_type(group).lower() != GROUP_TYPE.lower() or self.world.arm.get(group) is None:
                raise bad_request(f"The action group '{group}' was not found.")

    def _criteria(self, props: dict[str, Any], scopes: list[str], scope_type: str) -> None:
        criteria = props["criteria"]
        kind = str(criteria.get("odata.type") or "") if isinstance(criteria, dict) else ""
        if kind not in (SINGLE, MULTIPLE, WEBTEST):
            raise bad_request(f"Criteria odata.type '{kind}' is not supported.")
        broad = len(scopes) > 1 or scope_type in _SCOPE_TYPES
        if kind == SINGLE and broad:
            raise bad_request(
                "SingleResourceMultipleMetricCriteria applies to one resource: use "
                "MultipleResourceMultipleMetricCriteria for several resources, a resource group or a subscription."
            )
        if broad and not (props.get("targetResourceType") and props.get("targetResourceRegion")):
            raise bad_request(
                "targetResourceType and targetResourceRegion are mandatory when the scope contains a subscription, "
                "resource group, or more than one resource."
            )
        if kind == WEBTEST:
            if not all(criteria.get(k) is not None for k in ("webTestId", "componentId", "failedLocationCount")):
                raise bad_request(
                    "WebtestLocationAvailabilityCriteria needs webTestId, componentId, failedLocationCount."
                )
            return
        items = criteria.get("allOf")
        if not isinstance(items, list) or not items:
            raise bad_request("The criteria need at least one condition in allOf.")
        namespace = str(props.get("targetResourceType") or scope_type).lower()
        for item in items:
            self._criterion(item, namespace)

    @staticmethod
    def _criterion(item: dict[str, Any], namespace: str) -> None:
        for field in ("criterionType", "name", "metricName", "timeAggregation"):
            if not item.get(field):
                raise bad_request(f"Each criterion needs '{field}'.")
        if item["timeAggregation"] not in AGGREGATIONS:
            raise bad_request(f"Time aggregation '{item['timeAggregation']}' is not supported.")
        if item["criterionType"] == "StaticThresholdCriterion":
            if item.get("operator") not in STATIC_OPERATORS or not isinstance(item.get("threshold"), int | float):
                raise bad_request(f"Criterion '{item['name']}' needs an operator and a numeric threshold.")
        elif item["criterionType"] == "DynamicThresholdCriterion":
            periods = item.get("failingPeriods") or {}
            if item.get("operator") not in DYNAMIC_OPERATORS or item.get("alertSensitivity") not in (
                "Low",
                "Medium",
                "High",
            ):
                raise bad_request(f"Criterion '{item['name']}' needs a dynamic operator and an alertSensitivity.")
            if not periods or periods.get("minFailingPeriodsToAlert", 0) > periods.get("numberOfEvaluationPeriods", 0):
                raise bad_request("minFailingPeriodsToAlert must not exceed numberOfEvaluationPeriods.")
        else:
            raise bad_request(f"Criterion type '{item['criterionType']}' is not supported.")
        known = METRICS.get(namespace)
        if known is not None and not item.get("skipMetricValidation") and str(item["metricName"]).lower() not in known:
            raise bad_request(f"Couldn't find a metric named {item['metricName']} in namespace {namespace}.")

    # -- what it drives --------------------------------------------------------------------------------------

    def drive(self, stored: dict[str, Any]) -> None:
        """Bind the rule to the alert machinery if it is one the emulator can evaluate, else unbind it."""
        props, rid = stored["properties"], stored["id"]
        scopes = props["scopes"]
        items = props["criteria"].get("allOf") or []
        item = items[0] if len(items) == 1 else {}
        bindable = (
            props["enabled"]
            and len(scopes) == 1
            and self.alerts.traffic.scope_kind(scopes[0]) == "std"
            and str(item.get("metricName", "")).lower() == "percentage5xx"
            and item.get("criterionType") == "StaticThresholdCriterion"
            and item.get("timeAggregation") == "Average"
            and item.get("operator") in ("GreaterThan", "GreaterThanOrEqual")
            and not item.get("dimensions")
        )
        if not bindable:
            self.alerts.remove_rule(rid)
            return
        groups = [str(a.get("actionGroupId")) for a in props.get("actions") or []]
        custom: dict[str, str] = {}
        for action in props.get("actions") or []:
            custom.update(action.get("webHookProperties") or {})

        def targets() -> list[str]:
            return [url for group in groups for url in webhook_urls(self.world, group)]

        self.alerts.add_rule(
            stored["name"],
            scopes[0],
            float(item["threshold"]),
            "",
            WINDOWS[props["windowSize"]],
            FREQUENCIES[props["evaluationFrequency"]],
            rule_id=rid,
            severity=int(props["severity"]),
            description=str(props.get("description") or ""),
            operator=str(item["operator"]),
            auto_mitigate=bool(props["autoMitigate"]),
            custom_properties=custom or None,
            targets=targets,
        )
