"""The doors over real HTTP: decisions the run can no longer take are refused, identities come from the
signed claims, only operators steer a run, and a run stuck routing back can be resolved by hand."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

from tests.triggers.conftest import ALICE, BOB, Stack, http

CAROL = "carol@example.com"


def signed_as(name: str, header_name: str | None = None) -> dict[str, str]:
    claims = {"auth_typ": "aad", "name_typ": "name", "claims": [{"typ": "name", "val": name}]}
    headers = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode()}
    headers["X-MS-CLIENT-PRINCIPAL-NAME"] = header_name or name
    return headers


def test_approve_and_reject_sent_together_give_one_decision_and_one_409(make_stack) -> None:
    stack: Stack = make_stack(approval="manual")
    run: dict[str, str] = {}

    def both(instance_id: str):
        with ThreadPoolExecutor(max_workers=2) as pool:
            verbs = ("approve", "reject")
            futures = [pool.submit(stack.api, "POST", f"upgrades/{instance_id}/{v}", {}, user=BOB) for v in verbs]
            return [f.result() for f in futures]

    seen = stack.at_phase("approval", both, lambda: run.get("id"))
    run["id"] = stack.start()
    output = stack.finish(run["id"])["output"]
    statuses = sorted(status for status, _ in seen["result"])
    assert statuses == [202, 409], seen["result"]
    refused = next(body for status, body in seen["result"] if status == 409)
    # Refused either way: the second door saw the wait already over, or raised and saw the other taken.
    assert refused["error"]["code"] in ("NotAwaitingApproval", "DecisionAlreadyTaken")
    taken = next(body for status, body in seen["result"] if status == 202)
    assert taken["result"] == "taken" and taken["by"] == BOB
    assert output["approval"]["event_id"] == taken["eventId"]
    assert output["approval"]["approved"] == taken["approved"]
    assert output["outcome"] == ("completed" if taken["approved"] else "rejected")


def test_a_name_header_that_contradicts_the_signed_claims_is_refused(stack: Stack) -> None:
    url = f"{stack.host.base_url}/api/upgrades"
    forged = signed_as(ALICE, header_name=BOB)
    status, body = http(url, "POST", {"environment": stack.env}, headers=forged)
    assert status == 401 and body["error"]["code"] == "IdentityMismatch"
    assert stack.api("GET", f"upgrades?environment={stack.env}")[1]["runs"] == []  # nothing started
    status, body = http(url, "POST", {"environment": stack.env}, headers=signed_as(ALICE))
    assert status == 202, body
    assert stack.finish(body["runId"])["output"]["started_by"] == ALICE


def test_only_operators_may_abort_and_the_initiator_cannot_approve_past_four_eyes(make_stack) -> None:
    stack: Stack = make_stack(approval="manual", four_eyes=True, operators=[BOB])
    run: dict[str, str] = {}

    def try_everything(instance_id: str):
        return {
            "carol aborts": stack.api("POST", f"upgrades/{instance_id}/abort", {}, user=CAROL),
            "alice approves": stack.api("POST", f"upgrades/{instance_id}/approve", {}, user=ALICE),
            "bob aborts": stack.api("POST", f"upgrades/{instance_id}/abort", {"reason": "not today"}, user=BOB),
        }

    seen = stack.at_phase("approval", try_everything, lambda: run.get("id"))
    run["id"] = stack.start(user=ALICE)
    output = stack.finish(run["id"])["output"]
    answers = seen["result"]
    assert answers["carol aborts"][0] == 403 and answers["carol aborts"][1]["error"]["code"] == "NotAnOperator"
    assert answers["alice approves"][0] == 403 and answers["alice approves"][1]["error"]["code"] == "FourEyes"
    assert answers["bob aborts"][0] == 202 and answers["bob aborts"][1]["result"] == "taken"
    assert output["outcome"] == "aborted" and "not today" in output["reason"]


def test_a_run_stuck_routing_back_can_be_resolved_by_hand_and_only_then(make_stack) -> None:
    stack: Stack = make_stack(bake={"window_minutes": 30})
    run: dict[str, str] = {}

    def roll_back_into_a_locked_front_door(instance_id: str):
        early = stack.api("POST", f"upgrades/{instance_id}/resolve-manually", {"reason": "early"}, user=BOB)
        stack.emulator.fail_front_door_writes(count=10_000, status=409)  # nobody can change Front Door now
        rollback = stack.api("POST", f"upgrades/{instance_id}/rollback", {"reason": "errors"}, user=BOB)
        return early, rollback

    def resolve_when_stuck(instance_id: str):
        status = stack.status(instance_id).get("customStatus") or {}
        if not status.get("can_resolve_manually"):
            return None
        return stack.api("POST", f"upgrades/{instance_id}/resolve-manually", {"reason": "fixed by hand"}, user=BOB)

    rolled = stack.at_phase("bake", roll_back_into_a_locked_front_door, lambda: run.get("id"))
    resolved: dict[str, object] = {}

    def hook() -> bool:
        instance_id = run.get("id")
        if not instance_id or "answer" in resolved or stack.phase(instance_id) != "rollback":
            return False
        answer = resolve_when_stuck(instance_id)
        if answer is None:
            return False
        resolved["answer"] = answer
        return True

    stack.host.add_idle_hook(hook)
    run["id"] = stack.start()
    output = stack.finish(run["id"])["output"]
    early, rollback = rolled["result"]
    assert early[0] == 409 and early[1]["error"]["code"] == "NothingToResolve"
    assert rollback[0] == 202
    status, body = resolved["answer"]
    assert status == 202 and body["event"] == "ResolveManually"
    assert output["outcome"] == "rolled_back" and "resolved by hand by bob@example.com" in output["reason"]
    assert output["live"] is None  # Front Door refused every change: the run does not claim to know
    assert [c["role"] for c in output["left_behind"]] == ["green"]
    assert stack.status(run["id"])["runtimeStatus"] == "Completed"
