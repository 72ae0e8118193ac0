"""Traffic and smoke probes follow the application: only a cluster running it answers an origin's requests."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cdn.models import AFDOriginUpdateParameters
from azure.mgmt.containerservice import ContainerServiceClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator, kube
from local.clock import VirtualClock
from tests.emulator.conftest import (
    BLUE_HOST,
    GREEN_HOST,
    GROUP,
    PROFILE,
    RG,
    app_seed,
    create_body,
    deployment,
    fixture,
    per_origin,
    web_app,
)

GREEN = "aks-nod-prod-green"


def probe(emu: AzureEmulator, host: str) -> int:
    return requests.get(f"{emu.arm_endpoint}/_probe/{host}/healthz", verify=emu.ca_bundle, timeout=5).status_code


def green_body() -> dict[str, Any]:
    body = create_body()
    body["properties"]["nodeResourceGroup"] = "MC_rg-nod-prod_aks-nod-prod-green_eastus2"
    body["properties"]["dnsPrefix"] = GREEN
    return body


@pytest.fixture
def estate(emu: AzureEmulator) -> AzureEmulator:
    """Blue runs the application behind the enabled origin; green's origin is enabled too, with no cluster yet."""
    blue, green = fixture("managed-cluster-blue.json"), fixture("afd-origin-green.json")
    green["properties"]["enabledState"] = "Enabled"
    emu.seed([fixture("afd-origin-group.json"), fixture("afd-origin-blue.json"), green])
    emu.seed([blue, app_seed(blue["id"])])
    emu.bind_host(BLUE_HOST, "aks-nod-prod-blue")
    emu.bind_host(GREEN_HOST, GREEN)
    return emu


def test_an_empty_green_answers_nothing_until_the_application_runs_there(
    estate: AzureEmulator, aks: ContainerServiceClient, clock: VirtualClock
) -> None:
    assert (probe(estate, BLUE_HOST), probe(estate, GREEN_HOST)) == (200, 503)
    aks.managed_clusters.begin_create_or_update(RG, GREEN, green_body()).result()
    assert probe(estate, GREEN_HOST) == 503  # running, healthy, and empty: AKS deploys no application
    estate.apply_objects(GREEN, web_app())
    assert probe(estate, GREEN_HOST) == 503  # its pods are starting
    clock.advance(estate.world.timings.rollout)
    assert probe(estate, GREEN_HOST) == 200
    estate.set_workloads_ready(GREEN, False)
    assert probe(estate, GREEN_HOST) == 503


@pytest.mark.parametrize(
    "objects",
    [
        [o for o in web_app() if o["kind"] != "Service"],  # no LoadBalancer to reach it
        [o for o in web_app() if o["kind"] in ("Namespace", "Service")],  # an ingress with nothing behind it
        [*web_app(), deployment("web", "broken", 0)],  # a workload that wants no pods is no application
    ],
    ids=["no-load-balancer", "no-workload", "scaled-to-zero-is-ignored"],
)
def test_what_counts_as_running_the_application(
    estate: AzureEmulator, aks: ContainerServiceClient, clock: VirtualClock, objects: list[dict[str, Any]]
) -> None:
    aks.managed_clusters.begin_create_or_update(RG, GREEN, green_body()).result()
    estate.apply_objects(GREEN, objects)
    clock.advance(estate.world.timings.rollout)
    serves = any(o["kind"] == "Service" for o in objects) and any(o["kind"] == "Deployment" for o in objects)
    assert probe(estate, GREEN_HOST) == (200 if serves else 503)


def test_front_door_traffic_to_an_empty_cluster_is_5xx(
    estate: AzureEmulator,
    aks: ContainerServiceClient,
    cdn: CdnManagementClient,
    metrics: MetricsClient,
    clock: VirtualClock,
) -> None:
    aks.managed_clusters.begin_create_or_update(RG, GREEN, green_body()).result()
    cdn.afd_origins.begin_update(
        RG, PROFILE, GROUP, "blue", AFDOriginUpdateParameters(enabled_state="Disabled")
    ).result()
    clock.advance(estate.world.propagation + 60 - clock.now().second)
    assert per_origin(metrics, clock, 1) == {(GREEN_HOST, "5XX"): 6000.0}
    estate.apply_objects(GREEN, web_app())
    clock.advance(estate.world.timings.rollout)
    clock.advance(120 - clock.now().second)  # a whole minute after the rollout
    assert per_origin(metrics, clock, 1) == {(GREEN_HOST, "2XX"): 6000.0}


def test_past_traffic_keeps_what_the_cluster_ran_then(
    estate: AzureEmulator, metrics: MetricsClient, clock: VirtualClock
) -> None:
    clock.advance(120 - clock.now().second)
    before = per_origin(metrics, clock, 2)
    assert set(before) == {(BLUE_HOST, "2XX")}
    cluster = estate.world.cluster_named("aks-nod-prod-blue")
    assert cluster is not None
    with estate.world.lock:  # the application is removed now: the minutes before keep their answers
        for key in [k for k in cluster.kube.items if k[1] in ("web", "ingress-nginx")]:
            cluster.kube.remove(key)
        kube.refresh(estate.world, cluster, clock.now())
    assert per_origin(metrics, clock, 2) == before
    assert probe(estate, BLUE_HOST) == 503


def test_objects_seeded_into_a_cluster_made_earlier_serve_from_then(
    estate: AzureEmulator, aks: ContainerServiceClient, clock: VirtualClock
) -> None:
    created = aks.managed_clusters.begin_create_or_update(RG, GREEN, green_body()).result()
    assert probe(estate, GREEN_HOST) == 503
    estate.seed(app_seed(created.id))  # running all along, as a seed says
    assert probe(estate, GREEN_HOST) == 200
