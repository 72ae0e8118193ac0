"""AKS tags (ManagedClusters_UpdateTags) and power state: what a stopped cluster refuses, and what a start gives back.

Through the real azure-mgmt-containerservice client against the emulated Azure (HTTPS, virtual clock). Operations
a test needs in progress are started with polling=False (conftest.begin): an SDK poller's waits move the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.core.pipeline import PipelineResponse
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest, TagsObject
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import (
    BLUE_HOST,
    GREEN_HOST,
    RG,
    begin,
    create_body,
    finish,
    fixture,
    per_origin,
    status_document,
)

BLUE = "aks-nod-prod-blue"
SEEDED_TAGS = {"app": "nod-web", "env": "prod"}  # managed-cluster-blue.json
PENDING = "please wait for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation"


def busy(operation: str) -> str:
    """AKS's 409 message while another operation runs (errors.busy)."""
    return f"Operation is not allowed: Another operation ({operation}) is in progress, {PENDING} for more details."


@pytest.fixture
def blue(emu: AzureEmulator) -> AzureEmulator:
    emu.seed(fixture("managed-cluster-blue.json"))
    return emu


def refused(call: Callable[[], Any]) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as exc:
        call()
    return exc.value


def not_allowed(call: Callable[[], Any]) -> str:
    """The message of AKS's 409 OperationNotAllowed for this call."""
    error = refused(call)
    assert (error.status_code, error.error.code) == (409, "OperationNotAllowed")
    return str(error.error.message)


def update_tags(aks: ContainerServiceClient, tags: dict[str, str], name: str = BLUE) -> Any:
    return aks.managed_clusters.begin_update_tags(RG, name, TagsObject(tags=tags)).result()


def run(aks: ContainerServiceClient, command: str) -> Any:
    return aks.managed_clusters.begin_run_command(RG, BLUE, RunCommandRequest(command=command)).result()


def probe(emu: AzureEmulator, host: str) -> int:
    return requests.get(f"{emu.arm_endpoint}/_probe/{host}/healthz", verify=emu.ca_bundle, timeout=5).status_code


def stop(aks: ContainerServiceClient) -> None:
    aks.managed_clusters.begin_stop(RG, BLUE).result()
    assert aks.managed_clusters.get(RG, BLUE).power_state.code == "Stopped"


# -- PATCH tags ----------------------------------------------------------------------------------------------------


def test_update_tags_replaces_the_tags_wholesale(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    before = aks.managed_clusters.get(RG, BLUE)
    assert before.tags == SEEDED_TAGS
    updated = update_tags(aks, {"bluegreen-run": "run-42", "env": "staging"})
    assert updated.tags == {"bluegreen-run": "run-42", "env": "staging"}  # "app" is gone: not a merge
    again = aks.managed_clusters.get(RG, BLUE)
    assert again.tags == {"bluegreen-run": "run-42", "env": "staging"}
    assert again.provisioning_state == "Succeeded"
    # Nothing but the tags changes.
    assert again.current_kubernetes_version == before.current_kubernetes_version
    pools = [(p.name, p.count) for p in before.agent_pool_profiles]
    assert [(p.name, p.count) for p in again.agent_pool_profiles] == pools
    assert not update_tags(aks, {}).tags  # {} leaves none
    assert not aks.managed_clusters.get(RG, BLUE).tags


def test_update_tags_is_a_short_long_running_operation(
    aks: ContainerServiceClient, blue: AzureEmulator, clock: VirtualClock
) -> None:
    answers: list[tuple[int, dict[str, str]]] = []

    def keep(response: PipelineResponse[Any, Any]) -> None:
        answers.append((response.http_response.status_code, dict(response.http_response.headers)))

    mc = aks.managed_clusters
    mc.begin_update_tags(RG, BLUE, TagsObject(tags={"owner": "platform"}), polling=False, raw_response_hook=keep)
    status, headers = answers[0]
    assert status == 200 and "Azure-AsyncOperation" in headers
    during = mc.get(RG, BLUE)
    assert (during.provisioning_state, during.tags) == ("Updating", {"owner": "platform"})
    assert status_document(blue, headers["Azure-AsyncOperation"])["status"] == "InProgress"
    # Another write meanwhile gets AKS's 409 naming the tags update.
    message = not_allowed(lambda: mc.begin_create_or_update(RG, BLUE, create_body()))
    assert message == busy("Updating")
    clock.advance(blue.world.timings.tags_update)
    assert status_document(blue, headers["Azure-AsyncOperation"])["status"] == "Succeeded"
    after = mc.get(RG, BLUE)
    assert (after.provisioning_state, after.tags) == ("Succeeded", {"owner": "platform"})


def test_update_tags_of_an_unknown_cluster_is_404(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    error = refused(lambda: update_tags(aks, {"owner": "platform"}, name="aks-nod-prod-nowhere"))
    assert (error.status_code, error.error.code) == (404, "ResourceNotFound")
    assert "aks-nod-prod-nowhere" in error.error.message


def test_update_tags_while_upgrading_is_409(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    body = create_body()
    body["properties"]["kubernetesVersion"] = "1.32"
    begin(aks.managed_clusters.begin_create_or_update, RG, BLUE, body)
    message = not_allowed(lambda: update_tags(aks, {"owner": "platform"}))
    assert message == busy("Upgrading")
    assert aks.managed_clusters.get(RG, BLUE).tags == SEEDED_TAGS


# -- a stopped cluster can only be started or deleted ------------------------------------------------------------


def _upgrade_body() -> dict[str, Any]:
    body = create_body()
    body["properties"]["kubernetesVersion"] = "1.32"
    return body


def _pool(count: int) -> dict[str, Any]:
    props = {"count": count, "vmSize": "Standard_D8ds_v5", "mode": "User", "orchestratorVersion": "1.31.8"}
    return {"properties": props}


# (what is sent, the action AKS's refusal names)
STOPPED_WRITES: dict[str, tuple[Callable[[ContainerServiceClient], Any], str]] = {
    "put update": (
        lambda aks: aks.managed_clusters.begin_create_or_update(RG, BLUE, create_body() | {"tags": {"owner": "x"}}),
        "updating",
    ),
    "put upgrade": (lambda aks: aks.managed_clusters.begin_create_or_update(RG, BLUE, _upgrade_body()), "upgrading"),
    "patch tags": (lambda aks: update_tags(aks, {"owner": "x"}), "updating"),
    "pool scale": (lambda aks: aks.agent_pools.begin_create_or_update(RG, BLUE, "userpool1", _pool(6)), "scaling"),
    "pool create": (lambda aks: aks.agent_pools.begin_create_or_update(RG, BLUE, "userpool2", _pool(2)), "creating"),
    "run command": (lambda aks: run(aks, "kubectl get nodes"), "run command"),
}


@pytest.mark.parametrize("write", list(STOPPED_WRITES))
def test_a_stopped_cluster_refuses_every_write_but_start_and_delete(
    aks: ContainerServiceClient, blue: AzureEmulator, write: str
) -> None:
    stop(aks)
    call, action = STOPPED_WRITES[write]
    message = not_allowed(lambda: call(aks))
    assert message == f"managed cluster is not currently running, {action} cannot be performed"
    assert "in progress" not in message and "Provisioning State" not in message  # waiting would not help
    cluster = aks.managed_clusters.get(RG, BLUE)  # nothing changed
    assert (cluster.provisioning_state, cluster.power_state.code) == ("Succeeded", "Stopped")
    assert (cluster.tags, cluster.kubernetes_version) == (SEEDED_TAGS, "1.31.8")
    assert {p.name: p.count for p in cluster.agent_pool_profiles} == {"system": 3, "userpool1": 4}


def test_a_stopped_cluster_can_still_be_read_and_deleted(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    stop(aks)
    assert [p.name for p in aks.agent_pools.list(RG, BLUE)] == ["system", "userpool1"]
    aks.managed_clusters.begin_delete(RG, BLUE).result()
    assert refused(lambda: aks.managed_clusters.get(RG, BLUE)).status_code == 404


def test_stopping_a_stopped_cluster_is_409(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    stop(aks)
    message = not_allowed(lambda: aks.managed_clusters.begin_stop(RG, BLUE))
    assert message == "managed cluster is not currently running, stopping cannot be performed"


def test_starting_a_running_cluster_is_409_and_starts_nothing(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    message = not_allowed(lambda: aks.managed_clusters.begin_start(RG, BLUE))
    assert message == (
        "managed cluster is in Provisioning State(Succeeded) and Power State(Running), starting cannot be performed"
    )
    cluster = aks.managed_clusters.get(RG, BLUE)
    assert (cluster.provisioning_state, cluster.power_state.code) == ("Succeeded", "Running")
    assert blue.next_event_time() is None  # no operation was started
    update_tags(aks, {"owner": "platform"})  # and the cluster takes writes as before


def test_a_write_during_a_start_names_the_start(aks: ContainerServiceClient, blue: AzureEmulator) -> None:
    stop(aks)
    begin(aks.managed_clusters.begin_start, RG, BLUE)
    message = not_allowed(lambda: update_tags(aks, {"owner": "platform"}))
    assert message == busy("Starting")


# -- start gives the workloads back -----------------------------------------------------------------------------


def test_a_started_cluster_serves_its_workloads_again(
    afd: AzureEmulator, aks: ContainerServiceClient, metrics: MetricsClient, clock: VirtualClock
) -> None:
    """Blue runs the application behind the enabled origin: stopped, it answers no probe, no request and no run
    command; started again, all of them, with the workloads it had."""
    assert probe(afd, BLUE_HOST) == 200
    stop(aks)
    assert (probe(afd, BLUE_HOST), probe(afd, GREEN_HOST)) == (503, 200)
    clock.advance(120 - clock.now().second)  # a whole minute after the stop
    assert per_origin(metrics, clock, 1) == {(BLUE_HOST, "5XX"): 6000.0}  # the only enabled origin answers nothing
    assert "run command cannot be performed" in not_allowed(lambda: run(aks, "kubectl get nodes"))
    with pytest.raises(ValueError, match="Unable to connect to the server"):
        afd.apply_objects(BLUE, [])

    status_url = begin(aks.managed_clusters.begin_start, RG, BLUE)
    during = aks.managed_clusters.get(RG, BLUE)
    assert (during.provisioning_state, during.power_state.code) == ("Starting", "Stopped")
    assert probe(afd, BLUE_HOST) == 503  # not before the start has succeeded
    clock.advance(afd.world.timings.start - 1)
    assert probe(afd, BLUE_HOST) == 503
    finish(afd, clock)
    assert status_document(afd, status_url)["status"] == "Succeeded"

    after = aks.managed_clusters.get(RG, BLUE)
    assert (after.provisioning_state, after.power_state.code) == ("Succeeded", "Running")
    assert {p.power_state.code for p in after.agent_pool_profiles} == {"Running"}
    assert probe(afd, BLUE_HOST) == 200
    deployments = json.loads(run(aks, "kubectl get deployments -A -o json").logs)
    available = {d["metadata"]["name"]: d["status"].get("availableReplicas") for d in deployments["items"]}
    assert (available["frontend"], available["api"], available["ingress-nginx-controller"]) == (3, 2, 2)
    clock.advance(120 - clock.now().second)  # a whole minute after the start
    assert per_origin(metrics, clock, 1) == {(BLUE_HOST, "2XX"): 6000.0}
    assert update_tags(aks, {"owner": "platform"}).tags == {"owner": "platform"}  # writes are taken again
