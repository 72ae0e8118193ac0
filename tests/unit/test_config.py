"""The environments file: the checked-in one loads; a bad one names each bad field."""

import json
from pathlib import Path

import pytest

from bluegreen.config import ConfigError, load_environments, parse_environments

ROOT = Path(__file__).resolve().parents[2]
FD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd"


def _env(**overrides):
    env = {
        "name": "shop",
        "clusters": {"subscription": "s", "resource_group": "rg", "names": ["aks-a", "aks-b"]},
        "front_door": {"id": FD, "origin_group": "og", "origins": ["origin-a", "origin-b"]},
    }
    env.update(overrides)
    return {"environment": [env]}


def test_checked_in_environments_file_is_valid():
    envs = load_environments(ROOT / "environments.toml")
    assert [e.name for e in envs.environment] == ["nod-prod"]
    env = envs.environment[0]
    assert env.approval.timeout_hours == 24 and env.bake.window_minutes == 30 and env.retire.mode == "stop"


def test_defaults_follow_the_runbook():
    env = parse_environments(_env()).environment[0]
    assert env.strategy == "clone-then-upgrade"
    assert env.bake.interval_minutes == 1
    assert env.switch.timeout_minutes == 30
    assert env.policy.target == "latest" and not env.policy.allow_preview


def test_slots_pair_clusters_and_origins_by_position_and_live_id_is_the_other_form():
    env = parse_environments(_env()).environment[0]
    assert list(zip(env.clusters.names, env.front_door.origins, strict=True)) == [
        ("aks-a", "origin-a"),
        ("aks-b", "origin-b"),
    ]
    live = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks-a"
    derived = parse_environments(_env(clusters={"live_id": live})).environment[0]
    assert derived.clusters.names is None and derived.clusters.location_resource_group == "rg"
    with pytest.raises(ConfigError, match="either"):
        parse_environments(_env(clusters={"live_id": live, "names": ["aks-a", "aks-b"]}))


@pytest.mark.parametrize(
    ("override", "field"),
    [
        (
            {"front_door": {"kind": "azure", "id": FD, "origin_group": "og", "origins": ["a", "b"]}},
            "front_door.kind",
        ),
        ({"bake": {"window_minutes": 5, "interval_minutes": 10}}, "bake"),
        ({"retire": {"mode": "shred"}}, "retire.mode"),
        ({"clusters": {"names": ["aks-a", "aks-a"], "subscription": "s", "resource_group": "rg"}}, "clusters"),
        ({"clusters": {"names": ["aks-a"], "subscription": "s", "resource_group": "rg"}}, "clusters"),
        ({"front_door": {"id": FD, "origin_group": "og", "origins": ["a", "b", "c"]}}, "front_door"),
        (
            {"front_door": {"id": "not-an-id", "origin_group": "og", "origins": ["a", "b"]}},
            "front_door.id",
        ),
        ({"approval": {"timeout_hours": 0}}, "approval.timeout_hours"),
        ({"name": "Shop Prod"}, "name"),
        ({"colour": "teal"}, "colour"),
    ],
)
def test_bad_field_is_named(override, field):
    with pytest.raises(ConfigError) as raised:
        parse_environments(_env(**override), "envs.toml")
    assert f"environment.0.{field}" in str(raised.value)
    assert str(raised.value).startswith("envs.toml: ")


def test_classic_front_door_needs_a_classic_id():
    with pytest.raises(ConfigError, match=r"microsoft\.network/frontdoors"):
        parse_environments(
            _env(
                front_door={
                    "kind": "classic",
                    "id": FD,
                    "origin_group": "web",
                    "origins": ["b.example", "g.example"],
                }
            )
        )


def test_missing_and_malformed_files_are_reported_not_raised_raw(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_environments(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[environment]\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_environments(bad)
    js = tmp_path / "envs.json"
    js.write_text(json.dumps(_env()))
    assert load_environments(js).get("shop") is not None


@pytest.mark.parametrize("name", ["shop\n", "shop-"])
def test_environment_and_cluster_names_match_whole(name):
    with pytest.raises(ConfigError, match=r"environment\.0\.name"):
        parse_environments(_env(name=name))
    with pytest.raises(ConfigError, match="clusters"):
        parse_environments(_env(clusters={"subscription": "s", "resource_group": "rg", "names": [f"aks{name}", "b-1"]}))
