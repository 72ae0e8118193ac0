"""Microsoft.Insights diagnostic settings, extension resources at `{resourceUri}/providers/microsoft.insights/
diagnosticSettings/{name}` (api-version 2021-05-01-preview): PUT (200), GET, list (`.../diagnosticSettings`),
DELETE (200, or 204 when there was nothing). Body as samples/arm/more/insights-diagnosticsetting-get.json.

Rules (DOCS azure-monitor/essentials/diagnostic-settings.md unless said; refusals 400 BadRequest):
- the target resource must exist: otherwise 404 ResourceNotFound, as for any resource ARM cannot find.
- "Destinations: One or more destinations" (workspaceId, storageAccountId, eventHubAuthorizationRuleId,
  marketplacePartnerId), "no more than one of each", and "Any destinations for the diagnostic setting must be
  created before you create the diagnostic settings": each must exist (arm_exists; a workspace, storage account
  or event hub is declared with an emulator/resource seed item). A storage account or event hub namespace "needs
  to be in the same region as the resource being monitored if the resource is regional".
- "Each resource can have up to five diagnostic settings."
- `logs[]` entries take a `category` or a `categoryGroup` (allLogs | audit), not both, and `enabled`; `metrics[]`
  a `category` and `enabled`. For targets whose categories are known the names are checked: "Category 'X' is
  not supported." (hashicorp/terraform#20534) and "Metric category 'X' is not supported, supported categories
  are: 'AllMetrics'" (TaoYang-Cloud/azurepolicy#19). Known: AKS (learn.microsoft.com/azure/azure-monitor/
  reference/supported-logs/microsoft-containerservice-managedclusters-logs), Front Door Standard/Premium and
  classic (…/microsoft-cdn-profiles-logs, …/microsoft-network-frontdoors-logs), Event Grid system topics
  (DeliveryFailures, reference/azure-more.md §(g)).
- a retention policy that is enabled: "Diagnostic settings does not support retention for new diagnostic
  settings." (microsoft/PubSec-Info-Assistant#196).
- Deleting the target does not delete its settings: "if you recreate this resource, the diagnostic settings for
  the deleted resource could be included with the new resource" (same page, WARNING). The emulator keeps them, and
  a resource re-created with the same id has them again; while the target is gone they cannot be read.
Nothing is exported: no logs or metrics reach the destinations.
"""

from __future__ import annotations

import copy
from typing import Any

from local.azure_emulator.arm_exists import exists, location_of
from local.azure_emulator.arm_store import key, last_name, resource_type, segment, view
from local.azure_emulator.errors import ArmError
from local.azure_emulator.insights_common import NS, bad_request
from local.azure_emulator.protocol import Request, Response, Route, route
from local.azure_emulator.world import World

API = "2021-05-01-preview"
SETTING_TYPE = "Microsoft.Insights/diagnosticSettings"
_BASE = r"(?P<uri>/subscriptions/[^/]+/.+?)/providers/microsoft\.insights/diagnosticSettings"
MAX_SETTINGS = 5
DESTINATIONS = ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId", "marketplacePartnerId")
CATEGORY_GROUPS = {"alllogs", "audit"}
LOG_CATEGORIES = {
    "microsoft.containerservice/managedclusters": {
        "cloud-controller-manager",
        "cluster-autoscaler",
        "csi-azuredisk-controller",
        "csi-azurefile-controller",
        "csi-snapshot-controller",
        "fleet-mcs-controller-manager",
        "fleet-member-agent",
        "fleet-member-net-controller-manager",
        "guard",
        "kube-apiserver",
        "kube-audit",
        "kube-audit-admin",
        "kube-controller-manager",
        "kube-scheduler",
    },
    "microsoft.cdn/profiles": {"frontdooraccesslog", "frontdoorhealthprobelog", "frontdoorwebapplicationfirewalllog"},
    "microsoft.network/frontdoors": {"frontdooraccesslog", "frontdoorwebapplicationfirewalllog"},
    "microsoft.eventgrid/systemtopics": {"deliveryfailures"},
}
_DESTINATION_TYPES = {
    "workspaceId": {"microsoft.operationalinsights/workspaces"},
    "storageAccountId": {"microsoft.storage/storageaccounts"},
    "eventHubAuthorizationRuleId": {
        "microsoft.eventhub/namespaces/authorizationrules",
        "microsoft.eventhub/namespaces/eventhubs/authorizationrules",
    },
    "marketplacePartnerId": set(),
}


def _regional_parent(destination_id: str) -> str:
    """The resource whose region counts: an event hub namespace for its authorization rules."""
    lowered = destination_id.lower()
    at = lowered.find("/namespaces/")
    if "/microsoft.eventhub/" in lowered and at >= 0:
        end = lowered.find("/", at + len("/namespaces/"))
        return destination_id[:end] if end >= 0 else destination_id
    return destination_id


class DiagnosticSettings:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        op = f"{NS}/diagnosticSettings"
        return [
            route("GET", _BASE, self.list_settings, f"{op}/read"),
            route("GET", _BASE + "/{name}", self.get, f"{op}/read"),
            route("PUT", _BASE + "/{name}", self.put, f"{op}/write"),
            route("DELETE", _BASE + "/{name}", self.delete, f"{op}/delete"),
        ]

    def _target(self, uri: str) -> str:
        if not exists(self.world, uri):
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{resource_type(uri)}/{last_name(uri)}' under resource group "
                f"'{segment(uri, 'resourceGroups')}' was not found.",
            )
        return uri

    @staticmethod
    def _id(uri: str, name: str) -> str:
        return f"{uri}/providers/microsoft.insights/diagnosticSettings/{name}"

    def list_settings(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            uri = self._target(m["uri"])
            return Response(200, {"value": [view(s) for s in self._settings(uri)]})

    def _settings(self, uri: str) -> list[dict[str, Any]]:
        return self.world.arm.children(f"{uri}/providers/microsoft.insights", "diagnosticSettings")

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            uri = self._target(m["uri"])
            stored = self.world.arm.get(self._id(uri, m["name"]))
            if stored is None:
                raise ArmError(404, "ResourceNotFound", f"The diagnostic setting '{m['name']}' doesn't exist.")
            return Response(200, view(stored))

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        with self.world.lock:
            uri = self._target(m["uri"])
            rid = self._id(uri, m["name"])
            existing = self.world.arm.get(rid)
            if existing is None and len(self._settings(uri)) >= MAX_SETTINGS:
                raise bad_request(f"Each resource can have up to {MAX_SETTINGS} diagnostic settings.")
            props = copy.deepcopy(body.get("properties") or {})
            self.validate(uri, props)
            stored = {"id": rid, "type": SETTING_TYPE, "name": m["name"], "properties": props}
            self.world.arm.put(stored)
            return Response(200, view(stored))

    def validate(self, uri: str, props: dict[str, Any]) -> None:
        given = [d for d in DESTINATIONS if props.get(d)]
        if not given:
            raise bad_request(
                "At least one destination (workspaceId, storageAccountId, eventHubAuthorizationRuleId or "
                "marketplacePartnerId) is required."
            )
        target_location = location_of(self.world, uri)
        for destination in given:
            value = str(props[destination])
            expected = _DESTINATION_TYPES[destination]
            if expected and resource_type(value).lower() not in expected:
                raise bad_request(f"{destination} '{value}' is not a {' or '.join(sorted(expected))} resource id.")
            if not exists(self.world, value):
                raise bad_request(f"The destination {destination} '{value}' does not exist: create it first.")
            if destination in ("storageAccountId", "eventHubAuthorizationRuleId") and target_location not in (
                None,
                "global",
            ):
                where = location_of(self.world, _regional_parent(value))
                if where is not None and where != target_location:
                    raise bad_request(
                        f"The {destination} '{value}' must be in the region of the resource ({target_location})."
                    )
        known = LOG_CATEGORIES.get(resource_type(uri).lower())
        for log in props.get("logs") or []:
            category, group = log.get("category"), log.get("categoryGroup")
            if bool(category) == bool(group):
                raise bad_request("A log setting takes either a category or a categoryGroup.")
            if group and str(group).lower() not in CATEGORY_GROUPS:
                raise bad_request(f"Category group '{group}' is not supported.")
            if category and known is not None and str(category).lower() not in known:
                raise bad_request(f"Category '{category}' is not supported.")
            self._entry(log)
        for metric in props.get("metrics") or []:
            category = str(metric.get("category") or "")
            if known is not None and category.lower() != "allmetrics":
                raise bad_request(
                    f"Metric category '{category}' is not supported, supported categories are: 'AllMetrics'"
                )
            self._entry(metric)

    @staticmethod
    def _entry(entry: dict[str, Any]) -> None:
        if not isinstance(entry.get("enabled"), bool):
            raise bad_request("Each log and metric setting needs 'enabled'.")
        if (entry.get("retentionPolicy") or {}).get("enabled"):
            raise bad_request("Diagnostic settings does not support retention for new diagnostic settings.")

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            uri = self._target(m["uri"])
            stored = self.world.arm.bodies.pop(key(self._id(uri, m["name"])), None)
            return Response(200 if stored is not None else 204)
