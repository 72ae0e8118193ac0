"""ResourceId.parse is strict: exactly /subscriptions/{s}/resourceGroups/{g}/providers/{ns}/{type}/{name}..."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bluegreen.arm_ids import ResourceId, managed_cluster_id, same_resource

CLUSTER = "/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-blue"
ORIGIN = "/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.Cdn/profiles/afd/originGroups/og/origins/blue"


def test_a_cluster_id_parses_into_its_parts() -> None:
    rid = ResourceId.parse(CLUSTER)
    assert (rid.subscription, rid.resource_group, rid.provider) == ("sub-1", "rg-prod", "Microsoft.ContainerService")
    assert rid.type == "Microsoft.ContainerService/managedClusters" and rid.name == "aks-blue"
    assert rid == managed_cluster_id("sub-1", "rg-prod", "aks-blue")


def test_child_resources_are_type_name_pairs() -> None:
    rid = ResourceId.parse(ORIGIN)
    assert rid.segments == (("profiles", "afd"), ("originGroups", "og"), ("origins", "blue"))
    assert str(rid) == ORIGIN


def test_keywords_are_case_insensitive_and_one_trailing_slash_is_tolerated() -> None:
    shouted = CLUSTER.replace("subscriptions", "SUBSCRIPTIONS").replace("resourceGroups", "resourcegroups")
    assert ResourceId.parse(shouted.replace("providers", "Providers")) == ResourceId.parse(CLUSTER)
    assert ResourceId.parse(CLUSTER + "/") == ResourceId.parse(CLUSTER)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/junk" + CLUSTER, "segment 1 must be 'subscriptions'"),
        (CLUSTER.removeprefix("/"), "must start with /subscriptions/"),
        ("/tenants/t" + CLUSTER, "segment 1 must be 'subscriptions'"),
        (CLUSTER.replace("/resourceGroups/", "/groups/"), "segment 3 must be 'resourcegroups'"),
        (CLUSTER.replace("/providers/", "/provider/"), "segment 5 must be 'providers'"),
        (CLUSTER.replace("/resourceGroups/", "//resourceGroups/"), "empty segment"),
        (CLUSTER + "//", "empty segment"),
        ("/subscriptions/sub-1/resourceGroups/rg-prod", "expected /subscriptions/{id}/resourceGroups"),
        ("/subscriptions/sub-1/resourceGroups/rg-prod/providers/Microsoft.ContainerService", "expected"),
        (CLUSTER + "/agentPools", "{type}/{name} pairs"),
        (CLUSTER.replace("/providers/", "/providers/extra/"), "{type}/{name} pairs"),
        (" " + CLUSTER, "must start with /subscriptions/"),
        (CLUSTER + " ", "whitespace or control characters"),
        (CLUSTER.replace("aks-blue", "aks\nblue"), "whitespace or control characters"),
        ("not-an-arm-id", "must start with /subscriptions/"),
        ("", "must start with /subscriptions/"),
    ],
)
def test_anything_else_is_refused_with_the_reason(value: str, reason: str) -> None:
    with pytest.raises(ValueError) as refused:
        ResourceId.parse(value)
    assert reason in str(refused.value)


def test_a_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ValueError, match="not a string"):
        ResourceId.parse(None)  # type: ignore[arg-type]


def test_same_resource_ignores_case_and_a_trailing_slash() -> None:
    assert same_resource(CLUSTER.upper(), CLUSTER + "/")
    assert not same_resource(CLUSTER, CLUSTER.replace("aks-blue", "aks-green"))


names = st.text(st.characters(categories=["L", "Nd"], max_codepoint=0x7F) | st.sampled_from("-_.()"), min_size=1)
pairs = st.lists(st.tuples(names, names), min_size=1, max_size=4)


@given(subscription=names, group=names, namespace=names, segments=pairs)
def test_every_well_formed_id_round_trips(subscription: str, group: str, namespace: str, segments: list) -> None:
    rid = ResourceId(subscription, group, namespace, tuple(segments))
    assert ResourceId.parse(str(rid)) == rid


@given(subscription=names, group=names, segments=pairs, prefix=names)
def test_a_prefix_before_subscriptions_is_never_an_id(
    subscription: str, group: str, segments: list, prefix: str
) -> None:
    rid = ResourceId(subscription, group, "Microsoft.ContainerService", tuple(segments))
    with pytest.raises(ValueError, match="not an ARM resource id"):
        ResourceId.parse(f"/{prefix}{rid}")
