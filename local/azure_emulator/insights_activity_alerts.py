"""Microsoft.Insights activity log alerts (api-version 2020-10-01): PUT (201 created, 200 updated), GET, list by
resource group and subscription, DELETE (200, or 204 when there was nothing).

Validation (SPEC monitor/…/Insights/stable/2020-10-01/activityLogAlerts_API.json; 400 BadRequest unless said):
- location global; `scopes`, `condition` and `actions` are required (AlertRuleProperties.required); `enabled`
  defaults to true.
- every scope must exist (a subscription or resource group counts when something emulated is in it, arm_exists).
- `condition.allOf` holds at least one condition; a leaf condition has a `field` and exactly one of `equals` /
  `containsAny` ("It must contain the field property and either an equals or containsAny property"), an anyOf
  condition only `anyOf`, a list of leaf conditions (AlertRuleAnyOfOrLeafCondition).
- a rule on category Administrative with nothing more: 400 UnsupportedCondition "Specify additional conditions for
  this category: Administrative." (the service's answer, Azure/azure-cli#8732).
- every action group in `actions.actionGroups[].actionGroupId` must exist.
The activity log itself is not modelled: these rules are stored, never fired.
"""

from __future__ import annotations

from typing import Any

from local.azure_emulator.arm_exists import exists
from local.azure_emulator.arm_store import resource_type
from local.azure_emulator.errors import ArmError
from local.azure_emulator.insights_action_groups import GROUP_TYPE
from local.azure_emulator.insights_common import GlobalResources, bad_request

API = "2020-10-01"
ALERT_TYPE = "Microsoft.Insights/ActivityLogAlerts"


def _leaf(condition: Any) -> tuple[str, str | None]:
    if not isinstance(condition, dict) or not condition.get("field"):
        raise bad_request("Each activity log alert condition needs a 'field'.")
    has_equals, has_any = condition.get("equals") is not None, condition.get("containsAny") is not None
    if has_equals == has_any:
        raise bad_request(f"Condition on '{condition['field']}' needs exactly one of 'equals' or 'containsAny'.")
    return str(condition["field"]), str(condition["equals"]) if has_equals else None


class ActivityLogAlerts(GlobalResources):
    TYPE = ALERT_TYPE
    COLLECTION = "activityLogAlerts"
    WHAT = "an activity log alert"

    def prepare(self, props: dict[str, Any]) -> None:
        self.validate(props)
        props.setdefault("enabled", True)

    def validate(self, props: dict[str, Any]) -> None:
        for field in ("scopes", "condition", "actions"):
            if props.get(field) is None:
                raise bad_request(f"The activity log alert property '{field}' is required.")
        scopes = props["scopes"]
        if not isinstance(scopes, list) or not scopes:
            raise bad_request("At least one scope is required.")
        for scope in scopes:
            if not isinstance(scope, str) or not exists(self.world, scope):
                raise bad_request(f"The scope '{scope}' of the activity log alert was not found.")
        conditions = (props["condition"] or {}).get("allOf")
        if not isinstance(conditions, list) or not conditions:
            raise bad_request("condition.allOf needs at least one condition.")
        categories = []
        for condition in conditions:
            if isinstance(condition, dict) and "anyOf" in condition:
                if set(condition) - {"anyOf"} or not condition["anyOf"]:
                    raise bad_request("An anyOf condition holds only 'anyOf', a list of leaf conditions.")
                for leaf in condition["anyOf"]:
                    _leaf(leaf)
                continue
            field, equals = _leaf(condition)
            if field.lower() == "category" and equals is not None:
                categories.append(equals)
        if len(conditions) == 1 and [c.lower() for c in categories] == ["administrative"]:
            raise ArmError(
                400, "UnsupportedCondition", "Specify additional conditions for this category: Administrative."
            )
        for group in (props["actions"] or {}).get("actionGroups") or []:
            gid = str(group.get("actionGroupId") or "")
            if resource_type(gid).lower() != GROUP_TYPE.lower() or self.world.arm.get(gid) is None:
                raise bad_request(f"The action group '{gid}' was not found.")
