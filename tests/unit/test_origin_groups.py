"""Several origin groups (classic: backend pools) per environment: the configuration's two forms, the live slot
every group must agree on, and the pre-check a gradual switch needs in each group.

The Front Door parts use the real SDK clients against the emulated Azure (no SDK mocks), seeded with the
rehearsal's estate of three groups: og-web (blue, green), og-api (api-blue, api-green), og-admin (...).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bluegreen import azure as azure_module
from bluegreen.azure import AzureClients, AzureSettings
from bluegreen.check_config import describe
from bluegreen.config import ConfigError, Environment, parse_environments
from bluegreen.contract import GroupState, OriginState, SmokeProbe, VerifyInput
from bluegreen.errors import PermanentError
from bluegreen.planning import plan_report
from bluegreen.routing import common_live_slot
from bluegreen.slots import environment_slots, live_cluster_id
from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.rehearsal.world import Estate, bind_hosts, build_estate, environment_config, load_blue

FD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd"
CLASSIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/frontDoors/fd"
ARM_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arm"


def _env(front_door: dict[str, Any]) -> dict[str, Any]:
    env = {
        "name": "shop",
        "clusters": {"subscription": "s", "resource_group": "rg", "names": ["aks-a", "aks-b"]},
        "front_door": front_door,
    }
    return {"environment": [env]}


def _groups(*groups: tuple[str, list[str]]) -> list[dict[str, Any]]:
    return [{"origin_group": name, "origins": origins} for name, origins in groups]


# ---- configuration


def test_one_origin_group_is_listed_in_groups_too():
    fd = parse_environments(_env({"id": FD, "origin_group": "og", "origins": ["a", "b"]})).environment[0].front_door
    assert [(g.origin_group, g.origins) for g in fd.groups] == [("og", ["a", "b"])]
    assert (fd.origin_group, fd.origins) == ("og", ["a", "b"])


def test_several_groups_pair_their_origins_with_the_clusters_and_the_first_names_the_slots():
    groups = _groups(("og-web", ["web-a", "web-b"]), ("og-api", ["api-a", "api-b"]), ("og-admin", ["adm-a", "adm-b"]))
    env = parse_environments(_env({"id": FD, "groups": groups})).environment[0]
    fd = env.front_door
    assert [g.origin_group for g in fd.groups] == ["og-web", "og-api", "og-admin"]
    assert (fd.origin_group, fd.origins) == ("og-web", ["web-a", "web-b"])
    assert env.clusters.names is not None
    assert [dict(zip(env.clusters.names, g.origins, strict=True)) for g in fd.groups][1] == {
        "aks-a": "api-a",
        "aks-b": "api-b",
    }


def test_a_configuration_dumped_as_given_loads_again():
    # The rehearsal's CLI rewrites a team's environment from model_dump(exclude_unset=True).
    for front_door in (
        {"id": FD, "origin_group": "og", "origins": ["a", "b"]},
        {"id": FD, "groups": _groups(("og-web", ["a", "b"]), ("og-api", ["c", "d"]))},
    ):
        env = parse_environments(_env(front_door)).environment[0]
        again = parse_environments({"environment": [env.model_dump(mode="json", exclude_unset=True)]})
        assert again.environment[0].front_door == env.front_door


@pytest.mark.parametrize(
    ("front_door", "field", "says"),
    [
        ({"id": FD}, "front_door", "missing `origin_group` and `origins`"),
        ({"id": FD, "origin_group": "og"}, "front_door", "missing `origins`"),
        (
            {"id": FD, "origin_group": "og", "origins": ["a", "b"], "groups": _groups(("og-api", ["c", "d"]))},
            "front_door",
            "not both",
        ),
        ({"id": FD, "groups": []}, "front_door", "at least one origin group"),
        (
            {"id": FD, "groups": _groups(("og-web", ["a", "b"]), ("OG-Web", ["c", "d"]))},
            "front_door",
            "`groups` names og-web more than once",
        ),
        (
            {"id": FD, "groups": _groups(("og-web", ["a", "b"]), ("og-api", ["c", "C"]))},
            "front_door.groups.1",
            "differ",
        ),
        ({"id": FD, "groups": _groups(("og-web", ["a"]))}, "front_door.groups.0", "exactly two origins"),
        ({"id": FD, "groups": [{"origins": ["a", "b"]}]}, "front_door.groups.0.origin_group", "Field required"),
        (
            {"id": FD, "groups": [{"origin_group": "og", "origins": ["a", "b"], "weight": 3}]},
            "front_door.groups.0.weight",
            "",
        ),
        (
            {
                "kind": "classic",
                "id": CLASSIC,
                "groups": _groups(("web", ["a.example", "b.example"]), ("api", ["b.example", "c.example"])),
            },
            "front_door",
            "backend b.example is origins[1] of pool web but origins[0] of pool api",
        ),
    ],
)
def test_a_bad_front_door_is_named_by_its_field(front_door, field, says):
    with pytest.raises(ConfigError) as raised:
        parse_environments(_env(front_door), "envs.toml")
    assert f"envs.toml: environment.0.{field}: " in str(raised.value)
    assert says in str(raised.value)


def test_check_config_lists_every_group():
    groups = _groups(("og-web", ["a", "b"]), ("og-api", ["c", "d"]))
    line = describe(parse_environments(_env({"id": FD, "groups": groups})).environment[0])
    assert "Front Door standard afd, origin groups og-web (origins a, b); og-api (origins c, d)" in line
    single = describe(parse_environments(_env({"id": FD, "origin_group": "og", "origins": ["a", "b"]})).environment[0])
    assert "origin group og (origins a, b)" in single


# ---- the live slot: every group must serve the same one


def _state(group: str, enabled: tuple[bool, bool], keys: tuple[str, str] = ("a", "b")) -> GroupState:
    return GroupState(
        group=group,
        origins=[
            OriginState(key=key, host=f"{key}.example", enabled=on, deployed=True)
            for key, on in zip(keys, enabled, strict=True)
        ],
    )


def test_groups_that_agree_give_their_slot_and_groups_that_do_not_are_refused_with_what_each_serves():
    origins = [["a", "b"], ["c", "d"], ["e", "f"]]
    slots = ["aks-a", "aks-b"]
    agree = [
        _state("og-web", (False, True)),
        _state("og-api", (False, True), ("c", "d")),
        _state("x", (False, True), ("e", "f")),
    ]
    assert common_live_slot(agree, origins, slots) == 1
    disagree = [
        _state("og-web", (True, False)),
        _state("og-api", (False, True), ("c", "d")),
        _state("x", (True, False), ("e", "f")),
    ]
    with pytest.raises(PermanentError) as raised:
        common_live_slot(disagree, origins, slots)
    assert raised.value.code == "GroupsDisagree"
    message = raised.value.message
    assert (
        "og-web sends traffic to a (aks-a); og-api sends traffic to d (aks-b); x sends traffic to e (aks-a)" in message
    )
    assert "in og-api, enable the origin in front of aks-a (as og-web does)" in message
    assert "(or the opposite, toward aks-b)" in message
    with pytest.raises(PermanentError, match="all enabled in 'og-api'") as split:
        common_live_slot([agree[0], _state("og-api", (True, True), ("c", "d")), agree[2]], origins, slots)
    assert split.value.code == "TrafficSplit"


# ---- against the emulated Azure: the plan, the environment's status, the TrafficWeights check


class Stack:
    """The rehearsal's estate with `groups` origin groups in the emulated Azure, and its environment."""

    def __init__(
        self,
        kind: str,
        groups: int = 3,
        edit: Callable[[list[dict[str, Any]]], None] | None = None,
        switch: dict[str, Any] | None = None,
        front_door: dict[str, Any] | None = None,
    ) -> None:
        self.clock = VirtualClock()
        self.estate: Estate = build_estate(load_blue(None), kind, origin_groups=groups)
        seed = copy.deepcopy(self.estate.resources)
        if edit is not None:
            edit(seed)
        self.emulator = AzureEmulator(clock=self.clock, seed=seed).start()
        bind_hosts(self.emulator, self.estate)
        config = environment_config(self.estate, "clone-then-upgrade")
        if switch is not None:
            config["environment"][0]["switch"] = switch
        if front_door is not None:
            config["environment"][0]["front_door"] = front_door
        self.env: Environment = parse_environments(config).environment[0]
        self.settings = AzureSettings.from_env(self.emulator.app_settings())
        self.clients = AzureClients(self.settings, read_only=True)

    def checks(self, name: str) -> list[Any]:
        return [c for c in plan_report(self.clients, self.env).checks if c.name == name]


@pytest.fixture
def stack():
    made: list[Stack] = []

    def build(kind: str = "standard", **options: Any) -> Stack:
        made.append(Stack(kind, **options))
        return made[-1]

    yield build
    for world in made:
        world.emulator.stop()


def _body(seed: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    return next(r for r in seed if str(r.get("id", "")).lower().endswith(suffix.lower()))


def _swap_std(group: str) -> Callable[[list[dict[str, Any]]], None]:
    """The group's green origin on and its blue one off: that group serves the other slot."""

    def edit(seed: list[dict[str, Any]]) -> None:
        for body in seed:
            if f"/originGroups/{group}/origins/".lower() in str(body.get("id", "")).lower():
                props = body["properties"]
                props["enabledState"] = "Disabled" if props["enabledState"] == "Enabled" else "Enabled"

    return edit


def _swap_classic(pool: str) -> Callable[[list[dict[str, Any]]], None]:
    def edit(seed: list[dict[str, Any]]) -> None:
        front_door = next(r for r in seed if r.get("type") == "Microsoft.Network/frontDoors")
        for backend_pool in front_door["properties"]["backendPools"]:
            if backend_pool["name"] == pool:
                for backend in backend_pool["properties"]["backends"]:
                    backend["enabledState"] = "Disabled" if backend["enabledState"] == "Enabled" else "Enabled"

    return edit


@pytest.mark.parametrize("kind", ["standard", "classic"])
def test_the_plan_switches_every_group_from_blues_origin_to_greens(stack, kind):
    world = stack(kind)
    report = plan_report(world.clients, world.env)
    assert report.ok, [c for c in report.checks if c.status != "ok"]
    (origins,) = [c for c in report.checks if c.name == "FrontDoorOrigins"]
    for group in world.estate.front_door_groups():
        blue, green = group.origins["blue"], group.origins["green"]
        assert f"{group.name}: {blue} serves blue, {green} will serve green" in origins.detail
    # Make-before-break in every group: green's three origins on first, then blue's three off.
    front_door_writes = [w.why for w in report.writes if "origin" in w.why][-6:]
    assert [w.startswith("enable green's") for w in front_door_writes] == [True] * 3 + [False] * 3
    assert report.live_origin == world.estate.origins["blue"]


@pytest.mark.parametrize(
    ("kind", "swap", "group"), [("standard", _swap_std, "og-api"), ("classic", _swap_classic, "api")]
)
def test_groups_serving_different_clusters_refuse_the_plan_and_the_status_says_so_too(stack, kind, swap, group):
    world = stack(kind, edit=swap(group))
    with pytest.raises(PermanentError) as raised:
        plan_report(world.clients, world.env)
    assert raised.value.code == "GroupsDisagree"
    api = next(g for g in world.estate.front_door_groups() if g.name == group)
    assert f"{group} sends traffic to {api.origins['green']} ({world.estate.green_name})" in raised.value.message
    # Whatever else reads "the live slot" reads every group the same way.
    for read in (environment_slots, live_cluster_id):
        with pytest.raises(PermanentError, match="do not serve the same cluster") as again:
            read(world.clients, world.env)
        assert again.value.code == "GroupsDisagree"


def test_the_environments_status_is_the_slot_every_group_serves(stack):
    world = stack("standard")
    slots = environment_slots(world.clients, world.env)
    assert (slots.live.origin, slots.live.name) == ("blue", world.estate.blue_name)
    assert (slots.idle.origin, slots.idle.state) == ("green", "empty")


def test_a_split_group_is_refused_naming_the_group(stack):
    def both_on(seed: list[dict[str, Any]]) -> None:
        _body(seed, "/originGroups/og-admin/origins/admin-green")["properties"]["enabledState"] = "Enabled"

    world = stack("standard", edit=both_on)
    with pytest.raises(PermanentError, match="admin-blue, admin-green are all enabled in 'og-admin'") as raised:
        plan_report(world.clients, world.env)
    assert raised.value.code == "TrafficSplit"


GRADUAL = {"mode": "gradual"}


@pytest.mark.parametrize("kind", ["standard", "classic"])
def test_a_gradual_switch_checks_the_latency_window_of_every_group(stack, kind):
    world = stack(kind, switch=GRADUAL)
    weights = world.checks("TrafficWeights")
    assert [(c.status, c.detail.split(":")[0]) for c in weights] == [
        ("ok", g.name) for g in world.estate.front_door_groups()
    ]
    assert all("within 50 ms of the fastest" in c.detail for c in weights)


def test_no_extra_front_door_read_unless_the_switch_is_gradual(stack):
    world = stack("standard")
    world.emulator.clear_requests()
    assert world.checks("TrafficWeights") == []
    group_reads = [r["path"] for r in world.emulator.requests() if r["path"].lower().rstrip("/").endswith("/og-api")]
    assert group_reads == []


def test_a_zero_latency_window_blocks_a_gradual_switch_naming_the_group_the_property_and_the_value(stack):
    def zero_and_sticky(seed: list[dict[str, Any]]) -> None:
        _body(seed, "/originGroups/og-api")["properties"]["loadBalancingSettings"][
            "additionalLatencyInMilliseconds"
        ] = 0
        del _body(seed, "/originGroups/og-admin")["properties"]["loadBalancingSettings"][
            "additionalLatencyInMilliseconds"
        ]
        _body(seed, "/originGroups/og-web")["properties"]["sessionAffinityState"] = "Enabled"

    world = stack("standard", edit=zero_and_sticky, switch=GRADUAL)
    report = plan_report(world.clients, world.env)
    assert not report.ok
    web, api, admin = [c for c in report.checks if c.name == "TrafficWeights"]
    assert api.status == "block"
    assert api.detail.startswith("og-api: the latency window is 0")
    assert "loadBalancingSettings.additionalLatencyInMilliseconds" in api.detail and "set it to 50 (ms)" in api.detail
    assert admin.status == "block" and "the latency window is not set" in admin.detail
    assert web.status == "warn"
    assert "session affinity is on (origin group og-web: sessionAffinityState)" in web.detail
    assert "stay on blue until blue's origin is disabled" in web.detail


def test_a_classic_pool_whose_load_balancing_settings_have_no_window_blocks_a_gradual_switch(stack):
    # The real classic body (tests/fixtures/arm): one pool `web`, loadBalancingSettings `lb` at 0 ms.
    real = json.loads((ARM_FIXTURES / "front-door-classic.json").read_text())
    pool = real["properties"]["backendPools"][0]
    addresses = [b["address"] for b in pool["properties"]["backends"]]

    def use_the_real_body(seed: list[dict[str, Any]]) -> None:
        seed[:] = [real if r.get("type") == "Microsoft.Network/frontDoors" else r for r in seed]

    world = stack(
        "classic",
        groups=1,
        edit=use_the_real_body,
        switch=GRADUAL,
        front_door={"kind": "classic", "id": real["id"], "origin_group": pool["name"], "origins": addresses},
    )
    (weights,) = world.checks("TrafficWeights")
    assert weights.status == "block"
    assert weights.detail.startswith("web: the latency window is 0 (backend pool web: loadBalancingSettings lb, ")
    assert "additionalLatencyMilliseconds" in weights.detail and "set it to 50 (ms)" in weights.detail


def test_session_affinity_on_a_classic_pools_frontend_endpoint_is_a_warning(stack):
    def sticky(seed: list[dict[str, Any]]) -> None:
        front_door = next(r for r in seed if r.get("type") == "Microsoft.Network/frontDoors")
        front_door["properties"]["frontendEndpoints"][0]["properties"]["sessionAffinityEnabledState"] = "Enabled"

    world = stack("classic", edit=sticky, switch=GRADUAL)
    weights = world.checks("TrafficWeights")
    assert [c.status for c in weights] == ["warn"] * 3  # every pool is routed from the one endpoint
    assert "frontend endpoint(s) default: sessionAffinityEnabledState" in weights[1].detail


# ---- verification: green's origin in every group


def test_the_smoke_probe_tries_greens_host_in_every_group(stack, monkeypatch):
    from activities.verify import verify_green
    from bluegreen.clusters import Clusters
    from bluegreen.planning import read_live_side

    world = stack("standard")
    for key, value in world.emulator.app_settings().items():
        monkeypatch.setenv(key, value)
    azure_module.reset_clients()
    try:
        traffic = read_live_side(world.clients, world.env, Clusters(world.clients)).traffic_plan(world.env)
        web, api, admin = world.estate.front_door_groups()
        request = VerifyInput(
            cluster_id="/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/z",
            target_version="1.34.2",
            traffic=traffic,
            smoke=SmokeProbe(),
        )
        # No green cluster yet: its hosts answer 503 unless told otherwise. og-web's answers 200: og-api's decides.
        world.emulator.fail_probes(web.hosts["green"], status=200)
        report = verify_green.fn(request)
        assert report.smoke is not None and not report.smoke.ok and api.hosts["green"] in report.smoke.url
        world.emulator.fail_probes(api.hosts["green"], status=200)
        world.emulator.fail_probes(admin.hosts["green"], status=200)
        report = verify_green.fn(request)
        assert report.smoke is not None and report.smoke.ok and admin.hosts["green"] in report.smoke.url
    finally:
        azure_module.reset_clients()
