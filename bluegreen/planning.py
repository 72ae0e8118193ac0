"""The resolve step: from an environment's name to a concrete plan for one run.

Reads, in this order: the configuration, Front Door (which side is live: the source of truth),
the live cluster, and the versions the region offers. Nothing is changed here.
"""

from __future__ import annotations

from typing import Any

from bluegreen.arm_ids import ResourceId, managed_cluster_id
from bluegreen.azure import AzureClients
from bluegreen.clusters import COLOUR_TAG, ENVIRONMENT_TAG, Clusters, summarize
from bluegreen.config import Environment, load_environments
from bluegreen.decisions import derived_cluster_name, other_side
from bluegreen.errors import PermanentError
from bluegreen.traffic import FrontDoorRef, provider_for
from bluegreen.traffic.rules import live_side
from bluegreen.versions import Catalogue, Version, choose_target, upgrade_path


def load_environment(name: str) -> Environment:
    environment = load_environments().get(name)
    if environment is None:
        raise PermanentError("UnknownEnvironment", f"no environment named {name!r} in the configuration")
    return environment


def front_door_ref(env: Environment) -> FrontDoorRef:
    return FrontDoorRef(env.front_door.kind, env.front_door.id, env.front_door.origin_group)


def slot_cluster_id(env: Environment, side: str, clusters: Clusters, run_id: str | None = None) -> str:
    """The cluster serving `side`. With a fixed pair it is configured; with only blue's id, it is the
    newest cluster tagged for this environment and side (a previous run made it), else blue's id."""
    c = env.clusters
    if c.names is not None:
        assert c.subscription and c.resource_group  # guaranteed by the config model
        return str(managed_cluster_id(c.subscription, c.resource_group, c.names[side]))  # type: ignore[index]
    blue = ResourceId.parse(str(c.blue_id))
    if run_id is not None:  # the side that receives this run's new cluster
        return str(blue.sibling(derived_cluster_name(env.name, run_id)))
    tagged = [
        body
        for body in clusters.list_in_group(blue.subscription, blue.resource_group)
        if (body.get("tags") or {}).get(ENVIRONMENT_TAG) == env.name
        and (body.get("tags") or {}).get(COLOUR_TAG) == side
    ]
    if tagged:
        newest = max(tagged, key=lambda b: (b.get("systemData") or {}).get("createdAt") or b.get("name") or "")
        return str(newest["id"])
    if side == "blue":
        return str(blue)
    raise PermanentError("LiveClusterUnknown", f"no cluster is tagged as the {side} side of {env.name}")


def resolve_run_plan(clients: AzureClients, request: dict[str, Any]) -> dict[str, Any]:
    env = load_environment(request["environment"])
    clusters = Clusters(clients)
    ref = front_door_ref(env)
    traffic = provider_for(clients, ref).read()
    live = live_side(traffic, {str(side): key for side, key in env.front_door.origins.items()})
    idle = other_side(live)

    blue_id = slot_cluster_id(env, live, clusters)
    blue_body = clusters.get(blue_id)
    if blue_body is None:
        raise PermanentError("BlueNotFound", f"the live cluster {blue_id} does not exist")
    blue = summarize(blue_body)
    if blue["provisioning_state"] != "Succeeded":
        raise PermanentError("BlueNotReady", f"the live cluster is {blue['provisioning_state']}, not Succeeded")

    strategy = request.get("strategy") or env.strategy
    allow_preview = env.policy.allow_preview
    catalogue = Catalogue.from_arm(clusters.list_versions(ResourceId.parse(blue_id).subscription, blue["location"]))
    target = choose_target(request.get("target_version") or env.policy.target, catalogue, allow_preview=allow_preview)
    current = Version.parse(str(blue["version"]))
    path = upgrade_path(current, target, catalogue, allow_preview=allow_preview)
    if not path:
        raise PermanentError("AlreadyAtTarget", f"the live cluster already runs {target}")
    for pool, version in blue["pools"].items():
        if version and Version.parse(version) != current:
            raise PermanentError("PoolsOutOfStep", f"node pool {pool} runs {version}, the control plane {current}")

    green_id = slot_cluster_id(env, idle, clusters, run_id=None if env.clusters.names else request["run_id"])
    green_origin = traffic.origin(env.front_door.origins[idle])  # type: ignore[index]
    return {
        "run_id": request["run_id"],
        "environment": env.name,
        "strategy": strategy,
        "target_version": str(target),
        "clone_version": str(current) if strategy == "clone-then-upgrade" else str(target),
        "upgrade_path": [str(v) for v in path] if strategy == "clone-then-upgrade" else [],
        "version_path": [str(v) for v in path],
        "blue": {
            "side": live,
            "cluster_id": blue_id,
            "name": blue["name"],
            "version": blue["version"],
            "pools": sorted(blue["pools"]),
        },
        "green": {"side": idle, "cluster_id": green_id, "name": ResourceId.parse(green_id).name},
        "front_door": {
            "kind": ref.kind,
            "id": ref.resource_id,
            "group": ref.group,
            "origins": {"blue": env.front_door.origins[live], "green": env.front_door.origins[idle]},  # type: ignore[index]
            "green_address": env.front_door.green_address,
            "green_host": green_origin.host if green_origin else None,
        },
        "settings": {
            "poll_seconds": env.poll_seconds,
            "verify_timeout_minutes": env.verify_timeout_minutes,
            "smoke": env.smoke.model_dump(),
            "approval": env.approval.model_dump(),
            "bake": env.bake.model_dump(),
            "retire": env.retire.mode,
            "keep_failed_green": env.keep_failed_green,
        },
    }
