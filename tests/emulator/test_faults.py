"""Auth, bad bodies, injected 429/500 (bursts, metric queries in or out) and failed operations, through the SDK."""

from __future__ import annotations

import threading

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import GROUP, PROFILE, RG, SUB, fixture, per_origin

BLUE = "aks-nod-prod-blue"
CLUSTER_PATH = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{BLUE}"


def test_request_without_bearer_token_gets_401(emu: AzureEmulator) -> None:
    response = requests.get(emu.arm_endpoint + CLUSTER_PATH, params={"api-version": "2026-08-01"}, verify=emu.ca_bundle)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"


def test_bad_json_body_gets_400(emu: AzureEmulator) -> None:
    response = requests.put(
        emu.arm_endpoint + CLUSTER_PATH, data=b"{not json", headers={"Authorization": "Bearer x"}, verify=emu.ca_bundle
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidRequestContent"


def test_missing_cluster_is_404_resource_not_found(aks: ContainerServiceClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.get(RG, "nope")
    assert exc.value.status_code == 404 and exc.value.error.code == "ResourceNotFound"


def test_429_with_retry_after_is_retried_by_the_sdk_and_logged(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.inject_fault(
        status=429, count=1, method="GET", path_pattern="managedClusters/aks-nod-prod-blue$", retry_after=7
    )
    assert aks.managed_clusters.get(RG, BLUE).name == BLUE
    statuses = [(r["status"], r["kind"], r["operation"]) for r in emu.requests()]
    assert statuses == [
        (429, "read", "Microsoft.ContainerService/managedClusters/read"),
        (200, "read", "Microsoft.ContainerService/managedClusters/read"),
    ]
    first, second = emu.requests()
    assert second["at"] > first["at"]  # the SDK waited Retry-After on the virtual clock


def test_injected_500_is_retried_too(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.inject_fault(status=500, count=2)
    assert aks.managed_clusters.get(RG, BLUE).provisioning_state == "Succeeded"
    assert [r["status"] for r in emu.requests()] == [500, 500, 200]


def test_failed_operation_surfaces_as_an_error_and_leaves_the_cluster_failed(
    aks: ContainerServiceClient, emu: AzureEmulator
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.fail_next_operation(path_pattern=BLUE, code="UpgradeFailed", message="drain timed out")
    body = fixture("managed-cluster-blue.json")
    body["properties"]["kubernetesVersion"] = "1.32.9"
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    assert "drain timed out" in str(exc.value)
    failed = aks.managed_clusters.get(RG, BLUE)
    assert failed.provisioning_state == "Failed" and failed.current_kubernetes_version == "1.31.8"
    retried = aks.managed_clusters.begin_create_or_update(RG, BLUE, body).result()
    assert retried.current_kubernetes_version == "1.32.9"


def raw_get(emu: AzureEmulator) -> int:
    answer = requests.get(
        emu.arm_endpoint + CLUSTER_PATH,
        params={"api-version": "2026-08-01"},
        headers={"Authorization": "Bearer t"},
        verify=emu.ca_bundle,
        timeout=5,
    )
    return answer.status_code


def test_a_burst_of_50_is_answered_request_by_request(emu: AzureEmulator) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.inject_fault(status=429, count=50, method="GET", path_pattern=f"managedClusters/{BLUE}$", retry_after=3)
    assert [raw_get(emu) for _ in range(51)] == [429] * 50 + [200]
    throttled = [r for r in emu.requests() if r["status"] == 429]
    assert len(throttled) == 50 and all(r["kind"] == "read" for r in throttled)


def test_a_burst_of_50_shared_by_concurrent_requests_is_taken_exactly_once_each(emu: AzureEmulator) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.inject_fault(status=500, count=50)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            status = raw_get(emu)
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] * 10 + [500] * 50


def test_the_sdk_gives_up_inside_a_burst_of_50_and_the_rest_stays_pending(
    aks: ContainerServiceClient, emu: AzureEmulator
) -> None:
    emu.seed(fixture("managed-cluster-blue.json"))
    emu.inject_fault(status=429, count=50, method="GET", retry_after=2)
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.get(RG, BLUE)
    assert exc.value.status_code == 429
    log = emu.requests()
    # One try and azure-core's 3 retries on a bad status (RetryPolicy retry_status), each after Retry-After.
    assert [r["at"][11:19] for r in log] == ["06:00:00", "06:00:02", "06:00:04", "06:00:06"]
    assert [raw_get(emu) for _ in range(47)] == [429] * 46 + [200]


@pytest.fixture
def with_metrics(afd: AzureEmulator, clock: VirtualClock) -> AzureEmulator:
    clock.advance(120)
    return afd


def test_metric_queries_can_be_targeted(
    with_metrics: AzureEmulator, metrics: MetricsClient, cdn: CdnManagementClient, clock: VirtualClock
) -> None:
    with_metrics.inject_fault(status=429, count=2, path_pattern="metrics:getBatch")
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "blue").enabled_state == "Enabled"  # ARM untouched
    assert per_origin(metrics, clock, 1)  # the metrics client retried through both 429s
    log = [(r["method"], r["status"]) for r in with_metrics.requests()]
    assert log == [("GET", 200), ("POST", 429), ("POST", 429), ("POST", 200)]
    assert with_metrics.requests()[1]["operation"] == "Microsoft.Insights/metrics/read"


def test_metric_queries_can_be_excluded(
    with_metrics: AzureEmulator, metrics: MetricsClient, cdn: CdnManagementClient, clock: VirtualClock
) -> None:
    with_metrics.inject_fault(status=500, count=1, exclude_pattern="metrics:getBatch")
    assert per_origin(metrics, clock, 1)
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "blue").enabled_state == "Enabled"
    log = [(r["method"], r["status"]) for r in with_metrics.requests()]
    assert log == [("POST", 200), ("GET", 500), ("GET", 200)]


def test_exclude_pattern_through_the_control_api(
    with_metrics: AzureEmulator, metrics: MetricsClient, clock: VirtualClock
) -> None:
    base, verify = with_metrics.arm_endpoint + "/_emulator", with_metrics.ca_bundle
    body = {"status": 429, "count": 1, "exclude_pattern": "metrics:getBatch"}
    assert requests.post(base + "/faults", json=body, verify=verify).status_code == 200
    assert per_origin(metrics, clock, 1)
    assert [r["status"] for r in with_metrics.requests()] == [200]
