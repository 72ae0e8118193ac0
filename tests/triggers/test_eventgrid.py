"""AKS lifecycle events through the host's Event Grid webhook: which events start a run, and
at-least-once delivery never starting a second one."""

from __future__ import annotations

import pytest

from tests.triggers.conftest import Stack, fixture


def event(stack: Stack, name: str, **changes: object) -> object:
    body = stack.rewrite_ids(fixture("eventgrid", name))
    target = body[0] if isinstance(body, list) else body
    target.update(changes)
    return body


def runs(stack: Stack) -> list[dict]:
    status, body = stack.api("GET", f"upgrades?environment={stack.env}")
    assert status == 200
    return body["runs"]


@pytest.mark.parametrize(
    "name", ["cluster-support-ending.json", "cluster-support-ended.json", "cluster-support-ending.cloudevent.json"]
)
def test_support_events_for_the_live_cluster_start_a_run(stack: Stack, name: str) -> None:
    body = event(stack, name)
    status, _ = stack.eventgrid(body)
    assert status == 200
    [run] = runs(stack)
    final = stack.finish(run["id"])
    assert final["output"]["outcome"] == "completed"
    _, detail = stack.api("GET", f"upgrades/{run['id']}")
    sent = body[0] if isinstance(body, list) else body
    assert detail["trigger"]["kind"] == "eventgrid" and detail["trigger"]["event_id"] == sent["id"]
    assert detail["startedBy"].startswith("eventgrid:ClusterSupportEnd")
    assert detail["request"]["target_version"] is None  # the environment's policy decides


def test_the_same_event_delivered_again_never_starts_a_second_run(stack: Stack) -> None:
    body = event(stack, "cluster-support-ending.json")
    assert stack.eventgrid(body)[0] == 200
    assert stack.eventgrid(body)[0] == 200  # while the first run is in progress
    [run] = runs(stack)
    stack.finish(run["id"])
    assert stack.eventgrid(body)[0] == 200  # after it finished: the event id is remembered in its input
    assert [r["id"] for r in runs(stack)] == [run["id"]]


def test_another_event_while_a_run_is_in_progress_starts_nothing(stack: Stack) -> None:
    instance_id = stack.start()
    assert stack.eventgrid(event(stack, "cluster-support-ended.json"))[0] == 200
    assert [r["id"] for r in runs(stack)] == [instance_id]


def test_new_version_available_starts_only_when_the_policy_asks(make_stack) -> None:
    stack = make_stack()
    assert stack.eventgrid(event(stack, "new-kubernetes-version-available.json"))[0] == 200
    assert runs(stack) == []
    stack.close()
    eager = make_stack(policy={"start_on": ["NewKubernetesVersionAvailable"]})
    assert eager.eventgrid(event(eager, "new-kubernetes-version-available.json"))[0] == 200
    [run] = runs(eager)
    assert eager.finish(run["id"])["output"]["outcome"] == "completed"
    # And that policy no longer starts on support ending.
    assert eager.eventgrid(event(eager, "cluster-support-ending.json", id="another"))[0] == 200
    assert len(runs(eager)) == 1


@pytest.mark.parametrize(
    "name", ["node-pool-rolling-started.json", "node-pool-rolling-succeeded.json", "node-pool-rolling-failed.json"]
)
def test_node_pool_events_are_logged_and_ignored(stack: Stack, name: str) -> None:
    assert stack.eventgrid(event(stack, name))[0] == 200
    assert runs(stack) == []


def test_events_for_clusters_in_no_environment_or_not_live_are_ignored(stack: Stack) -> None:
    group = stack.estate.front_door_id.split("/providers/")[0]
    green = f"{group}/providers/Microsoft.ContainerService/managedClusters/{stack.estate.green_name}"
    elsewhere = "/subscriptions/0000/resourceGroups/rg-else/providers/Microsoft.ContainerService/managedClusters/aks-x"
    for topic in (green, elsewhere, "not-an-arm-id"):
        assert stack.eventgrid(event(stack, "cluster-support-ending.json", topic=topic))[0] == 200
    assert stack.eventgrid(event(stack, "cluster-support-ending.json", eventType="Contoso.Other"))[0] == 200
    assert runs(stack) == []
    # The data fields are all optional: a support event without them still starts a run.
    assert stack.eventgrid(event(stack, "cluster-support-ending.json", data=None, subject=None))[0] == 200
    assert len(runs(stack)) == 1


def test_subscription_validation_is_answered(stack: Stack) -> None:
    body = fixture("eventgrid", "subscription-validation.json")
    status, answer = stack.eventgrid(body, headers={"aeg-event-type": "SubscriptionValidation"})
    assert status == 200 and answer == {"validationResponse": body[0]["data"]["validationCode"]}


def out_of_support(cluster: dict) -> None:
    """Blue on 1.29, a minor the region no longer offers (ClusterSupportEnded has been sent for it)."""
    props = cluster["properties"]
    props["kubernetesVersion"] = props["currentKubernetesVersion"] = "1.29.9"
    for pool in props["agentPoolProfiles"]:
        pool["orchestratorVersion"] = pool["currentOrchestratorVersion"] = "1.29.9"


def test_support_ended_for_an_out_of_support_blue_upgrades_it_with_the_default_configuration(make_stack) -> None:
    # The defaults: clone-then-upgrade, target latest. Blue's 1.29.9 cannot be created any more: green starts at
    # the lowest minor the region offers, then hops one minor at a time.
    stack = make_stack(strategy="clone-then-upgrade", estate_changes=[("managedClusters", out_of_support)])
    body = event(stack, "cluster-support-ended.json", data={"kubernetesVersion": "1.29.9"})
    assert stack.eventgrid(body)[0] == 200
    [run] = runs(stack)
    final = stack.finish(run["id"], timeout=120)
    output = final["output"]
    assert output["outcome"] == "completed", output["reason"]
    assert output["upgrade_path"] == ["1.30.14", "1.31.11", "1.32.9", "1.33.6", "1.34.2"]
    assert output["green"]["version"] == "1.34.2" and output["live"] == stack.estate.green_name
    notes = [entry["detail"] for entry in output["timeline"]]
    assert f"{stack.estate.green_name} created at 1.30.14" in notes  # the lowest minor offered, newest patch
