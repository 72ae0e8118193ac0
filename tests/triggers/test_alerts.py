"""The alert webhook over real HTTP: only a Fired alert on an environment's resource during switch
or bake rolls back, once per alert; everything else is a 202 saying why, malformed bodies a 400."""

from __future__ import annotations

import copy

import pytest

from tests.triggers.conftest import Stack, fixture


def alert(stack: Stack, name: str = "metric-alert-fired.json", target: str | None = None) -> dict:
    body = stack.rewrite_ids(fixture("alerts", name))
    if target is not None:
        body["data"]["essentials"]["alertTargetIDs"] = [target]
    return body


def post_alert(stack: Stack, body: object):
    return stack.api("POST", "alerts", body, user=None)  # action groups carry no user identity


@pytest.mark.parametrize("sample", ["metric-alert-fired.json", "log-alert-fired.json", "green"])
def test_alert_during_bake_routes_traffic_back_to_blue(stack: Stack, sample: str) -> None:
    run: dict[str, str] = {}

    def fire(iid: str):
        if sample == "green":
            green = stack.status(iid)["customStatus"]["resources"]["green"]
            return post_alert(stack, alert(stack, target=green.upper()))  # ARM ids compare case-insensitively
        return post_alert(stack, alert(stack, sample))

    seen = stack.at_phase("bake", fire, lambda: run.get("id"))
    run["id"] = stack.start()
    output = stack.finish(run["id"])["output"]
    status, body = seen["result"]
    assert status == 202 and body["action"] == "rollback" and body["runId"] == run["id"]
    assert output["outcome"] == "rolled_back" and output["live"] == output["blue"]["cluster"]
    assert output["rollback"]["trigger"] == "alert"


def test_repeated_deliveries_of_one_alert_give_one_rollback(stack: Stack) -> None:
    run: dict[str, str] = {}
    body = None

    def fire_three_times(iid: str):
        nonlocal body
        body = alert(stack)
        return [post_alert(stack, body) for _ in range(3)]

    seen = stack.at_phase("bake", fire_three_times, lambda: run.get("id"))
    run["id"] = stack.start()
    output = stack.finish(run["id"])["output"]
    assert [(status, body["action"]) for status, body in seen["result"]] == [
        (202, "rollback"),
        (202, "ignored"),
        (202, "ignored"),
    ]
    assert output["outcome"] == "rolled_back"
    details = [e["detail"] for e in output["timeline"]]
    assert sum(d.startswith("routing back to") for d in details) == 1
    assert sum(d.startswith("traffic is back on blue") for d in details) == 1
    # Delivered again once the rollback is under way or done: ignored, no second rollback.
    status, again = post_alert(stack, body)
    assert status == 202 and again["action"] == "ignored"


def test_resolved_alert_is_ignored(stack: Stack) -> None:
    status, body = post_alert(stack, alert(stack, "metric-alert-resolved.json"))
    assert status == 202 and body["action"] == "ignored" and "Resolved" in body["reason"]


def test_alert_for_another_resource_is_ignored(stack: Stack) -> None:
    other = "/subscriptions/x/resourceGroups/rg-other/providers/Microsoft.Cdn/profiles/afd-other"
    status, body = post_alert(stack, alert(stack, target=other))
    assert status == 202 and body["action"] == "ignored" and "no alert target" in body["reason"]


def test_alert_without_a_run_or_after_the_bake_is_ignored(stack: Stack) -> None:
    status, body = post_alert(stack, alert(stack))
    assert status == 202 and body["code"] == "no_run_in_progress"
    instance_id = stack.start()
    assert stack.finish(instance_id)["output"]["outcome"] == "completed"
    status, body = post_alert(stack, alert(stack))
    assert status == 202 and body["action"] == "ignored" and body["code"] == "no_run_in_progress"


def test_alert_before_the_switch_is_ignored(make_stack) -> None:
    stack = make_stack(approval="manual")
    run: dict[str, str] = {}

    def fire_then_reject(iid: str):
        result = post_alert(stack, alert(stack))
        stack.api("POST", f"upgrades/{iid}/reject", {}, user="bob@example.com")
        return result

    seen = stack.at_phase("approval", fire_then_reject, lambda: run.get("id"))
    run["id"] = stack.start()
    assert stack.finish(run["id"])["output"]["outcome"] == "rejected"
    status, body = seen["result"]
    assert status == 202 and body["code"] == "not_in_switch_or_bake" and body["runId"] == run["id"]


def test_bodies_that_are_not_the_common_schema_are_400(stack: Stack) -> None:
    good = alert(stack)
    no_schema = {k: v for k, v in good.items() if k != "schemaId"}
    bad_condition = copy.deepcopy(good)
    bad_condition["data"]["essentials"]["monitorCondition"] = "Exploded"
    no_essentials = {"schemaId": "azureMonitorCommonAlertSchema", "data": {}}
    for body in (no_schema, bad_condition, no_essentials, [good], "text", 7):
        status, answer = post_alert(stack, body)
        assert status == 400 and answer["error"]["code"] == "InvalidRequest", body
    status, answer = stack.api("POST", "alerts", raw=b"\xff\xfe not json", user=None)
    assert status == 400 and answer["error"]["code"] == "InvalidJson"


def _origin(stack: Stack, side: str) -> dict:
    name = stack.estate.origins[side]
    return next(
        body["properties"]
        for body in stack.emulator.resources()
        if body.get("type", "").lower().endswith("/origins") and body["name"] == name
    )


def test_an_alert_during_a_gradual_step_weights_traffic_to_blue_at_the_door_then_rolls_back(make_stack) -> None:
    stack = make_stack(switch={"mode": "gradual", "steps": [10, 100], "step_minutes": 5})
    run: dict[str, str] = {}
    seen: dict[str, object] = {}

    def fire_once_green_takes_its_share() -> bool:
        iid = run.get("id")
        if "result" in seen or not iid or stack.phase(iid) != "switch":
            return False
        if _origin(stack, "green")["enabledState"] != "Enabled":
            return False  # the 10% step's weights are not written yet
        seen["during_step"] = (_origin(stack, "blue")["weight"], _origin(stack, "green")["weight"])
        seen["result"] = post_alert(stack, alert(stack))
        # What the door itself wrote, before the run acted on its event: weights, nothing disabled.
        seen["after_door"] = (_origin(stack, "blue")["weight"], _origin(stack, "green")["weight"])
        seen["green_enabled"] = _origin(stack, "green")["enabledState"]
        return True

    stack.host.add_idle_hook(fire_once_green_takes_its_share)
    run["id"] = stack.start()
    output = stack.finish(run["id"])["output"]
    status, body = seen["result"]
    assert status == 202 and body["action"] == "rollback"
    assert seen["during_step"] == (900, 100)
    assert seen["after_door"] == (1000, 1) and seen["green_enabled"] == "Enabled"
    assert output["outcome"] == "rolled_back" and output["rollback"]["trigger"] == "alert"
    assert _origin(stack, "green")["enabledState"] == "Disabled" and _origin(stack, "blue")["weight"] == 1000
