"""Microsoft.Insights action groups (api-version 2023-01-01): PUT (201 created, 200 updated), GET, list by resource
group and subscription, DELETE (200, or 204 when there was nothing).

Body as samples/arm/more/insights-actiongroup-get-2023-01-01.json: location Global; `groupShortName` (at most 12
characters) and `enabled` are required (SPEC actionGroups_API.json ActionGroup.required); receivers are typed
lists and GETs show every list, empty when unused. A webhook receiver needs `name` and `serviceUri`;
`useCommonAlertSchema` is set per receiver (default false) and `useAadAuth` (default false) needs `objectId`,
`identifierUri` and `tenantId` (reference/azure-more.md §(g)). Receiver names are unique within the group.

Notifications: metric alerts bound to a Front Door (insights_metric_alerts) post their common-alert-schema
payloads to the `serviceUri` of every webhook receiver with useCommonAlertSchema true, of every enabled action
group their rule names, read when the alert fires. A receiver without the common schema gets nothing (the older
per-alert-type payloads are not modelled); nor do the other receiver types (email, SMS, ...).
"""

from __future__ import annotations

from typing import Any

from local.azure_emulator.insights_common import GlobalResources, bad_request
from local.azure_emulator.world import World

API = "2023-01-01"
GROUP_TYPE = "Microsoft.Insights/ActionGroups"
RECEIVER_LISTS = (
    "emailReceivers",
    "smsReceivers",
    "webhookReceivers",
    "itsmReceivers",
    "azureAppPushReceivers",
    "automationRunbookReceivers",
    "voiceReceivers",
    "logicAppReceivers",
    "azureFunctionReceivers",
    "armRoleReceivers",
    "eventHubReceivers",
)


def webhook_urls(world: World, group_id: str) -> list[str]:
    """The common-alert-schema webhook URLs of an enabled action group (none if it is gone or disabled)."""
    group = world.arm.get(group_id)
    if group is None or not group["properties"].get("enabled", False):
        return []
    return [
        str(r["serviceUri"])
        for r in group["properties"].get("webhookReceivers") or []
        if r.get("useCommonAlertSchema") and r.get("status", "Enabled") == "Enabled"
    ]


class ActionGroups(GlobalResources):
    TYPE = GROUP_TYPE
    COLLECTION = "actionGroups"
    WHAT = "an action group"

    def prepare(self, props: dict[str, Any]) -> None:
        short = props.get("groupShortName")
        if not isinstance(short, str) or not 1 <= len(short) <= 12:
            raise bad_request("groupShortName is required and must be 1 to 12 characters long.")
        if not isinstance(props.get("enabled"), bool):
            raise bad_request("enabled is required.")
        names: set[str] = set()
        for lst in RECEIVER_LISTS:
            receivers = props.get(lst) or []
            for receiver in receivers:
                name = str(receiver.get("name") or "")
                if not name:
                    raise bad_request(f"Every receiver in {lst} needs a name.")
                if name.lower() in names:
                    raise bad_request(f"Receiver name '{name}' is used twice in the action group.")
                names.add(name.lower())
            props[lst] = receivers
        for receiver in props["webhookReceivers"]:
            if not receiver.get("serviceUri"):
                raise bad_request(f"Webhook receiver '{receiver['name']}' needs a serviceUri.")
            receiver.setdefault("useCommonAlertSchema", False)
            receiver.setdefault("useAadAuth", False)
            if receiver["useAadAuth"] and not all(receiver.get(k) for k in ("objectId", "identifierUri", "tenantId")):
                raise bad_request(
                    f"Secure webhook receiver '{receiver['name']}' needs objectId, identifierUri and tenantId."
                )
        for receiver in props.get("emailReceivers") or []:
            receiver.setdefault("status", "Enabled")
