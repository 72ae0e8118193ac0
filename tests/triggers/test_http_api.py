"""The operator API over real HTTP: start, status, approval with identity, rollback, abort, errors."""

from __future__ import annotations

from tests.triggers.conftest import ALICE, BOB, Stack


def test_start_answers_with_the_run_and_its_api_address_only_and_the_run_completes(stack: Stack) -> None:
    status, payload = stack.api("POST", "upgrades", {"environment": stack.env, "reason": "support ends"})
    assert status == 202, payload
    assert payload["runId"] == f"{stack.env}-1" and payload["environment"] == stack.env
    assert payload["statusUrl"] == f"{stack.host.base_url}/api/upgrades/{payload['runId']}"
    # No Durable management URL leaves the API: on Azure they carry the system key.
    assert not [v for v in payload.values() if "runtime/webhooks" in str(v)]
    assert set(payload) == {"runId", "environment", "statusUrl"}
    final = stack.finish(payload["runId"])
    assert final["output"]["outcome"] == "completed", final["output"]
    status, run = stack.api("GET", f"upgrades/{payload['runId']}")
    assert status == 200
    assert run["outcome"] == "completed" and run["startedBy"] == ALICE
    assert run["resources"]["frontDoor"] == stack.estate.front_door_id
    assert run["resources"]["green"].endswith(stack.estate.green_name)
    assert run["approvedBy"] == "auto" and run["timeline"] and run["trigger"]["kind"] == "http"


def approve_as(stack: Stack, user: str, comment: str | None = None):
    return lambda instance_id: stack.api("POST", f"upgrades/{instance_id}/approve", {"comment": comment}, user=user)


def test_second_start_while_one_runs_is_409_with_the_running_id(make_stack) -> None:
    stack = make_stack(approval="manual")
    run: dict[str, str] = {}

    def second_start_then_approve(instance_id: str):
        second = stack.api("POST", "upgrades", {"environment": stack.env}, user=BOB)
        approve_as(stack, BOB)(instance_id)
        return second

    seen = stack.at_phase("approval", second_start_then_approve, lambda: run.get("id"))
    run["id"] = stack.start()
    assert stack.finish(run["id"])["output"]["outcome"] == "completed"
    status, body = seen["result"]
    assert status == 409 and body["error"]["code"] == "RunInProgress" and body["error"]["runId"] == run["id"]
    # The next run after this one gets the next number.
    assert stack.start() == f"{stack.env}-2"


def test_racing_starts_give_one_run(stack: Stack) -> None:
    import threading

    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        results.append(stack.api("POST", "upgrades", {"environment": stack.env}))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(s for s, _ in results)
    assert statuses == [202, 409, 409, 409], results
    started = next(body["runId"] for s, body in results if s == 202)
    assert all(body["error"]["runId"] == started for s, body in results if s == 409)


def test_four_eyes_refuses_the_initiator_and_non_approvers_then_an_approver_decides(make_stack) -> None:
    stack = make_stack(approval="manual")
    stack.config_file.write_text(
        stack.config_file.read_text().replace(
            '"four_eyes": false', '"four_eyes": true, "approvers": ["Bob@Example.com", "alice@example.com"]'
        )
    )
    run: dict[str, str] = {}

    def try_everyone(instance_id: str):
        tried = {
            "initiator": stack.api("POST", f"upgrades/{instance_id}/approve", {}, user=ALICE),
            "stranger": stack.api("POST", f"upgrades/{instance_id}/approve", {}, user="carol@example.com"),
        }
        tried["approver"] = approve_as(stack, BOB, "looks good")(instance_id)
        return tried

    seen = stack.at_phase("approval", try_everyone, lambda: run.get("id"))
    run["id"] = stack.start()
    final = stack.finish(run["id"])
    tried = seen["result"]
    assert tried["initiator"][0] == 403 and tried["initiator"][1]["error"]["code"] == "FourEyes"
    assert tried["stranger"][0] == 403 and tried["stranger"][1]["error"]["code"] == "NotAnApprover"
    assert tried["approver"][0] == 202 and tried["approver"][1]["by"] == BOB
    assert final["output"]["outcome"] == "completed"
    _, detail = stack.api("GET", f"upgrades/{run['id']}")
    assert detail["approvedBy"] == BOB and detail["approval"]["comment"] == "looks good"


def test_reject_ends_the_run_rejected_and_approve_afterwards_is_409(make_stack) -> None:
    stack = make_stack(approval="manual")
    run: dict[str, str] = {}
    stack.at_phase(
        "approval",
        lambda iid: stack.api("POST", f"upgrades/{iid}/reject", {"comment": "not today"}, user=BOB),
        lambda: run.get("id"),
    )
    run["id"] = stack.start()
    assert stack.finish(run["id"])["output"]["outcome"] == "rejected"
    status, body = stack.api("POST", f"upgrades/{run['id']}/approve", {}, user=BOB)
    assert status == 409 and body["error"]["code"] == "NotAwaitingApproval"


def test_manual_rollback_during_bake_routes_back_to_blue(stack: Stack) -> None:
    run: dict[str, str] = {}
    seen = stack.at_phase(
        "bake",
        lambda iid: stack.api("POST", f"upgrades/{iid}/rollback", {"reason": "checkout errors"}, user=BOB),
        lambda: run.get("id"),
    )
    run["id"] = stack.start()
    final = stack.finish(run["id"])
    assert seen["result"][0] == 202
    assert final["output"]["outcome"] == "rolled_back" and final["output"]["live"] == final["output"]["blue"]["cluster"]
    assert final["output"]["rollback"]["trigger"] == "manual"
    status, body = stack.api("POST", f"upgrades/{run['id']}/rollback", {"reason": "again"})
    assert status == 409 and body["error"]["code"] == "NothingToRollBack"


def test_rollback_before_the_switch_is_409(make_stack) -> None:
    stack = make_stack(approval="manual")
    run: dict[str, str] = {}

    def rollback_then_reject(iid: str):
        result = stack.api("POST", f"upgrades/{iid}/rollback", {"reason": "too early"})
        stack.api("POST", f"upgrades/{iid}/reject", {}, user=BOB)
        return result

    seen = stack.at_phase("approval", rollback_then_reject, lambda: run.get("id"))
    run["id"] = stack.start()
    stack.finish(run["id"])
    assert seen["result"][0] == 409 and seen["result"][1]["error"]["code"] == "NothingToRollBack"


def test_abort_while_waiting_for_approval_deletes_green_and_keeps_blue_live(make_stack) -> None:
    stack = make_stack(approval="manual")
    run: dict[str, str] = {}
    seen = stack.at_phase(
        "approval",
        lambda iid: stack.api("POST", f"upgrades/{iid}/abort", {"reason": "freeze"}, user=BOB),
        lambda: run.get("id"),
    )
    run["id"] = stack.start()
    final = stack.finish(run["id"])
    assert seen["result"][0] == 202
    output = final["output"]
    assert output["outcome"] == "aborted" and output["live"] == output["blue"]["cluster"]
    assert "deleted" in output["timeline"][-1]["detail"]


def test_abort_after_the_switch_is_409(stack: Stack) -> None:
    run: dict[str, str] = {}
    seen = stack.at_phase("bake", lambda iid: stack.api("POST", f"upgrades/{iid}/abort", {}), lambda: run.get("id"))
    run["id"] = stack.start()
    assert stack.finish(run["id"])["output"]["outcome"] == "completed"
    assert seen["result"][0] == 409 and seen["result"][1]["error"]["code"] == "TooLateToAbort"


def test_changing_calls_need_an_identity(stack: Stack) -> None:
    calls = [
        ("upgrades", {"environment": stack.env}),
        ("upgrades/x-1/approve", {}),
        ("upgrades/x-1/reject", {}),
        ("upgrades/x-1/rollback", {"reason": "r"}),
        ("upgrades/x-1/abort", {}),
    ]
    for path, body in calls:
        status, payload = stack.api("POST", path, body, user=None)
        assert status == 401 and payload["error"]["code"] == "Unauthenticated", path


def test_bad_start_bodies_are_400_listing_each_field(stack: Stack) -> None:
    status, body = stack.api(
        "POST", "upgrades", {"environment": "", "targetVersion": "one", "strategy": "yolo", "x": 1}
    )
    assert status == 400 and body["error"]["code"] == "InvalidRequest"
    assert {f["field"] for f in body["error"]["fields"]} == {"environment", "targetVersion", "strategy", "x"}
    assert stack.api("POST", "upgrades", raw=b"{nope")[1]["error"]["code"] == "InvalidJson"
    assert stack.api("POST", "upgrades", [1, 2])[0] == 400
    assert stack.api("POST", "upgrades", raw=b"")[0] == 400
    status, body = stack.api("POST", "upgrades", {"environment": "nowhere"})
    assert status == 404 and body["error"]["code"] == "UnknownEnvironment"


def test_unknown_runs_are_404_and_the_list_is_newest_first(stack: Stack) -> None:
    assert stack.api("GET", "upgrades/nod-prod-99")[0] == 404
    assert stack.api("GET", "upgrades/bad%20id")[0] == 404
    assert stack.api("POST", "upgrades/nod-prod-99/approve", {}, user=BOB)[0] == 404
    first = stack.start()
    stack.finish(first)
    second = stack.start()
    stack.finish(second)
    status, body = stack.api("GET", f"upgrades?environment={stack.env}")
    assert status == 200 and [r["id"] for r in body["runs"]] == [second, first]
    # The second found blue already at the target: it ends `failed`, blue untouched.
    assert [r["outcome"] for r in body["runs"]] == ["failed", "completed"]
    # A finished run shows the phase it ended in (resolving is the start of clone) next to its outcome.
    assert body["runs"][0]["phase"] == "clone" and body["runs"][0]["startedBy"] == ALICE
    assert stack.api("GET", "upgrades?limit=0")[0] == 400
    assert stack.api("GET", "upgrades?environment=nowhere")[0] == 404


def test_a_target_the_region_does_not_offer_is_400_listing_what_it_offers_and_starts_nothing(stack: Stack) -> None:
    status, body = stack.api("POST", "upgrades", {"environment": stack.env, "targetVersion": "1.30.2"})
    assert status == 400 and body["error"]["code"] == "VersionNotOffered"
    assert "1.31 (1.31.5, 1.31.8, 1.31.11)" in body["error"]["message"]
    status, body = stack.api("POST", "upgrades", {"environment": stack.env, "targetVersion": "1.31.5"})
    assert status == 400 and body["error"]["code"] == "DowngradeNotAllowed"  # blue runs 1.31.8
    assert stack.api("GET", f"upgrades?environment={stack.env}")[1]["runs"] == []
    assert [r for r in stack.emulator.requests() if r["method"] not in ("GET", "HEAD")] == []


def test_the_plan_shows_what_a_run_would_do_without_writing(stack: Stack) -> None:
    stack.emulator.clear_requests()
    status, plan = stack.api("GET", f"environments/{stack.env}/plan?targetVersion=1.33", user=None)
    assert status == 200, plan
    assert plan["ok"] and plan["target_version"] == "1.33.6" and plan["strategy"] == "create-at-target"
    assert plan["clone_version"] == "1.33.6" and plan["upgrade_path"] == []
    assert {g["identity"] for g in plan["inheritance"]["grants"]} == {"kubelet", "addon:azureKeyvaultSecretsProvider"}
    assert {c["status"] for c in plan["checks"]} == {"ok"}
    assert plan["writes"][0] == {
        "method": "PUT",
        "resource": plan["green"]["cluster_id"],
        "why": "create green at 1.33.6",
    }
    assert [r for r in stack.emulator.requests() if r["method"] not in ("GET", "HEAD")] == []


def test_plan_refusals_name_what_is_wrong(stack: Stack) -> None:
    assert stack.api("GET", "environments/nope/plan")[0] == 404
    status, body = stack.api("GET", f"environments/{stack.env}/plan?targetVersion=1.28")
    assert status == 400 and body["error"]["code"] == "VersionNotOffered"
    status, body = stack.api("GET", f"environments/{stack.env}/plan?targetVersion=1.30")
    assert status == 400 and body["error"]["code"] == "DowngradeNotAllowed"
    status, body = stack.api("GET", f"environments/{stack.env}/plan?target=1.33")
    assert status == 400 and "target" in body["error"]["message"]
