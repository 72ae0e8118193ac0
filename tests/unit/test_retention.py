"""Retention tags and the idle slot's verdict: what a run, the sweep and a revert may act on."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bluegreen.clusters import guard_refusal, retained_of
from bluegreen.config import parse_environments
from bluegreen.contract import ClusterTarget
from bluegreen.retention import expired
from bluegreen.slots import IdleSlot

BLUE = json.loads((Path(__file__).parents[1] / "fixtures" / "arm" / "managed-cluster-blue.json").read_text())
SUBSCRIPTION = "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23"
FRONT_DOOR = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd"
RETAINED = {
    "bluegreen-environment": "nod-prod",
    "bluegreen-retired-by": "nod-prod-4",
    "bluegreen-retired-as": "retired",
    "bluegreen-retain-until": "2026-11-23T08:34:30Z",
}


def tagged(tags: dict[str, str]) -> dict:
    body = copy.deepcopy(BLUE)
    body["tags"] = tags
    return body


def env(**retire: object):
    config = {
        "environment": [
            {
                "name": "nod-prod",
                "clusters": {"subscription": SUBSCRIPTION, "resource_group": "rg", "names": ["aks-a", "aks-b"]},
                "front_door": {
                    "kind": "standard",
                    "id": FRONT_DOOR,
                    "origin_group": "g",
                    "origins": ["a", "b"],
                },
                "retire": retire,
            }
        ]
    }
    return parse_environments(config).environment[0]


def test_a_cluster_is_retained_only_while_its_tags_say_this_environment_retired_it():
    retained = retained_of(tagged({**RETAINED, "team": "web"}), "nod-prod")
    assert retained is not None
    assert (retained.retired_by, retained.retired_as, retained.retained_until) == (
        "nod-prod-4",
        "retired",
        "2026-11-23T08:34:30Z",
    )
    assert retained_of(tagged(RETAINED), "shop") is None  # another environment's
    assert retained_of(tagged({"team": "web"}), "nod-prod") is None  # never retired
    assert retained_of(tagged({**RETAINED, "bluegreen-retain-until": "next week"}), "nod-prod") is None  # unreadable
    assert retained_of(tagged({**RETAINED, "bluegreen-retired-as": "forgotten"}), "nod-prod") is None


def test_expiry_is_at_the_tagged_instant_and_not_before():
    retained = retained_of(tagged(RETAINED), "nod-prod")
    assert retained is not None
    assert not expired(retained, datetime(2026, 11, 23, 8, 34, 29, tzinfo=UTC))
    assert expired(retained, datetime(2026, 11, 23, 8, 34, 30, tzinfo=UTC))


def test_the_guards_refuse_a_cluster_that_is_not_the_callers_to_remove():
    body = tagged({**RETAINED, "bluegreen-run": "nod-prod-3"})
    cid = str(body["id"])
    assert guard_refusal(ClusterTarget(cluster_id=cid, only_if_retired_by="nod-prod-4"), body) is None
    assert "not retained by run nod-prod-5" in str(
        guard_refusal(ClusterTarget(cluster_id=cid, only_if_retired_by="nod-prod-5"), body)
    )
    assert guard_refusal(ClusterTarget(cluster_id=cid, only_if_run="nod-prod-3"), body) is None
    assert "not created by run nod-prod-9" in str(
        guard_refusal(ClusterTarget(cluster_id=cid, only_if_run="nod-prod-9"), body)
    )


def slot(body: dict | None, fixed_names: bool = True) -> IdleSlot:
    return IdleSlot(origin="b", body=body, environment="nod-prod", fixed_names=fixed_names)


@pytest.mark.parametrize(
    ("body", "retire", "status", "name", "words"),
    [
        (None, {}, "ok", "IdleSlot", "has no cluster"),
        (tagged(RETAINED), {}, "warn", "IdleSlot", "is deleted first to make room (retire.reclaim_slot)"),
        (tagged(RETAINED), {"reclaim_slot": False}, "block", "IdleSlotRetained", "set retire.reclaim_slot = true"),
        (tagged({"team": "web"}), {}, "block", "GreenSlotOccupied", "was not created or retired by environment"),
        (
            tagged({"bluegreen-environment": "nod-prod", "bluegreen-run": "nod-prod-2"}),
            {},
            "block",
            "GreenSlotOccupied",
            "was left there by run nod-prod-2",
        ),
    ],
)
def test_the_idle_slot_is_free_reclaimed_or_refused_with_what_to_do(body, retire, status, name, words):
    check = slot(body).check(env(**retire), "nod-prod-5")
    assert (check.status, check.name) == (status, name)
    assert words in check.detail
    if status == "block":
        assert "az aks delete" in check.detail or "retire.reclaim_slot" in check.detail


def test_with_names_derived_from_the_run_an_occupant_is_named_but_does_not_block():
    check = slot(tagged({"team": "web"}), fixed_names=False).check(env(), "nod-prod-5")
    assert (check.status, check.name) == ("warn", "IdleSlot")


def test_retain_hours_is_bounded_and_named_in_errors():
    assert env().retire.retain_hours == 72 and env().retire.reclaim_slot is True
    with pytest.raises(Exception, match="retain_hours"):
        env(retain_hours=-1)
