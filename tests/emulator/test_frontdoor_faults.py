"""Front Door writes that fail unapplied: an ARM error answer, or an accepted write whose operation fails."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cdn.models import AFDOriginUpdateParameters
from azure.mgmt.frontdoor import FrontDoorManagementClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import (
    BLUE_HOST,
    CLASSIC_ID,
    GREEN_HOST,
    GROUP,
    PROFILE,
    RG,
    app_seed,
    fixture,
    per_origin,
)

ENABLE = AFDOriginUpdateParameters(enabled_state="Enabled")


def writes(emu: AzureEmulator) -> list[tuple[str, int, int | None]]:
    """(method, status, enabled_origins) of every Front Door write in the request log."""
    return [
        (r["method"], r["status"], r["enabled_origins"])
        for r in emu.requests()
        if r["kind"] == "write" and ("Microsoft.Cdn" in r["operation"] or "frontDoors" in r["operation"])
    ]


@pytest.fixture
def classic_fd(emu: AzureEmulator) -> AzureEmulator:
    blue = fixture("managed-cluster-blue.json")
    emu.seed([fixture("front-door-classic.json"), blue, app_seed(blue["id"])])
    emu.bind_host(BLUE_HOST, "aks-nod-prod-blue")
    return emu


def enable_green_classic(classic: FrontDoorManagementClient) -> Any:
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    for backend in fd.backend_pools[0].backends:
        backend.enabled_state = "Enabled"
    return classic.front_doors.begin_create_or_update(RG, "fd-nod-prod", fd)


def classic_enabled(classic: FrontDoorManagementClient) -> dict[str, str]:
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    return {b.address: b.enabled_state for b in fd.backend_pools[0].backends}


def test_origin_write_answered_with_409_changes_nothing(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    afd.fail_front_door_writes(count=1, status=409)
    with pytest.raises(HttpResponseError) as exc:
        cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE)
    assert (exc.value.status_code, exc.value.error.code) == (409, "Conflict")
    assert "another operation is in progress" in exc.value.error.message
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "green").enabled_state == "Disabled"
    # The log shows the failed write with the configuration still in force: blue alone.
    assert writes(afd) == [("PATCH", 409, 1)]
    cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result()
    assert writes(afd) == [("PATCH", 409, 1), ("PATCH", 202, 2)]


def test_origin_write_answered_with_500_is_retried_by_the_sdk(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    afd.fail_front_door_writes(count=2, status=500)
    cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result()
    assert writes(afd) == [("PATCH", 500, 1), ("PATCH", 500, 1), ("PATCH", 202, 2)]


def test_a_burst_of_front_door_errors_spares_other_requests(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    afd.fail_front_door_writes(count=2, status=409, code="Conflict", message="busy, try later")
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "green").enabled_state == "Disabled"  # reads untouched
    for _ in range(2):
        with pytest.raises(HttpResponseError) as exc:
            cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE)
        assert exc.value.error.message == "busy, try later"
    cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result()
    assert [s for _, s, _ in writes(afd)] == [409, 409, 202]


def test_origin_write_whose_operation_fails_is_never_applied_nor_routed(
    afd: AzureEmulator, cdn: CdnManagementClient, metrics: MetricsClient, clock: VirtualClock
) -> None:
    afd.fail_front_door_writes(kind="operation", code="OriginUpdateFailed", message="edge config rejected")
    poller = cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE)
    # Accepted as ARM accepts an async write: 202 with Azure-AsyncOperation, nothing changed yet or ever.
    assert writes(afd) == [("PATCH", 202, 1)]
    with pytest.raises(HttpResponseError) as exc:
        poller.result()
    assert exc.value.response.json()["error"] == {"code": "OriginUpdateFailed", "message": "edge config rejected"}
    green = cdn.afd_origins.get(RG, PROFILE, GROUP, "green")
    assert (green.enabled_state, green.provisioning_state, green.deployment_status) == (
        "Disabled",
        "Failed",
        "Succeeded",
    )
    clock.advance(900)  # far past any propagation delay
    assert set(per_origin(metrics, clock, 10)) == {(BLUE_HOST, "2XX")}
    # The next write is applied as usual.
    assert cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result().enabled_state == "Enabled"
    assert writes(afd)[-1] == ("PATCH", 202, 2)


def test_origin_create_whose_operation_fails_leaves_no_origin(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    afd.fail_front_door_writes(kind="operation")
    origin = {"properties": {"hostName": "canary.web.nodpublishers.example", "enabledState": "Enabled"}}
    poller = cdn.afd_origins.begin_create(RG, PROFILE, GROUP, "canary", origin)
    with pytest.raises(HttpResponseError):
        poller.result()
    assert sorted(o.name for o in cdn.afd_origins.list_by_origin_group(RG, PROFILE, GROUP)) == ["blue", "green"]
    assert writes(afd) == [("PUT", 201, 1)]


def test_classic_put_answered_with_500_is_retried_and_logged_twice(
    classic_fd: AzureEmulator, classic: FrontDoorManagementClient
) -> None:
    classic_fd.fail_front_door_writes(count=1, status=500)
    enable_green_classic(classic).result()  # the SDK retries a PUT that got a 500
    assert classic_enabled(classic)[GREEN_HOST] == "Enabled"
    assert writes(classic_fd) == [("PUT", 500, 1), ("PUT", 202, 2)]


def test_classic_put_whose_operation_fails_keeps_the_old_backends(
    classic_fd: AzureEmulator, classic: FrontDoorManagementClient, metrics: MetricsClient, clock: VirtualClock
) -> None:
    classic_fd.fail_front_door_writes(kind="operation", code="FrontDoorUpdateFailed")
    with pytest.raises(HttpResponseError) as exc:
        enable_green_classic(classic).result()
    assert exc.value.response.json()["error"]["code"] == "FrontDoorUpdateFailed"
    assert classic_enabled(classic) == {BLUE_HOST: "Enabled", GREEN_HOST: "Disabled"}
    assert classic.front_doors.get(RG, "fd-nod-prod").provisioning_state == "Failed"
    assert writes(classic_fd) == [("PUT", 202, 1)]
    clock.advance(600)
    counts = per_origin(metrics, clock, 5, CLASSIC_ID, "BackendRequestCount", "Backend")
    assert set(counts) == {(BLUE_HOST, "2XX")}


def test_fail_next_operation_on_a_front_door_path_is_not_applied_either(
    afd: AzureEmulator, cdn: CdnManagementClient
) -> None:
    afd.fail_next_operation(path_pattern="origins/green$", code="Boom")
    with pytest.raises(HttpResponseError):
        cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result()
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "green").enabled_state == "Disabled"


def test_bad_front_door_write_logs_the_configuration_in_force(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    with pytest.raises(HttpResponseError):
        cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", AFDOriginUpdateParameters(weight=5000))
    assert writes(afd) == [("PATCH", 400, 1)]


def test_front_door_faults_through_the_control_api(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    base, verify = afd.arm_endpoint + "/_emulator", afd.ca_bundle
    body = {"kind": "operation", "count": 1, "code": "ViaControl"}
    assert requests.post(base + "/faults/front-door", json=body, verify=verify).status_code == 200
    bad = requests.post(base + "/faults/front-door", json={"kind": "sometimes"}, verify=verify)
    assert bad.status_code == 400
    with pytest.raises(HttpResponseError) as exc:
        cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result()
    assert exc.value.response.json()["error"]["code"] == "ViaControl"
    assert requests.post(base + "/faults/front-door", json={"status": 409}, verify=verify).status_code == 200
    assert requests.post(base + "/faults/clear", verify=verify).status_code == 200
    assert cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", ENABLE).result().enabled_state == "Enabled"
