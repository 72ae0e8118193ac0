"""The resolve step: from an environment's name to the plan of one run.

Reads, in this order: the configuration, Front Door (which slot is live: the source of truth), the
live cluster (blue), and the versions the region offers. Nothing is changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId, managed_cluster_id
from bluegreen.azure import AzureClients
from bluegreen.clusters import ENVIRONMENT_TAG, ORIGIN_TAG, Clusters, summarize
from bluegreen.config import Environment, load_environments
from bluegreen.contract import (
    Check,
    ClusterSummary,
    GreenOverrides,
    Inheritance,
    LiveCluster,
    NewCluster,
    OriginPair,
    Plan,
    PlannedWrite,
    PlanReport,
    ResolveInput,
    RunRequest,
    RunSettings,
    RunTrigger,
    Strategy,
    TrafficPlan,
    WorkloadsPlan,
)
from bluegreen.decisions import derived_cluster_name
from bluegreen.errors import PermanentError
from bluegreen.green import define
from bluegreen.inheritance import Federations, Grants, role_label
from bluegreen.prechecks import Capacity
from bluegreen.routing import live_slot
from bluegreen.traffic import FrontDoorRef, provider_for
from bluegreen.versions import Catalogue, Version, choose_target, plan_versions
from bluegreen.wiring import Wiring
from bluegreen.workloads import (
    EXTENSIONS,
    FLUX,
    Configurations,
    check_protected_references,
    copyable_extensions,
    resolve_protected,
)

# What a requested target version is refused for: not offered, older than blue, blue already there.
VERSION_REFUSALS = frozenset({"VersionNotOffered", "DowngradeNotAllowed", "AlreadyAtTarget", "UnsupportedUpgrade"})


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


@dataclass(frozen=True)
class Preview:
    """A run's plan, and what `plan` shows besides: green's definition as a diff, and the writes to come."""

    plan: Plan
    report: PlanReport

    @property
    def blocks(self) -> list[Check]:
        return [c for c in self.plan.checks if c.status == "block"]


def resolve_run_plan(clients: AzureClients, request: ResolveInput) -> Plan:
    """The run's plan, or PermanentError naming every blocking check: nothing has been written yet."""
    preview = preview_run(clients, load_environment(request.request.environment), request)
    if preview.blocks:
        detail = "; ".join(f"{c.name}: {c.detail}" for c in preview.blocks)
        raise PermanentError("PlanBlocked", f"the run cannot start: {detail}")
    return preview.plan


def plan_report(
    clients: AzureClients, env: Environment, target_version: str | None = None, strategy: Strategy | None = None
) -> PlanReport:
    """What a run of `env` would do now, from reads alone (`plan`: the CLI and GET /api/environments/{name}/plan).

    A green name derived from the run (`live_id` environments) is shown for a run named "plan": the real
    run's green gets its own.
    """
    request = RunRequest(
        environment=env.name,
        target_version=target_version,
        strategy=strategy,
        started_by="plan",
        trigger=RunTrigger(kind="http"),
    )
    return preview_run(clients, env, ResolveInput(run_id="plan", request=request)).report


def green_overrides(env: Environment) -> GreenOverrides:
    c = env.clusters
    return GreenOverrides(
        service_principal_secret=c.service_principal_secret,
        subnet_id=c.green_subnet,
        outbound_ips=c.green_outbound_ips,
        outbound_ip_prefixes=c.green_outbound_ip_prefixes,
    )


def preview_run(clients: AzureClients, env: Environment, request: ResolveInput) -> Preview:
    """Everything a run decides at its start, from reads alone: the plan, and the report `plan` prints."""
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
    versions = plan_run_versions(clusters, env, blue, blue_id, request.request.target_version, strategy)
    for pool, version in blue.pools.items():
        if version and Version.parse(version) != Version.parse(str(blue.version)):
            raise PermanentError("PoolsOutOfStep", f"node pool {pool} runs {version}, the control plane {blue.version}")

    green_id = slot_cluster_id(env, idle, clusters, run_id=None if env.clusters.names else request.run_id)
    green_name = ResourceId.parse(green_id).name
    overrides = green_overrides(env)
    workloads = plan_workloads(clients, env, blue_id)
    definition = define(
        blue_body,
        name=green_name,
        version=str(versions.clone),
        run_id=request.run_id,
        environment=env.name,
        origin=env.front_door.origins[idle],
        overrides=overrides,
    )
    grants = Grants(clients).to_copy(blue_body, green_id)
    federations, federation_checks = Federations(clients).to_copy(blue_body, green_name)
    wiring = [t.item for t in Wiring(clients).of_cluster(blue_id, str(blue.name), green_name, urls=False)]
    capacity = Capacity(clients)
    location = str(blue.location or "")
    checks = [
        Check(
            name="FrontDoorOrigins",
            status="ok",
            detail=f"{env.front_door.origins[live]} serves blue; {env.front_door.origins[idle]} will serve green",
        ),
        Check(name="Versions", status="ok", detail=f"{blue.version} -> {' -> '.join(map(str, versions.path))}"),
        *definition.checks,
        *federation_checks,
        *capacity.subnet_checks(definition.body),
        *capacity.quota_checks(definition.body, location, ResourceId.parse(green_id).subscription),
    ]
    inheritance = Inheritance(grants=grants, federations=federations, wiring=wiring)
    live_cluster = LiveCluster(
        cluster_id=blue_id, name=str(blue.name), version=str(blue.version), pools=sorted(blue.pools)
    )
    new_cluster = NewCluster(cluster_id=green_id, name=green_name, overrides=overrides)
    plan = Plan(
        run_id=request.run_id,
        environment=env.name,
        strategy=strategy,
        target_version=str(versions.target),
        clone_version=str(versions.clone),
        upgrade_path=[str(v) for v in versions.hops],
        version_path=[str(v) for v in versions.path],
        blue=live_cluster,
        green=new_cluster,
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
        inheritance=inheritance,
        checks=checks,
    )
    report = PlanReport(
        environment=env.name,
        ok=not any(c.status == "block" for c in checks),
        strategy=strategy,
        live_origin=env.front_door.origins[live],
        blue=live_cluster,
        green=new_cluster,
        target_version=plan.target_version,
        clone_version=plan.clone_version,
        upgrade_path=plan.upgrade_path,
        version_path=plan.version_path,
        definition=definition.changes,
        inheritance=inheritance,
        checks=checks,
        writes=planned_writes(plan, blue_body),
    )
    return Preview(plan, report)


@dataclass(frozen=True)
class RunVersions:
    target: Version
    clone: Version
    hops: list[Version]
    path: list[Version]


def plan_run_versions(
    clusters: Clusters,
    env: Environment,
    blue: ClusterSummary,
    blue_id: str,
    requested: str | None,
    strategy: Strategy,
) -> RunVersions:
    """The target (requested, else the environment's policy) and green's way there, from what the region offers."""
    allow_preview = env.policy.allow_preview
    catalogue = Catalogue.from_arm(
        clusters.list_versions(ResourceId.parse(blue_id).subscription, str(blue.location or ""))
    )
    target = choose_target(requested or env.policy.target, catalogue, allow_preview=allow_preview)
    versions = plan_versions(
        Version.parse(str(blue.version)),
        target,
        catalogue,
        create_at_target=strategy == Strategy.CREATE_AT_TARGET,
        allow_preview=allow_preview,
    )
    return RunVersions(target, versions.clone, versions.hops, versions.path)


def check_target(clients: AzureClients, env: Environment, requested: str, strategy: Strategy | None) -> None:
    """Refuse a requested target the region does not offer, or one older than blue (PermanentError), from reads."""
    clusters = Clusters(clients)
    blue_id = live_cluster_id(clients, env)
    body = clusters.get(blue_id)
    if body is None:
        return  # the run's resolve says so, with the rest of its checks
    plan_run_versions(clusters, env, summarize(body), blue_id, requested, strategy or Strategy(env.strategy))


def planned_writes(plan: Plan, blue: dict[str, Any]) -> list[PlannedWrite]:
    """Every ARM write of a run that goes to plan, in order (a rollback's writes are Front Door's, reversed)."""
    green, blue_id = plan.green.cluster_id, plan.blue.cluster_id
    writes = [PlannedWrite(method="PUT", resource=green, why=f"create green at {plan.clone_version}")]
    pools = [str(p.get("name")) for p in (blue.get("properties") or {}).get("agentPoolProfiles") or []]
    for hop in plan.upgrade_path:
        writes.append(PlannedWrite(method="PUT", resource=green, why=f"control plane to {hop}"))
        writes += [
            PlannedWrite(method="PUT", resource=f"{green}/agentPools/{pool}", why=f"node pool {pool} to {hop}")
            for pool in pools
        ]
    inherited = plan.inheritance
    writes += [
        PlannedWrite(
            method="PUT",
            resource=f"{g.scope}/providers/Microsoft.Authorization/roleAssignments/<from green's {g.identity}>",
            why=f"green's {g.identity} gets {role_label(g.role_definition_id)}, as blue's has",
        )
        for g in inherited.grants
    ]
    writes += [
        PlannedWrite(
            method="PUT",
            resource=f"{f.identity_id}/federatedIdentityCredentials/{f.twin_name}",
            why=f"trust green's OIDC issuer for {f.subject}",
        )
        for f in inherited.federations
    ]
    for w in inherited.wiring:
        source = ResourceId.parse(w.source_id) if w.kind != "diagnostic_setting" else None
        resource = (
            f"{green}/providers/Microsoft.Insights/diagnosticSettings/{w.twin_name}"
            if source is None
            else str(source.sibling(w.twin_name))
        )
        writes.append(PlannedWrite(method="PUT", resource=resource, why=f"green's twin of {w.source_id}"))
        writes += [
            PlannedWrite(method="PUT", resource=f"{resource}/eventSubscriptions/{name}", why=f"as blue's {name}")
            for name in w.subscriptions
        ]
    workloads = plan.settings.workloads
    kc = "providers/Microsoft.KubernetesConfiguration"
    writes += [
        PlannedWrite(method="PUT", resource=f"{green}/{kc}/extensions/{name}", why="blue's extension on green")
        for name in workloads.extensions
    ]
    writes += [
        PlannedWrite(method="PUT", resource=f"{green}/{kc}/fluxConfigurations/{name}", why="blue's Flux configuration")
        for name in workloads.flux_configurations
    ]
    for pair in plan.traffic.groups:
        writes.append(_origin_write(plan, pair.group, pair.green, "enable green's origin (blue's stays on)"))
        writes.append(_origin_write(plan, pair.group, pair.blue, "disable blue's origin once green's is deployed"))
    retire = plan.settings.retire
    if retire == "stop":
        writes.append(PlannedWrite(method="POST", resource=f"{blue_id}/stop", why="retire blue after a clean bake"))
    elif retire == "delete":
        writes.append(PlannedWrite(method="DELETE", resource=blue_id, why="retire blue after a clean bake"))
    return writes


def _origin_write(plan: Plan, group: str, origin: str, why: str) -> PlannedWrite:
    if plan.traffic.kind == "classic":
        return PlannedWrite(method="PUT", resource=plan.traffic.front_door_id, why=f"{why} (backend {origin})")
    resource = f"{plan.traffic.front_door_id}/originGroups/{group}/origins/{origin}"
    return PlannedWrite(method="PATCH", resource=resource, why=why)


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
