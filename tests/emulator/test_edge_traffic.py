"""Synthetic Front Door traffic per edge: weights, priorities and the latency window of each origin group, and
writes that reach the edges progressively (reference/azure-more.md (h), azure.md 5), for both Front Door kinds."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.cdn.models import AFDOriginUpdateParameters
from azure.mgmt.frontdoor import FrontDoorManagementClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.azure_emulator.world import EDGES, STATUS_EDGES, default_latency, edge_delays
from local.clock import VirtualClock
from tests.emulator.conftest import (
    BLUE_HOST,
    CLASSIC_ID,
    GREEN_HOST,
    GROUP,
    PROFILE,
    PROFILE_ID,
    RG,
    app_seed,
    begin,
    fixture,
)

BLUE, GREEN = "aks-nod-prod-blue", "aks-nod-prod-green"
KINDS = ["std", "classic"]
POOL_KEY = f"{CLASSIC_ID.lower()}#backendpool#web"
GROUP_KEY = f"{PROFILE_ID}/originGroups/{GROUP}".lower()


@dataclass(frozen=True)
class Estate:
    kind: str
    resource: str
    namespace: str
    count_metric: str
    latency_metric: str
    dim: str
    key: str  # the origin group / backend pool's deployment history


def seed_estate(
    emu: AzureEmulator,
    kind: str,
    blue: tuple[int | None, int | None, bool] = (1, 50, True),
    green: tuple[int | None, int | None, bool] = (1, 50, True),
    window: int | None = 50,
) -> Estate:
    """Blue and green clusters running the application behind two origins / backends of one group, each given as
    (priority, weight, enabled) (None: never set), with the group's latency window in ms (None: absent)."""
    blue_cluster, green_cluster = fixture("managed-cluster-blue.json"), fixture("managed-cluster-blue.json")
    green_cluster["id"] = green_cluster["id"].replace("blue", "green")
    green_cluster["properties"]["nodeResourceGroup"] = "MC_green"
    items: list[dict[str, Any]] = [
        blue_cluster,
        green_cluster,
        app_seed(blue_cluster["id"]),
        app_seed(green_cluster["id"]),
    ]
    if kind == "std":
        group = fixture("afd-origin-group.json")
        settings = group["properties"]["loadBalancingSettings"]
        settings.pop("additionalLatencyInMilliseconds")
        if window is not None:
            settings["additionalLatencyInMilliseconds"] = window
        origins = []
        for name, (priority, weight, enabled) in (("blue", blue), ("green", green)):
            origin = fixture(f"afd-origin-{name}.json")
            props = origin["properties"]
            props.pop("priority"), props.pop("weight")
            props.update({k: v for k, v in (("priority", priority), ("weight", weight)) if v is not None})
            props["enabledState"] = "Enabled" if enabled else "Disabled"
            origins.append(origin)
        items = [group, *origins, *items]
        estate = Estate(
            kind, PROFILE_ID, "Microsoft.Cdn/profiles", "OriginRequestCount", "OriginLatency", "Origin", GROUP_KEY
        )
    else:
        fd = fixture("front-door-classic.json")
        lb = fd["properties"]["loadBalancingSettings"][0]["properties"]
        lb.pop("additionalLatencyMilliseconds")
        if window is not None:
            lb["additionalLatencyMilliseconds"] = window
        for backend in fd["properties"]["backendPools"][0]["properties"]["backends"]:
            priority, weight, enabled = blue if backend["address"] == BLUE_HOST else green
            backend.pop("priority"), backend.pop("weight")
            backend.update({k: v for k, v in (("priority", priority), ("weight", weight)) if v is not None})
            backend["enabledState"] = "Enabled" if enabled else "Disabled"
        items = [fd, *items]
        estate = Estate(
            kind,
            CLASSIC_ID,
            "Microsoft.Network/frontdoors",
            "BackendRequestCount",
            "BackendRequestLatency",
            "Backend",
            POOL_KEY,
        )
    emu.seed(items)
    emu.bind_host(BLUE_HOST, BLUE)
    emu.bind_host(GREEN_HOST, GREEN)
    return estate


def counts_per_minute(
    metrics: MetricsClient, clock: VirtualClock, estate: Estate, minutes: int
) -> dict[str, list[float]]:
    """Requests per origin host for each of the last `minutes` whole minutes (2xx and 5xx together)."""
    end = clock.now()
    result = metrics.query_resources(
        resource_ids=[estate.resource],
        metric_namespace=estate.namespace,
        metric_names=[estate.count_metric],
        timespan=(end - timedelta(minutes=minutes), end),
        granularity=timedelta(minutes=1),
        filter=f"{estate.dim} eq '*' and HttpStatusGroup eq '*'",
        aggregations=["Total"],
    )
    found: dict[str, list[float]] = {}
    for series in result[0].metrics[0].timeseries:
        totals = found.setdefault(series.metadata_values[estate.dim], [0.0] * minutes)
        for index, point in enumerate(series.data):
            totals[index] += point.total or 0
    return found


def shares(metrics: MetricsClient, clock: VirtualClock, estate: Estate, minutes: int = 1) -> dict[str, float]:
    found = {host: sum(values) for host, values in counts_per_minute(metrics, clock, estate, minutes).items()}
    total = sum(found.values())
    assert total > 0
    return {host: value / total for host, value in found.items()}


def latency_series(
    metrics: MetricsClient, clock: VirtualClock, estate: Estate, minutes: int, filter_text: str | None = None
) -> dict[str, list[float | None]]:
    end = clock.now()
    result = metrics.query_resources(
        resource_ids=[estate.resource],
        metric_namespace=estate.namespace,
        metric_names=[estate.latency_metric],
        timespan=(end - timedelta(minutes=minutes), end),
        granularity=timedelta(minutes=1),
        filter=filter_text or f"{estate.dim} eq '*'",
        aggregations=["Average"],
    )
    metric = result[0].metrics[0]
    assert metric.unit == "MilliSeconds"
    return {s.metadata_values[estate.dim]: [p.average for p in s.data] for s in metric.timeseries}


def to_minute(clock: VirtualClock) -> None:
    """Move the clock to the start of the next minute."""
    now = clock.now()
    clock.advance_to(now.replace(second=0, microsecond=0) + timedelta(minutes=1))


def switch_to_green(estate: Estate, cdn: CdnManagementClient, classic: FrontDoorManagementClient) -> None:
    """One write that disables blue (green, enabled at a higher priority number, is left), not polled."""
    if estate.kind == "std":
        update = AFDOriginUpdateParameters(enabled_state="Disabled")
        begin(cdn.afd_origins.begin_update, RG, PROFILE, GROUP, "blue", update)
    else:
        fd = classic.front_doors.get(RG, "fd-nod-prod")
        for backend in fd.backend_pools[0].backends:
            if backend.address == BLUE_HOST:
                backend.enabled_state = "Disabled"
        begin(classic.front_doors.begin_create_or_update, RG, "fd-nod-prod", fd)


# -- routing: weights, latency window, priority ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_weights_split_traffic_inside_the_latency_window(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 900, True), green=(1, 100, True), window=50)
    assert abs(default_latency(BLUE) - default_latency(GREEN)) < 20  # both inside the 50 ms window
    clock.advance(60)
    found = shares(metrics, clock, estate)
    assert set(found) == {BLUE_HOST, GREEN_HOST}
    assert found[GREEN_HOST] == pytest.approx(0.10, abs=0.01)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("window", [0, None], ids=["window-0", "window-absent"])
def test_outside_the_latency_window_the_faster_origin_takes_everything(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str, window: int | None
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 900, True), green=(1, 100, True), window=window)
    emu.set_latency(BLUE, 35)
    emu.set_latency(GREEN, 22)
    clock.advance(60)
    assert shares(metrics, clock, estate) == {GREEN_HOST: 1.0}  # the weights do not matter
    emu.set_latency(GREEN, 40)  # now blue is the faster one
    to_minute(clock)
    clock.advance(60)
    assert shares(metrics, clock, estate) == {BLUE_HOST: 1.0}


@pytest.mark.parametrize("kind", KINDS)
def test_a_window_as_wide_as_the_latency_gap_keeps_both(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 500, True), green=(1, 500, True), window=13)
    emu.set_latency(BLUE, 20)
    emu.set_latency(GREEN, 33)  # 13 ms slower: still within the window
    clock.advance(60)
    assert shares(metrics, clock, estate) == {BLUE_HOST: 0.5, GREEN_HOST: 0.5}
    emu.set_latency(GREEN, 34)
    to_minute(clock)
    clock.advance(60)
    assert shares(metrics, clock, estate) == {BLUE_HOST: 1.0}


@pytest.mark.parametrize("kind", KINDS)
def test_the_lower_priority_number_wins_and_the_other_is_a_hot_standby(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind, blue=(2, 1000, True), green=(1, 1, True), window=1000)
    emu.set_latency(GREEN, 39)
    emu.set_latency(BLUE, 20)  # faster, heavier, and still not used: priority comes first
    clock.advance(60)
    assert shares(metrics, clock, estate) == {GREEN_HOST: 1.0}
    emu.set_workloads_ready(GREEN, False)  # green fails its probes: Front Door falls back to priority 2
    to_minute(clock)
    clock.advance(60)
    assert shares(metrics, clock, estate) == {BLUE_HOST: 1.0}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("green", "blue_share"),
    [((2, 450, True), 1.0), ((None, 450, True), 50 / 500)],
    ids=["priority-1-beats-2", "weight-50-against-450"],
)
def test_a_priority_or_weight_never_set_counts_as_1_and_50(
    emu: AzureEmulator,
    metrics: MetricsClient,
    clock: VirtualClock,
    kind: str,
    green: tuple[int | None, int | None, bool],
    blue_share: float,
) -> None:
    estate = seed_estate(emu, kind, blue=(None, None, True), green=green, window=50)
    clock.advance(60)
    assert shares(metrics, clock, estate)[BLUE_HOST] == pytest.approx(blue_share, abs=0.01)


# -- propagation over the edges ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_after_a_write_the_share_that_follows_it_rises_over_the_propagation_delay(
    emu: AzureEmulator,
    cdn: CdnManagementClient,
    classic: FrontDoorManagementClient,
    metrics: MetricsClient,
    clock: VirtualClock,
    kind: str,
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 50, True), green=(2, 50, True))
    emu.set_propagation_delay(600)
    to_minute(clock)
    switch_to_green(estate, cdn, classic)
    clock.advance(12 * 60)
    minutes = counts_per_minute(metrics, clock, estate, 12)
    green = minutes[GREEN_HOST]
    total = [g + b for g, b in zip(green, minutes[BLUE_HOST], strict=True)]
    share = [g / t for g, t in zip(green, total, strict=True)]
    assert all(t == 6000 for t in total)  # every request reached an origin on some edge
    assert 0 < share[0] < 0.5  # a few edges have the write within the first minute
    assert all(a <= b for a, b in itertools.pairwise(share))  # non-decreasing: a curve, not a step
    assert len({round(s, 3) for s in share[:10]}) == 10  # it keeps rising, minute after minute
    assert 0.3 < share[3] < 0.7  # about half of the edges within about a third of the delay
    assert share[10:] == [1.0, 1.0]  # every edge once the delay has passed


def test_deployment_status_succeeds_when_half_the_edges_serve_the_write(
    emu: AzureEmulator,
    cdn: CdnManagementClient,
    classic: FrontDoorManagementClient,
    metrics: MetricsClient,
    clock: VirtualClock,
) -> None:
    estate = seed_estate(emu, "std", blue=(1, 50, True), green=(2, 50, True))
    emu.set_propagation_delay(600)
    to_minute(clock)
    written = clock.now()
    switch_to_green(estate, cdn, classic)
    reported = written + timedelta(seconds=edge_delays(600)[STATUS_EDGES - 1])
    clock.advance_to(reported - timedelta(seconds=1))
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "blue").deployment_status == "InProgress"
    clock.advance_to(reported)
    assert cdn.afd_origins.get(RG, PROFILE, GROUP, "blue").deployment_status == "Succeeded"
    # The status is not the moment users moved: half of the edges still route to blue for minutes.
    to_minute(clock)
    clock.advance(60)
    last = shares(metrics, clock, estate)
    assert 0.2 < last[BLUE_HOST] < 0.5
    assert written + timedelta(seconds=600) > clock.now()  # the last edge still lacks the write


@pytest.mark.parametrize("kind", KINDS)
def test_the_next_event_is_each_edge_that_starts_serving_a_write(
    emu: AzureEmulator,
    cdn: CdnManagementClient,
    classic: FrontDoorManagementClient,
    clock: VirtualClock,
    kind: str,
) -> None:
    """A virtual clock that jumps to the next event stops at every edge arrival: none is skipped."""
    estate = seed_estate(emu, kind, blue=(1, 50, True), green=(2, 50, True))
    written = clock.now()
    switch_to_green(estate, cdn, classic)
    arrivals = {written + timedelta(seconds=d) for d in edge_delays(emu.world.propagation)}
    seen: list[datetime] = []
    while (moment := emu.next_event_time()) is not None and len(seen) < 100:
        clock.advance_to(moment)
        seen.append(moment)
    assert arrivals <= set(seen)
    served = []
    switched = emu.world.deployments[estate.key].deployments[1]  # the write after the seeded configuration
    for moment in sorted(arrivals):
        mix = emu.world.edge_mix(estate.key, moment)
        served.append(next(n for d, n in mix if d is switched))
    assert served == list(range(1, EDGES + 1))  # one more edge at each arrival


@pytest.mark.parametrize("kind", KINDS)
def test_writes_reach_each_edge_in_order_when_the_delay_changes_in_between(
    emu: AzureEmulator,
    cdn: CdnManagementClient,
    classic: FrontDoorManagementClient,
    metrics: MetricsClient,
    clock: VirtualClock,
    kind: str,
) -> None:
    """A slow write (20 min, the documented upper end) then a fast one: no edge serves the second before the
    first, and every edge always has an enabled origin to route to."""
    estate = seed_estate(emu, kind, blue=(1, 50, True), green=(1, 50, False))
    emu.set_propagation_delay(1200)
    to_minute(clock)
    first = clock.now()
    if kind == "std":  # enable green: blue and green share the traffic
        begin(
            cdn.afd_origins.begin_update,
            RG,
            PROFILE,
            GROUP,
            "green",
            AFDOriginUpdateParameters(enabled_state="Enabled"),
        )
    else:
        fd = classic.front_doors.get(RG, "fd-nod-prod")
        for backend in fd.backend_pools[0].backends:
            backend.enabled_state = "Enabled"
        begin(classic.front_doors.begin_create_or_update, RG, "fd-nod-prod", fd)
    clock.advance(120)
    emu.set_propagation_delay(60)
    switch_to_green(estate, cdn, classic)  # disable blue: green alone
    clock.advance(180)  # the second write's own delay has long passed
    history = emu.world.deployments[estate.key]
    for edge in range(EDGES):
        first_arrival, second_arrival = (history.deployments[i].arrivals[edge] for i in (1, 2))
        assert second_arrival >= first_arrival
    assert history.deployments[2].effective == first + timedelta(seconds=1200)
    found = shares(metrics, clock, estate)
    assert 0 < found[BLUE_HOST] < 1  # the edges without the first write still send blue everything
    clock.advance_to(first + timedelta(seconds=1260))
    assert shares(metrics, clock, estate) == {GREEN_HOST: 1.0}
    # No request was ever answered by an edge with nothing to route to.
    end = clock.now()
    result = metrics.query_resources(
        resource_ids=[estate.resource],
        metric_namespace=estate.namespace,
        metric_names=["RequestCount", estate.count_metric],
        timespan=(end - timedelta(minutes=25), end),
        granularity=timedelta(minutes=25),
        aggregations=["Total"],
    )
    all_requests, to_origins = (sum(p.total or 0 for s in m.timeseries for p in s.data) for m in result[0].metrics)
    assert all_requests == to_origins > 0


def test_a_classic_latency_window_change_propagates_with_the_put(
    emu: AzureEmulator,
    classic: FrontDoorManagementClient,
    metrics: MetricsClient,
    clock: VirtualClock,
) -> None:
    estate = seed_estate(emu, "classic", blue=(1, 750, True), green=(1, 250, True), window=0)
    emu.set_latency(BLUE, 25)
    emu.set_latency(GREEN, 30)
    clock.advance(60)
    assert shares(metrics, clock, estate) == {BLUE_HOST: 1.0}
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    fd.load_balancing_settings[0].additional_latency_milliseconds = 10
    to_minute(clock)
    begin(classic.front_doors.begin_create_or_update, RG, "fd-nod-prod", fd)
    clock.advance(60)
    assert 0.75 < shares(metrics, clock, estate)[BLUE_HOST] < 1  # a few edges have the wider window
    clock.advance(emu.world.propagation)
    to_minute(clock)
    clock.advance(60)
    assert shares(metrics, clock, estate)[GREEN_HOST] == pytest.approx(0.25, abs=0.01)


# -- latency metrics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_latency_metric_is_the_request_weighted_mean_per_origin(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 500, True), green=(1, 500, True), window=50)
    emu.set_latency(BLUE, 30)
    emu.set_latency(GREEN, 45)
    start = clock.now()
    emu.set_latency(BLUE, 60, at=start + timedelta(seconds=90))  # halfway through the second minute
    clock.advance(120)
    found = latency_series(metrics, clock, estate, 2)
    assert found == {BLUE_HOST: [30.0, 45.0], GREEN_HOST: [45.0, 45.0]}
    one = latency_series(metrics, clock, estate, 2, f"{estate.dim} eq '{GREEN_HOST}'")
    assert one == {GREEN_HOST: [45.0, 45.0]}


@pytest.mark.parametrize("kind", KINDS)
def test_latency_of_an_origin_without_requests_has_no_average(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind, blue=(1, 50, True), green=(1, 50, False))
    clock.advance(60)
    assert set(latency_series(metrics, clock, estate, 1)) == {BLUE_HOST}  # a series per origin with requests
    assert latency_series(metrics, clock, estate, 1, f"{estate.dim} eq '{GREEN_HOST}'") == {GREEN_HOST: [None]}
    emu.set_workloads_ready(BLUE, False)  # blue answers nothing: 5xx requests, and no latency to measure
    to_minute(clock)
    clock.advance(60)
    assert latency_series(metrics, clock, estate, 1, f"{estate.dim} eq '{BLUE_HOST}'") == {BLUE_HOST: [None]}


@pytest.mark.parametrize("kind", KINDS)
def test_latency_metric_refuses_a_dimension_it_does_not_have(
    emu: AzureEmulator, metrics: MetricsClient, clock: VirtualClock, kind: str
) -> None:
    estate = seed_estate(emu, kind)
    clock.advance(60)
    with pytest.raises(HttpResponseError) as exc:
        latency_series(metrics, clock, estate, 1, f"{estate.dim} eq '*' and HttpStatusGroup eq '*'")
    assert exc.value.status_code == 400
    assert "does not support requested dimension" in str(exc.value)


def test_set_latency_is_refused_for_the_past_and_offered_by_the_control_api(
    emu: AzureEmulator, clock: VirtualClock
) -> None:
    clock.advance(60)
    with pytest.raises(ValueError, match="past"):
        emu.set_latency(BLUE, 50, at=clock.now() - timedelta(seconds=1))
    with pytest.raises(ValueError):
        emu.set_latency(BLUE, -1)
    base, verify = emu.arm_endpoint + "/_emulator", emu.ca_bundle
    later = clock.now() + timedelta(minutes=5)
    answer = requests.post(
        f"{base}/clusters/{BLUE}/latency", json={"milliseconds": 42.5, "at": later.isoformat()}, verify=verify
    )
    assert answer.status_code == 200
    signals = emu.world.signals_for(BLUE)
    assert (signals.latency.at(clock.now()), signals.latency.at(later)) == (default_latency(BLUE), 42.5)
    bad = requests.post(f"{base}/clusters/{BLUE}/latency", json={"milliseconds": "fast"}, verify=verify)
    assert bad.status_code == 400


def test_default_latency_is_fixed_per_cluster_between_20_and_40_ms() -> None:
    names = [f"aks-{i}" for i in range(200)]
    values = [default_latency(n) for n in names]
    assert all(20 <= v <= 40 for v in values)
    assert default_latency("AKS-1") == default_latency("aks-1")
    assert len(set(values)) > 150


# -- classic validation -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("weight", 0), ("weight", 1001), ("priority", 0), ("priority", 6)],
)
def test_classic_backend_weight_and_priority_out_of_range_are_400(
    emu: AzureEmulator, classic: FrontDoorManagementClient, field: str, value: int
) -> None:
    seed_estate(emu, "classic")
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    setattr(fd.backend_pools[0].backends[1], field, value)
    with pytest.raises(HttpResponseError) as exc:
        classic.front_doors.begin_create_or_update(RG, "fd-nod-prod", fd)
    assert exc.value.status_code == 400
    assert field in str(exc.value)
    assert classic.front_doors.get(RG, "fd-nod-prod").backend_pools[0].backends[1].weight == 50


def test_classic_latency_window_must_be_a_whole_number(emu: AzureEmulator, classic: FrontDoorManagementClient) -> None:
    seed_estate(emu, "classic")
    fd = classic.front_doors.get(RG, "fd-nod-prod")
    fd.load_balancing_settings[0].additional_latency_milliseconds = -5
    with pytest.raises(HttpResponseError) as exc:
        classic.front_doors.begin_create_or_update(RG, "fd-nod-prod", fd)
    assert exc.value.status_code == 400
