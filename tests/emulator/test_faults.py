"""Auth, bad bodies, injected 429/500 and failed long-running operations, seen through the real SDK."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient

from local.azure_emulator import AzureEmulator
from tests.emulator.conftest import RG, SUB, fixture

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
