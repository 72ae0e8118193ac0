"""Front Door Standard/Premium and classic writes, propagation, and metrics that follow the deployed routing."""

from __future__ import annotations

import pytest
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


def test_origin_patch_is_in_progress_until_propagated(
    afd: AzureEmulator, cdn: CdnManagementClient, clock: VirtualClock
) -> None:
    update = AFDOriginUpdateParameters(enabled_state="Enabled", priority=1, weight=1000)
    origin = cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", update).result()
    assert origin.provisioning_state == "Succeeded"
    assert origin.deployment_status == "InProgress"
    clock.advance(181)
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "green").deployment_status == "Succeeded"
    write = [r for r in afd.requests() if r["method"] == "PATCH"]
    assert write[0]["operation"] == "Microsoft.Cdn/profiles/originGroups/origins/write"
    assert write[0]["enabled_origins"] == 2


def test_origin_weight_out_of_range_is_400(afd: AzureEmulator, cdn: CdnManagementClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        cdn.afd_origins.begin_update(RG, PROFILE, GROUP, "green", AFDOriginUpdateParameters(weight=5000))
    assert exc.value.status_code == 400


def test_metrics_follow_deployed_routing_and_error_fraction(
    afd: AzureEmulator, cdn: CdnManagementClient, metrics: MetricsClient, clock: VirtualClock
) -> None:
    clock.advance(120)
    # Series that are zero over the whole timespan are left out, as Azure Monitor does.
    assert per_origin(metrics, clock, 2) == {(BLUE_HOST, "2XX"): 12000.0}
    cdn.afd_origins.begin_update(
        RG, PROFILE, GROUP, "green", AFDOriginUpdateParameters(enabled_state="Enabled")
    ).result()
    cdn.afd_origins.begin_update(
        RG, PROFILE, GROUP, "blue", AFDOriginUpdateParameters(enabled_state="Disabled")
    ).result()
    clock.advance(60 - clock.now().second)  # still inside the propagation delay: blue keeps most of the traffic
    # The change reaches Front Door's edges progressively (it used to be a step at the end of the delay): a few
    # edges already send green their share, the others still route to blue.
    during = per_origin(metrics, clock, 1)
    assert set(during) == {(BLUE_HOST, "2XX"), (GREEN_HOST, "2XX")}
    assert during[(BLUE_HOST, "2XX")] > during[(GREEN_HOST, "2XX")] > 0
    clock.advance(300)
    afd.set_error_fraction("aks-nod-prod-green", 0.25)
    clock.advance(60)
    last_minute = per_origin(metrics, clock, 1)
    assert last_minute == {(GREEN_HOST, "2XX"): 4500.0, (GREEN_HOST, "5XX"): 1500.0}


def test_stopped_cluster_behind_the_only_origin_returns_5xx(
    afd: AzureEmulator, metrics: MetricsClient, clock: VirtualClock
) -> None:
    afd.set_workloads_ready("aks-nod-prod-blue", False)
    clock.advance(60)
    assert per_origin(metrics, clock, 1)[(BLUE_HOST, "5XX")] == 6000.0


def test_classic_put_is_long_running_and_moves_backend_traffic(
    emu: AzureEmulator, classic: FrontDoorManagementClient, metrics: MetricsClient, clock: VirtualClock
) -> None:
    emu.seed(fixture("front-door-classic.json"))
    emu.bind_host(BLUE_HOST, "aks-nod-prod-blue")
    emu.seed([fixture("managed-cluster-blue.json"), app_seed(fixture("managed-cluster-blue.json")["id"])])
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    for backend in fd.backend_pools[0].backends:
        backend.enabled_state = "Enabled" if backend.address == GREEN_HOST else "Disabled"
    updated = classic.front_doors.begin_create_or_update(RG, "fd-nod-prod", fd).result()
    assert updated.provisioning_state == "Succeeded"
    put = next(r for r in emu.requests() if r["method"] == "PUT")
    assert (put["operation"], put["enabled_origins"]) == ("Microsoft.Network/frontDoors/write", 1)
    clock.advance(60 - clock.now().second)
    before = per_origin(metrics, clock, 1, CLASSIC_ID, "BackendRequestCount", "Backend")
    assert before.get((BLUE_HOST, "2XX"), 0) > 0  # not propagated yet
    clock.advance(240)
    after = per_origin(metrics, clock, 1, CLASSIC_ID, "BackendRequestCount", "Backend")
    assert after == {(GREEN_HOST, "5XX"): 6000.0}  # green is not bound to a cluster
