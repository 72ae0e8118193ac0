"""The resolve step: from an environment's name to the plan of one run.

Reads, in this order: the configuration, Front Door (which slot is live: the source of truth), the
live cluster (blue), and the versions the region offers. Nothing is changed here.
"""

from __future__ import annotations

from bluegreen.arm_ids import ResourceId, managed_cluster_id
from bluegreen.azure import AzureClients
from bluegreen.clusters import ENVIRONMENT_TAG, ORIGIN_TAG, Clusters, summarize
from bluegreen.config import Environment, load_environments
from bluegreen.contract import (
    LiveCluster,
    NewCluster,
    OriginPair,
    Plan,
    ResolveInput,
    RunSettings,
    Strategy,
    TrafficPlan,
    WorkloadsPlan,
)
from bluegreen.decisions import derived_cluster_name
from bluegreen.errors import PermanentError
from bluegreen.routing import live_slot
from bluegreen.traffic import FrontDoorRef, provider_for
from bluegreen.versions import Catalogue, Version, choose_target, upgrade_path
from bluegreen.workloads import (
    EXTENSIONS,
    FLUX,
    Configurations,
    check_protected_references,
    copyable_extensions,
    resolve_protected,
)


def load_environment(name: str) -> Environment:
    environment = load_environments().get(name)
    if environment is None:
        raise PermanentError("UnknownEnvironment", f"no environment named {name!r} in the configuration")
    return environment


def front_door_ref(env: Environment) -> FrontDoorRef:
    return FrontDoorRef(env.front_door.kind, env.front_door.id, env.front_door.origin_group)


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
    ref = front_door_ref(env)
    traffic = provider_for(clients, ref.kind, ref.resource_id).read(ref.group)
    return slot_cluster_id(env, live_slot(traffic, env.front_door.origins), Clusters(clients))


def resolve_run_plan(clients: AzureClients, request: ResolveInput) -> Plan:
    env = load_environment(request.request.environment)
    clusters = Clusters(clients)
    ref = front_door_ref(env)
    traffic = provider_for(clients, ref.kind, ref.resource_id).read(ref.group)
    live = live_slot(traffic, env.front_door.origins)
    idle = 1 - live

    blue_id = slot_cluster_id(env, live, clusters)
    blue_body = clusters.get(blue_id)
    if blue_body is None:
        raise PermanentError("BlueNotFound", f"the live cluster {blue_id} does not exist")
    blue = summarize(blue_body)
    if blue.provisioning_state != "Succeeded":
        raise PermanentError("BlueNotReady", f"the live cluster is {blue.provisioning_state}, not Succeeded")

    strategy = request.request.strategy or Strategy(env.strategy)
    allow_preview = env.policy.allow_preview
    catalogue = Catalogue.from_arm(
        clusters.list_versions(ResourceId.parse(blue_id).subscription, str(blue.location or ""))
    )
    target = choose_target(request.request.target_version or env.policy.target, catalogue, allow_preview=allow_preview)
    current = Version.parse(str(blue.version))
    path = upgrade_path(current, target, catalogue, allow_preview=allow_preview)
    if not path:
        raise PermanentError("AlreadyAtTarget", f"the live cluster already runs {target}")
    for pool, version in blue.pools.items():
        if version and Version.parse(version) != current:
            raise PermanentError("PoolsOutOfStep", f"node pool {pool} runs {version}, the control plane {current}")

    green_id = slot_cluster_id(env, idle, clusters, run_id=None if env.clusters.names else request.run_id)
    workloads = plan_workloads(clients, env, blue_id)
    clone_then_upgrade = strategy == Strategy.CLONE_THEN_UPGRADE
    return Plan(
        run_id=request.run_id,
        environment=env.name,
        strategy=strategy,
        target_version=str(target),
        clone_version=str(current) if clone_then_upgrade else str(target),
        upgrade_path=[str(v) for v in path] if clone_then_upgrade else [],
        version_path=[str(v) for v in path],
        blue=LiveCluster(cluster_id=blue_id, name=str(blue.name), version=str(blue.version), pools=sorted(blue.pools)),
        green=NewCluster(cluster_id=green_id, name=ResourceId.parse(green_id).name),
        traffic=TrafficPlan(
            kind=ref.kind,
            front_door_id=ref.resource_id,
            groups=[OriginPair(group=ref.group, blue=env.front_door.origins[live], green=env.front_door.origins[idle])],
            green_address=env.front_door.green_address,
        ),
        settings=RunSettings(
            poll_seconds=env.poll_seconds,
            verify_timeout_minutes=env.verify_timeout_minutes,
            smoke=env.smoke,
            approval=env.approval,
            bake=env.bake,
            retire=env.retire.mode,
            after_rollback=env.retire.after_rollback,
            keep_failed_green=env.keep_failed_green,
            switch_timeout_minutes=env.switch.timeout_minutes,
            workloads=workloads,
        ),
    )


def plan_workloads(clients: AzureClients, env: Environment, blue_id: str) -> WorkloadsPlan:
    """How the applications will reach green, checked before anything is written.

    gitops (the default when blue has Flux configurations): blue's extensions and Flux configurations,
    every protected setting they need named in the configuration and readable now. With no Flux on
    blue the mode must be chosen: an empty green is never the silent default.
    """
    config = env.workloads
    mode, extensions, flux = config.mode, [], []
    if mode in (None, "gitops"):
        configurations = Configurations(clients)
        flux = configurations.list(blue_id, FLUX)
        extensions = copyable_extensions(configurations.list(blue_id, EXTENSIONS))
        if mode is None and not flux:
            raise PermanentError(
                "WorkloadsModeRequired",
                "blue has no Flux configurations: set [workloads] mode = pipeline (the team's pipeline deploys to "
                "green) or mode = none (a cluster without applications)",
            )
        mode = "gitops"
        check_protected_references(flux, config.protected_settings)
        for references in config.protected_settings.values():
            resolve_protected(clients, references)  # readable now, or the run stops before any write
    pipeline = config.pipeline
    if mode == "pipeline" and pipeline is not None:
        resolve_protected(clients, {"hmac": pipeline.secret})
    return WorkloadsPlan(
        mode=mode,
        timeout_minutes=config.timeout_minutes,
        system_namespaces=config.system_namespaces,
        protected_settings=config.protected_settings,
        extensions=[str(e["name"]) for e in extensions],
        flux_configurations=[str(f["name"]) for f in flux],
        pipeline_url=pipeline.url if pipeline else None,
        pipeline_secret=pipeline.secret if pipeline else None,
        pipeline_callers=pipeline.callers if pipeline else [],
    )
