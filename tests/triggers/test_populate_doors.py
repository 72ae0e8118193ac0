"""How the applications reach green, over real HTTP: protected settings by reference, and the pipeline's door."""

from __future__ import annotations

from typing import Any

from local.rehearsal.pipeline import PipelineReceiver
from tests.triggers.conftest import BOB, Stack

KEY_VAULT_SECRET = "https://kv-team.vault.azure.net/secrets/git-token"
GIT_TOKEN = "ghp_fake-token-for-the-private-repo"


def private_repository(resource: dict[str, Any]) -> None:
    resource.update(private=True, credentials={"httpsUser": "git", "httpsKey": GIT_TOKEN})


def authenticating_flux(resource: dict[str, Any]) -> None:
    resource["properties"]["gitRepository"]["httpsUser"] = "git"  # blue reads a private repository


PRIVATE = [("emulator/gitRepository", private_repository), ("/fluxConfigurations", authenticating_flux)]


def writes(stack: Stack) -> list[dict[str, Any]]:
    return [
        e
        for e in stack.emulator.requests()
        if e["method"] in ("PUT", "PATCH", "POST", "DELETE") and "runCommand" not in e["path"]
    ]


def test_a_protected_setting_without_a_reference_stops_the_run_before_any_write(make_stack) -> None:
    stack: Stack = make_stack(estate_changes=PRIVATE)
    output = stack.finish(stack.start())["output"]
    assert output["outcome"] == "failed"
    assert output["reason"].startswith("ProtectedSettingMissing:")
    assert "workloads.protected_settings.cluster-config.httpsKey" in output["reason"]
    assert writes(stack) == []  # nothing was created: green does not exist


def test_a_key_vault_reference_brings_the_secret_to_green_and_nowhere_else(make_stack) -> None:
    secret = {
        "type": "Microsoft.KeyVault/vaults/secrets",
        "id": "/subscriptions/s/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-team/secrets/git-token",
        "properties": {"value": GIT_TOKEN},
    }
    stack: Stack = make_stack(
        estate_changes=PRIVATE,
        workloads={"protected_settings": {"cluster-config": {"httpsKey": KEY_VAULT_SECRET}}},
    )
    stack.emulator.seed(secret)
    run_id = stack.start()
    final = stack.finish(run_id)
    assert final["output"]["outcome"] == "completed", final["output"]["reason"]
    under_green = f"/managedclusters/{stack.estate.green_name}/providers/microsoft.kubernetesconfiguration/".lower()
    green_flux = [b for b in stack.emulator.resources() if f"{under_green}fluxconfigurations" in b["id"].lower()]
    assert green_flux and green_flux[0]["properties"]["complianceState"] == "Compliant"
    # The secret went from Key Vault to green's PUT; not into any history, status or answer.
    for instance in stack.host.store.instances():
        assert GIT_TOKEN not in str(stack.host.history(instance["instance_id"]))
        assert GIT_TOKEN not in str(instance["custom_status"]) + str(instance["output"]) + str(instance["input"])
    assert GIT_TOKEN not in str(stack.api("GET", f"upgrades/{run_id}")[1])


def test_green_ready_needs_a_caller_the_run_waiting_and_one_of_the_pipelines_callers(make_stack) -> None:
    receiver = PipelineReceiver().start()
    try:
        stack: Stack = make_stack(
            workloads={
                "mode": "pipeline",
                "pipeline": {"url": receiver.url, "secret": "appsetting:PIPELINE_KEY", "callers": [BOB]},
            },
            app_settings={"PIPELINE_KEY": receiver.key},
        )
        run: dict[str, str] = {}
        early = {}

        def before_populate(instance_id: str):
            return stack.api("POST", f"upgrades/{instance_id}/green-ready", {"ok": True}, user=BOB)

        early = stack.at_phase("clone", before_populate, lambda: run.get("id"))
        answers: dict[str, Any] = {}

        def when_notified() -> bool:
            instance_id = run.get("id")
            notice = receiver.take() if instance_id and "done" not in answers else None
            if notice is None:
                return False
            green = notice["green"]["name"]
            answers["anonymous"] = stack.api("POST", f"upgrades/{instance_id}/green-ready", {"ok": True}, user=None)
            answers["stranger"] = stack.api("POST", f"upgrades/{instance_id}/green-ready", {"ok": True}, user="eve@x")
            objects = stack.emulator.kubernetes_objects(stack.estate.blue_name)
            from local.rehearsal.world import application_objects

            stack.emulator.apply_objects(green, application_objects(objects, stack.estate))
            answers["done"] = stack.api(
                "POST", f"upgrades/{instance_id}/green-ready", {"ok": True, "detail": "deployed"}, user=BOB
            )
            return True

        stack.host.add_idle_hook(when_notified)
        run["id"] = stack.start()
        output = stack.finish(run["id"])["output"]
    finally:
        receiver.stop()
    assert early["result"][0] == 409 and early["result"][1]["error"]["code"] == "NotAwaitingGreenReady"
    assert answers["anonymous"][0] == 401
    assert answers["stranger"][0] == 403
    status, body = answers["done"]
    assert status == 202 and body["result"] == "taken" and body["by"] == BOB
    assert output["outcome"] == "completed", output["reason"]
    assert receiver.refused == 0
