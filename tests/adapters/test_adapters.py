"""The Azure adapters in bluegreen/ with the real SDK clients against the emulated Azure (no SDK mocks)."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bluegreen import azure as azure_module
from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients, AzureSettings
from bluegreen.clusters import ORIGIN_TAG, RUN_TAG, Clusters, summarize
from bluegreen.contract import GreenOverrides
from bluegreen.errors import PermanentError
from bluegreen.green import define
from bluegreen.metrics import origin_error_rate
from bluegreen.routing import SwitchStep, next_switch_step
from bluegreen.traffic import provider_for
from bluegreen.versions import Catalogue, Version, upgrade_path
from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.rehearsal.world import build_estate

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "arm" / "managed-cluster-blue.json"


@pytest.fixture
def world():
    clock = VirtualClock()
    blue = json.loads(FIXTURE.read_text())
    estates = {kind: build_estate(blue, kind) for kind in ("standard", "classic")}
    seed = estates["standard"].resources + [r for r in estates["classic"].resources if "frontDoors" in r["type"]]
    emulator = AzureEmulator(clock=clock, seed=seed).start()
    for estate in estates.values():
        emulator.bind_host(estate.hosts["blue"], estate.blue_name)
        emulator.bind_host(estate.hosts["green"], estate.green_name)
    azure_module.use_sleep(clock.sleep)  # SDK waits (Retry-After, pollers) move virtual time instead
    clients = AzureClients(
        AzureSettings("emulated", emulator.arm_endpoint, emulator.metrics_endpoint, emulator.ca_bundle)
    )
    yield clock, emulator, clients, estates, blue
    azure_module.use_sleep(None)
    emulator.stop()


def _wait(clock, emulator, clusters, cluster_id, operation):
    for _ in range(200):
        status = clusters.operation_status(cluster_id, operation)
        if status.status != "InProgress":
            return status
        clock.advance_to(emulator.next_event_time() or clock.now() + timedelta(seconds=30))
    raise AssertionError("operation never ended")


def _writable(body):
    from azure.mgmt.containerservice.models import ManagedCluster

    return ManagedCluster(copy.deepcopy(body)).as_dict(exclude_readonly=True)


def test_clone_keeps_every_writable_setting_of_a_realistic_blue(world):
    clock, emulator, clients, estates, blue_fixture = world
    estate = estates["standard"]
    clusters = Clusters(clients)
    blue_id = next(r["id"] for r in estate.resources if "managedclusters" in r["type"].lower())
    blue = clusters.get(blue_id)
    green_id = str(ResourceId.parse(blue_id).sibling(estate.green_name))
    body = define(
        blue,
        name=estate.green_name,
        version="1.31.11",
        run_id="r1",
        environment="nod-prod",
        origin="green",
        overrides=GreenOverrides(),
    ).body
    status = _wait(clock, emulator, clusters, green_id, clusters.start_create(green_id, body))
    assert status.status == "Succeeded"

    green = clusters.get(green_id)
    before, after = _writable(blue)["properties"], _writable(green)["properties"]
    # Green's own: names, version (the newest patch of blue's minor), identities AKS makes, its OIDC issuer.
    differ_by_design = {"dnsPrefix", "nodeResourceGroup", "identityProfile", "servicePrincipalProfile"}
    differ_by_design |= {"kubernetesVersion", "oidcIssuerProfile", "addonProfiles"}
    for key in set(before) | set(after):
        if key in differ_by_design or key == "agentPoolProfiles":
            continue
        assert after.get(key) == before.get(key), key
    assert after["kubernetesVersion"] == "1.31.11" and after["oidcIssuerProfile"]["enabled"]
    issuers = [body["properties"]["oidcIssuerProfile"]["issuerURL"] for body in (blue, green)]
    assert issuers[0] != issuers[1]
    for name, addon in before["addonProfiles"].items():  # the same add-ons; AKS gives each its own identity
        assert {k: v for k, v in after["addonProfiles"][name].items() if k != "identity"} == {
            k: v for k, v in addon.items() if k != "identity"
        }
    pools_before = {p["name"]: p for p in before["agentPoolProfiles"]}
    for pool in after["agentPoolProfiles"]:
        ignored = ("nodeImageVersion", "powerState", "orchestratorVersion")
        kept = {k: v for k, v in pools_before[pool["name"]].items() if k not in ignored}
        assert {k: pool.get(k) for k in kept} == kept
        assert pool["orchestratorVersion"] == "1.31.11"
    assert green["properties"]["dnsPrefix"] != blue["properties"]["dnsPrefix"]
    assert green["properties"]["nodeResourceGroup"] != blue["properties"]["nodeResourceGroup"]
    assert green["tags"][ORIGIN_TAG] == "green" and green["tags"][RUN_TAG] == "r1"
    assert green["tags"]["app"] == blue_fixture["tags"]["app"]
    assert green["location"] == blue["location"] and green["sku"] == blue["sku"]


def test_two_minor_jump_is_refused_while_the_path_goes_hop_by_hop(world):
    clock, emulator, clients, estates, _ = world
    clusters = Clusters(clients)
    blue_id = next(r["id"] for r in estates["standard"].resources if "managedclusters" in r["type"].lower())
    with pytest.raises(PermanentError) as refused:
        clusters.start_control_plane_upgrade(blue_id, "1.33.6")
    assert refused.value.status == 400

    catalogue = Catalogue.from_arm(clusters.list_versions(ResourceId.parse(blue_id).subscription, "eastus2"))
    path = upgrade_path(Version.parse("1.31.8"), Version.parse("1.33.6"), catalogue)
    for hop in path:
        status = _wait(clock, emulator, clusters, blue_id, clusters.start_control_plane_upgrade(blue_id, str(hop)))
        assert status.status == "Succeeded", status
    assert summarize(clusters.get(blue_id)).version == "1.33.6"
    upgrades = [e for e in emulator.requests() if e["method"] == "PUT" and e["status"] < 300]
    assert len(upgrades) == len(path) == 2


def test_throttled_request_is_retried_by_the_sdk_and_both_show_in_the_log(world):
    clock, emulator, clients, estates, _ = world
    blue_id = next(r["id"] for r in estates["standard"].resources if "managedclusters" in r["type"].lower())
    emulator.clear_requests()
    emulator.inject_fault(status=429, count=1, method="GET", retry_after=7)
    before = clock.now()
    assert Clusters(clients).get(blue_id) is not None
    statuses = [e["status"] for e in emulator.requests()]
    assert statuses == [429, 200]
    assert clock.now() - before >= timedelta(seconds=7)  # Retry-After honoured, in virtual time


@pytest.mark.parametrize("kind", ["standard", "classic"])
def test_switch_keeps_an_enabled_origin_at_every_step(world, kind):
    clock, emulator, clients, estates, _ = world
    estate = estates[kind]
    provider = provider_for(clients, kind, estate.front_door_id)
    group = estate.origin_group
    target, other = estate.origins["green"], estate.origins["blue"]
    steps = []
    for _ in range(50):
        state = provider.read(group)
        assert sum(o.enabled for o in state.origins) >= 1
        step = next_switch_step(state, target, other)
        steps.append(step)
        if step == SwitchStep.DONE:
            break
        if step == SwitchStep.ENABLE_TARGET:
            provider.set_enabled(group, target, True)
        elif step == SwitchStep.DISABLE_OTHER:
            provider.set_enabled(group, other, False)
        else:
            clock.advance_to(emulator.next_event_time() or clock.now() + timedelta(seconds=30))
    assert steps[0] == SwitchStep.ENABLE_TARGET and steps[-1] == SwitchStep.DONE
    assert SwitchStep.WAIT_FOR_DEPLOYMENT in steps  # the other side is disabled only once green is deployed
    writes = [e for e in emulator.requests() if e["kind"] == "write" and e["enabled_origins"] is not None]
    assert len(writes) == 2 and all(e["enabled_origins"] >= 1 for e in writes)


def test_metrics_follow_routing_and_injected_errors(world):
    clock, emulator, clients, estates, _ = world
    estate = estates["standard"]
    fd = ("standard", estate.front_door_id)
    clock.advance(600)
    metrics = clients.metrics()
    blue = origin_error_rate(metrics, *fd, estate.hosts["blue"], clock.now(), timedelta(minutes=5))
    green = origin_error_rate(metrics, *fd, estate.hosts["green"], clock.now(), timedelta(minutes=5))
    assert blue.requests > 0 and blue.errors == 0
    assert green.requests == 0
    emulator.set_error_fraction(estate.blue_name, 0.25)
    clock.advance(300)
    spiked = origin_error_rate(metrics, *fd, estate.hosts["blue"], clock.now(), timedelta(minutes=5))
    assert spiked.rate == pytest.approx(0.25, abs=0.02)
