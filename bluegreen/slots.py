"""An environment's two slots: the live one (Front Door sends it traffic) and the idle one a run needs.

The live slot is the one every origin group of the environment sends traffic to (they must agree). A slot is
named by its first group's origin (`front_door.origins`).

The idle slot is empty, holds a cluster this environment retired (reclaimable, revertible: its tags say
so), holds the green of a run, or holds something else, which no run ever touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId, managed_cluster_id
from bluegreen.azure import AzureClients
from bluegreen.clusters import ENVIRONMENT_TAG, ORIGIN_TAG, RUN_TAG, Clusters, retained_of, summarize
from bluegreen.config import Environment
from bluegreen.contract import Check, RetainedCluster, SlotState
from bluegreen.decisions import derived_cluster_name
from bluegreen.routing import common_live_slot
from bluegreen.traffic import FrontDoorRef, provider_for


def front_door_ref(env: Environment) -> FrontDoorRef:
    """The environment's Front Door and its first origin group (the one whose origins name the slots)."""
    return FrontDoorRef(env.front_door.kind, env.front_door.id, env.front_door.origin_group)


def slot_labels(env: Environment) -> list[str]:
    """How a message names each slot: its cluster (`clusters.names`), else the first group's origin."""
    if env.clusters.names is not None:
        return list(env.clusters.names)
    return [f"the slot of origin {origin}" for origin in env.front_door.origins]


def live_slot_of(clients: AzureClients, env: Environment) -> int:
    """The slot Front Door sends traffic to: every origin group must have exactly one of the environment's
    origins enabled, all in the same slot (PermanentError otherwise: TrafficSplit, NoLiveOrigin, GroupsDisagree)."""
    fd = env.front_door
    provider = provider_for(clients, fd.kind, fd.id)
    states = [provider.read(group.origin_group) for group in fd.groups]
    return common_live_slot(states, [group.origins for group in fd.groups], slot_labels(env))


def slot_cluster_id(env: Environment, slot: int, clusters: Clusters, run_id: str | None = None) -> str:
    """The cluster in slot `slot` (behind `front_door.origins[slot]`).

    With a fixed pair it is configured. With only `live_id`, the new cluster's name is derived from the
    run, and the cluster serving an origin is the newest one tagged with it (else `live_id`).
    """
    c = env.clusters
    if c.names is not None:
        assert c.subscription and c.resource_group  # guaranteed by the config model
        return str(managed_cluster_id(c.subscription, c.resource_group, c.names[slot]))
    live = ResourceId.parse(str(c.live_id))
    if run_id is not None:  # the slot that receives this run's new cluster
        return str(live.sibling(derived_cluster_name(env.name, run_id)))
    origin = env.front_door.origins[slot]
    tagged = [
        body
        for body in clusters.list_in_group(live.subscription, live.resource_group)
        if (body.get("tags") or {}).get(ENVIRONMENT_TAG) == env.name
        and str((body.get("tags") or {}).get(ORIGIN_TAG, "")).lower() == origin.lower()
    ]
    if tagged:
        newest = max(tagged, key=lambda b: (b.get("systemData") or {}).get("createdAt") or b.get("name") or "")
        return str(newest["id"])
    return str(live)


def live_cluster_id(clients: AzureClients, env: Environment) -> str:
    """The cluster serving the environment now: Front Door says which slot is live."""
    return slot_cluster_id(env, live_slot_of(clients, env), Clusters(clients))


def cluster_groups(env: Environment) -> tuple[str, str]:
    """The subscription and resource group an environment's clusters live in."""
    c = env.clusters
    if c.names is not None:
        assert c.subscription and c.resource_group  # guaranteed by the config model
        return c.subscription, c.resource_group
    live = ResourceId.parse(str(c.live_id))
    return live.subscription, live.resource_group


def retained_in(clusters: Clusters, env: Environment) -> list[RetainedCluster]:
    """Every cluster whose tags say `env` retained it, soonest deletion first."""
    subscription, group = cluster_groups(env)
    found = (retained_of(body, env.name) for body in clusters.list_in_group(subscription, group))
    return sorted((r for r in found if r is not None), key=lambda r: r.retained_until)


def remove_command(cluster_id: str) -> str:
    rid = ResourceId.parse(cluster_id)
    return f"az aks delete --subscription {rid.subscription} --resource-group {rid.resource_group} --name {rid.name}"


@dataclass(frozen=True)
class IdleSlot:
    """What sits behind the idle origin now."""

    origin: str
    body: dict[str, Any] | None  # None: empty
    environment: str
    fixed_names: bool  # clusters.names: green's name is the slot's, so an occupant blocks the create

    @property
    def retained(self) -> RetainedCluster | None:
        return retained_of(self.body, self.environment) if self.body is not None else None

    @property
    def run_tag(self) -> str | None:
        tags = (self.body or {}).get("tags") or {}
        return str(tags[RUN_TAG]) if tags.get(RUN_TAG) and tags.get(ENVIRONMENT_TAG) == self.environment else None

    def state(self) -> SlotState:
        if self.body is None:
            return SlotState(origin=self.origin, state="empty", detail="no cluster")
        summary = summarize(self.body)
        common = {
            "origin": self.origin,
            "cluster_id": str(self.body.get("id")),
            "name": summary.name,
            "version": summary.version,
            "power_state": summary.power_state,
        }
        retained = self.retained
        if retained is not None:
            detail = f"retained until {retained.retained_until} ({retained.retired_as}, by {retained.retired_by})"
            return SlotState(**common, state="retained", retained=retained, detail=detail)
        if self.run_tag is not None:
            return SlotState(**common, state="green", run_id=self.run_tag, detail=f"created by run {self.run_tag}")
        return SlotState(**common, state="occupied", detail=f"not created or retired by {self.environment}")

    def check(self, env: Environment, run_id: str) -> Check:
        """The plan's verdict on the slot for an upgrade: free, reclaimed first, or refused with what to do."""
        if self.body is None:
            return Check(name="IdleSlot", status="ok", detail=f"{self.origin} has no cluster: green goes there")
        name = str(self.body.get("name"))
        retained = self.retained
        if retained is not None:
            if env.retire.reclaim_slot:
                return Check(
                    name="IdleSlot",
                    status="warn",
                    detail=f"{name} ({retained.retired_as} by {retained.retired_by}, retained until "
                    f"{retained.retained_until}) is deleted first to make room (retire.reclaim_slot); "
                    "no revert to it after that",
                )
            return Check(
                name="IdleSlotRetained",
                status="block",
                detail=f"{name} is retained until {retained.retained_until} and retire.reclaim_slot is false: "
                f"wait until then, delete it ({remove_command(str(self.body['id']))}), "
                "or set retire.reclaim_slot = true",
            )
        if self.run_tag == run_id:
            return Check(name="IdleSlot", status="ok", detail=f"{name} is this run's green")
        why = (
            f"was left there by run {self.run_tag} (kept for investigation, or its removal failed)"
            if self.run_tag is not None
            else f"was not created or retired by environment {env.name}"
        )
        if not self.fixed_names:  # green gets a name of its own: the occupant stays, named in the plan
            return Check(name="IdleSlot", status="warn", detail=f"{name} {why}; it is left as it is")
        return Check(
            name="GreenSlotOccupied",
            status="block",
            detail=f"{name} sits in the idle slot and {why}: a run never touches it. Delete it if it is not "
            f"needed ({remove_command(str(self.body['id']))}), or give the environment other clusters.names",
        )


def idle_slot(env: Environment, clusters: Clusters, idle: int, blue_id: str, slot_id: str) -> IdleSlot:
    """The idle slot's occupant: the slot's cluster (`slot_id`), never blue itself."""
    body = None if slot_id.lower() == blue_id.lower() else clusters.get(slot_id)
    origin = env.front_door.origins[idle]
    return IdleSlot(origin=origin, body=body, environment=env.name, fixed_names=env.clusters.names is not None)


@dataclass(frozen=True)
class EnvironmentSlots:
    live: SlotState
    idle: SlotState
    retained: list[RetainedCluster]  # every cluster the environment retains, soonest deletion first


def environment_slots(clients: AzureClients, env: Environment) -> EnvironmentSlots:
    """What is live, what the idle slot holds, and what is retained until when: from reads alone."""
    live = live_slot_of(clients, env)
    clusters = Clusters(clients)
    blue_id = slot_cluster_id(env, live, clusters)
    blue = clusters.get(blue_id)
    summary = summarize(blue) if blue is not None else None
    live_state = SlotState(
        origin=env.front_door.origins[live],
        state="live",
        cluster_id=blue_id,
        name=ResourceId.parse(blue_id).name,
        version=summary.version if summary else None,
        power_state=summary.power_state if summary else None,
        detail="serves users" if blue is not None else "the live cluster does not exist",
    )
    idle = idle_slot(env, clusters, 1 - live, blue_id, slot_cluster_id(env, 1 - live, clusters))
    retained = [r for r in retained_in(clusters, env) if r.cluster_id.lower() != blue_id.lower()]
    return EnvironmentSlots(live=live_state, idle=idle.state(), retained=retained)
