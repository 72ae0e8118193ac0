"""Pure parts of the triggers: decisions, identity, ids and the payload models (no host needed)."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from bluegreen.contract import RunStatus
from tests.triggers.conftest import fixture
from triggers import decisions
from triggers.decisions import AlertAction, ApproverCheck, EventAction
from triggers.identity import IdentityMismatch, caller_from_headers
from triggers.models import CloudEventBody, CommonAlert, EventGridEventBody, StartUpgrade
from triggers.runs import next_instance_id, run_number, safe_instance_id

AFD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd-x"


@pytest.mark.parametrize(
    ("short_type", "start_on", "expected"),
    [
        ("ClusterSupportEnding", ["ClusterSupportEnding", "ClusterSupportEnded"], EventAction.START),
        ("ClusterSupportEnded", ["ClusterSupportEnding", "ClusterSupportEnded"], EventAction.START),
        ("NewKubernetesVersionAvailable", ["ClusterSupportEnding"], EventAction.POLICY_SAYS_NO),
        ("NewKubernetesVersionAvailable", ["NewKubernetesVersionAvailable"], EventAction.START),
        ("NodePoolRollingFailed", ["ClusterSupportEnding"], EventAction.NOT_A_STARTER),
        ("SubscriptionValidationEvent", ["ClusterSupportEnding"], EventAction.NOT_A_STARTER),
    ],
)
def test_event_action(short_type: str, start_on: list[str], expected: EventAction) -> None:
    assert decisions.event_action(short_type, start_on) == expected


@pytest.mark.parametrize(
    ("condition", "active", "custom", "expected"),
    [
        ("Resolved", True, {"phase": "bake", "can_roll_back": True}, AlertAction.NOT_FIRED),
        ("Fired", False, None, AlertAction.NO_RUN),
        ("Fired", True, {"phase": "approval", "abortable": True}, AlertAction.NOT_SWITCHED),
        ("Fired", True, {"phase": "retire"}, AlertAction.NOT_SWITCHED),
        ("Fired", True, {"phase": "bake"}, AlertAction.NOT_SWITCHED),  # the grace period after a clean bake
        ("Fired", True, {"phase": "switch", "can_roll_back": True}, AlertAction.ROLL_BACK),
        ("Fired", True, {"phase": "bake", "can_roll_back": True}, AlertAction.ROLL_BACK),
        ("Fired", True, {"phase": "rollback"}, AlertAction.ALREADY_ROLLING_BACK),
    ],
)
def test_alert_action(condition: str, active: bool, custom: dict | None, expected: AlertAction) -> None:
    status = RunStatus.model_validate(custom) if custom is not None else None
    assert decisions.alert_action(condition, active, status) == expected


def test_alert_targets_match_arm_ids_case_insensitively() -> None:
    assert decisions.alert_matches([AFD.lower().replace("resourcegroups", "resourcegroups")], [AFD, None])
    assert not decisions.alert_matches([AFD + "-other"], [AFD])
    assert not decisions.alert_matches([], [AFD])


@pytest.mark.parametrize(
    ("approvers", "four_eyes", "started_by", "caller", "expected"),
    [
        ([], False, "alice", "alice", ApproverCheck.ALLOWED),
        ([], True, "Alice", "alice", ApproverCheck.INITIATOR),
        (["bob"], True, "alice", "carol", ApproverCheck.NOT_AN_APPROVER),
        (["Bob"], True, "alice", "bob", ApproverCheck.ALLOWED),
        (["alice", "bob"], True, "alice", "alice", ApproverCheck.INITIATOR),
    ],
)
def test_approver_check(approvers, four_eyes, started_by, caller, expected) -> None:
    assert decisions.approver_check({caller}, approvers, four_eyes, started_by) == expected


def test_the_doors_decide_from_what_the_status_says_the_run_accepts() -> None:
    waiting = RunStatus(phase="approval", awaiting="approval", abortable=True)
    assert decisions.waiting_for_approval(waiting) and decisions.can_abort(waiting)
    assert not decisions.waiting_for_approval(RunStatus(phase="approval", abortable=True))  # auto-approved
    assert not decisions.can_abort(RunStatus(phase="switch", can_roll_back=True))
    assert decisions.can_roll_back(RunStatus(phase="bake", can_roll_back=True))
    rolling_back = RunStatus(phase="bake", can_roll_back=True, rollback={"trigger": "manual", "at": "t", "detail": "x"})
    assert not decisions.can_roll_back(rolling_back)
    # The grace period after a clean bake: still in bake, but the doors no longer offer rollback.
    assert not decisions.can_roll_back(RunStatus(phase="bake"))


def test_instance_ids_count_only_this_environments_runs() -> None:
    existing = ["nod-1", "nod-3", "nod-prod-9", "nod-rehearsal"]
    assert next_instance_id("nod", existing) == "nod-4"
    assert next_instance_id("nod-prod", existing) == "nod-prod-10"
    assert next_instance_id("new", existing) == "new-1"
    assert run_number("nod", "nod-prod-9") is None
    assert safe_instance_id("nod-prod-1") and not safe_instance_id("a b") and not safe_instance_id("x?y=1")
    assert not safe_instance_id("nod-prod-1\n") and run_number("nod", "nod-٣") is None


def blob(claims: list[dict], name_typ: str = "name") -> str:
    return base64.b64encode(json.dumps({"auth_typ": "aad", "name_typ": name_typ, "claims": claims}).encode()).decode()


def test_caller_from_easy_auth_headers() -> None:
    assert caller_from_headers({}) is None
    assert caller_from_headers({"X-MS-CLIENT-PRINCIPAL-NAME": "  "}) is None
    caller = caller_from_headers({"x-ms-client-principal-name": "alice@example.com"})
    assert caller is not None and caller.name == "alice@example.com"
    from_blob = caller_from_headers(
        {"X-MS-CLIENT-PRINCIPAL": blob([{"typ": "name", "val": "Alice"}, {"typ": "oid", "val": "OID-1"}])}
    )
    assert from_blob is not None and from_blob.name == "Alice" and from_blob.is_one_of(["oid-1"])
    assert caller_from_headers({"X-MS-CLIENT-PRINCIPAL": "%%%not base64"}) is None


def test_the_signed_claims_decide_who_calls_and_a_contradicting_name_header_is_refused() -> None:
    claims = blob([{"typ": "name", "val": "Alice"}, {"typ": "preferred_username", "val": "alice@example.com"}])
    both = {"X-MS-CLIENT-PRINCIPAL": claims, "X-MS-CLIENT-PRINCIPAL-NAME": "alice@example.com"}
    caller = caller_from_headers(both)
    assert caller is not None and caller.name == "Alice" and caller.is_one_of(["alice@example.com"])
    with pytest.raises(IdentityMismatch):
        caller_from_headers({**both, "X-MS-CLIENT-PRINCIPAL-NAME": "bob@example.com"})
    # An unreadable blob is nobody, whatever the name header says.
    assert (
        caller_from_headers({"X-MS-CLIENT-PRINCIPAL": "%%%", "X-MS-CLIENT-PRINCIPAL-NAME": "bob@example.com"}) is None
    )


def test_start_body_names_each_bad_field_by_its_json_name() -> None:
    with pytest.raises(ValidationError) as caught:
        StartUpgrade.model_validate({"targetVersion": "v1", "strategy": "x", "extra": 1})
    fields = {".".join(str(p) for p in e["loc"]) for e in caught.value.errors()}
    assert fields == {"environment", "targetVersion", "strategy", "extra"}
    assert StartUpgrade.model_validate({"environment": "e", "targetVersion": "1.33"}).target_version == "1.33"


@pytest.mark.parametrize(
    "name",
    [
        "cluster-support-ending.json",
        "cluster-support-ended.json",
        "new-kubernetes-version-available.json",
        "node-pool-rolling-started.json",
        "node-pool-rolling-succeeded.json",
        "node-pool-rolling-failed.json",
        "subscription-validation.json",
    ],
)
def test_event_grid_fixtures_parse_and_name_the_cluster_from_the_topic(name: str) -> None:
    event = EventGridEventBody.model_validate(fixture("eventgrid", name)[0]).normalised()
    if event.event_type.startswith("Microsoft.ContainerService."):
        assert event.cluster is not None and event.cluster.name == "aks-nod-prod-blue"
        assert event.cluster.resource_group == "rg-nod-prod"
    else:
        assert event.cluster is None  # the validation event's topic is the system topic


def test_cloud_event_fixture_parses_to_the_same_event() -> None:
    event = CloudEventBody.model_validate(fixture("eventgrid", "cluster-support-ending.cloudevent.json")).normalised()
    assert event.short_type == "ClusterSupportEnding" and event.cluster is not None
    assert event.data == {"kubernetesVersion": "1.31.8"}


@pytest.mark.parametrize(
    ("name", "condition"),
    [
        ("metric-alert-fired.json", "Fired"),
        ("metric-alert-resolved.json", "Resolved"),
        ("log-alert-fired.json", "Fired"),
    ],
)
def test_alert_fixtures_parse_in_the_common_schema(name: str, condition: str) -> None:
    alert = CommonAlert.model_validate(fixture("alerts", name))
    assert alert.data.essentials.monitor_condition == condition
    assert alert.data.essentials.alert_target_ids


def test_alert_model_allows_fields_azure_may_add_but_not_a_foreign_schema() -> None:
    body = fixture("alerts", "metric-alert-fired.json")
    body["data"]["essentials"]["newField"] = "later"
    body["data"]["somethingNew"] = {}
    CommonAlert.model_validate(body)
    with pytest.raises(ValidationError):
        CommonAlert.model_validate({**body, "schemaId": "Microsoft.Insights/activityLogs"})
