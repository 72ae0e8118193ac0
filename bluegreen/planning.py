"""The resolve step: from an environment's name to the plan of one run.

Reads, in this order: the configuration, Front Door (which slot is live: the source of truth), the
live cluster (blue), and the versions the region offers. Nothing is changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients
from bluegreen.clusters import Clusters, summarize
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
    RetainedCluster,
    RunRequest,
    RunSettings,
    RunTrigger,
    Strategy,
    TrafficPlan,
    WorkloadsPlan,
)
from bluegreen.errors import PermanentError
from bluegreen.green import define
from bluegreen.inheritance import Federations, Grants, role_label
from bluegreen.prechecks import Capacity, traffic_weight_checks
from bluegreen.slots import IdleSlot, front_door_ref, idle_slot, live_cluster_id, live_slot_of, slot_cluster_id
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
    if request.request.kind == "revert":
        return resolve_revert_plan(clients, request)
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


@dataclass(frozen=True)
class LiveSide:
    """Which slot Front Door sends traffic to, and the cluster there (blue): where every run starts from."""

    ref: FrontDoorRef
    live: int
    blue_id: str
    blue_body: dict[str, Any]
    blue: ClusterSummary

    @property
    def idle(self) -> int:
        return 1 - self.live

    def traffic_plan(self, env: Environment) -> TrafficPlan:
        """One pair per origin group, in the configuration's order: blue's origin is the live slot's in each."""
        return TrafficPlan(
            kind=self.ref.kind,
            front_door_id=self.ref.resource_id,
            groups=[
                OriginPair(group=g.origin_group, blue=g.origins[self.live], green=g.origins[self.idle])
                for g in env.front_door.groups
            ],
            green_address=env.front_door.green_address,
            mode=env.switch.mode,
        )

    def live_cluster(self) -> LiveCluster:
        blue = self.blue
        return LiveCluster(
            cluster_id=self.blue_id, name=str(blue.name), version=str(blue.version), pools=sorted(blue.pools)
        )


def read_live_side(clients: AzureClients, env: Environment, clusters: Clusters) -> LiveSide:
    ref = front_door_ref(env)
    live = live_slot_of(clients, env)  # every origin group, in agreement
    blue_id = slot_cluster_id(env, live, clusters)
    blue_body = clusters.get(blue_id)
    if blue_body is None:
        raise PermanentError("BlueNotFound", f"the live cluster {blue_id} does not exist")
    return LiveSide(ref=ref, live=live, blue_id=blue_id, blue_body=blue_body, blue=summarize(blue_body))


def preview_run(clients: AzureClients, env: Environment, request: ResolveInput) -> Preview:
    """Everything a run decides at its start, from reads alone: the plan, and the report `plan` prints."""
    clusters = Clusters(clients)
    side = read_live_side(clients, env, clusters)
    live, idle, blue_id, blue_body, blue = side.live, side.idle, side.blue_id, side.blue_body, side.blue
    if blue.provisioning_state != "Succeeded":
        raise PermanentError("BlueNotReady", f"the live cluster is {blue.provisioning_state}, not Succeeded")

    strategy = request.request.strategy or Strategy(env.strategy)
    versions = plan_run_versions(clusters, env, blue, blue_id, request.request.target_version, strategy)
    for pool, version in blue.pools.items():
        if version and Version.parse(version) != Version.parse(str(blue.version)):
            raise PermanentError("PoolsOutOfStep", f"node pool {pool} runs {version}, the control plane {blue.version}")

    green_id = slot_cluster_id(env, idle, clusters, run_id=None if env.clusters.names else request.run_id)
    green_name = ResourceId.parse(green_id).name
    slot = idle_slot(
        env, clusters, idle, blue_id, green_id if env.clusters.names else slot_cluster_id(env, idle, clusters)
    )
    reclaim = slot.retained if env.retire.reclaim_slot else None
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
    traffic = side.traffic_plan(env)
    checks = [
        Check(
            name="FrontDoorOrigins",
            status="ok",
            detail="; ".join(f"{p.group}: {p.blue} serves blue, {p.green} will serve green" for p in traffic.groups),
        ),
        Check(name="Versions", status="ok", detail=f"{blue.version} -> {' -> '.join(map(str, versions.path))}"),
        slot.check(env, request.run_id),
        *definition.checks,
        *federation_checks,
        *capacity.subnet_checks(definition.body),
        *capacity.quota_checks(definition.body, location, ResourceId.parse(green_id).subscription),
    ]
    if env.switch.mode == "gradual":  # weights matter only then: no extra read otherwise
        provider = provider_for(clients, traffic.kind, traffic.front_door_id)
        checks += traffic_weight_checks(provider, [p.group for p in traffic.groups])
    inheritance = Inheritance(grants=grants, federations=federations, wiring=wiring)
    live_cluster = side.live_cluster()
    new_cluster = NewCluster(cluster_id=green_id, name=green_name, overrides=overrides)
    plan = Plan(
        run_id=request.run_id,
        environment=env.name,
        kind="upgrade",
        strategy=strategy,
        target_version=str(versions.target),
        clone_version=str(versions.clone),
        upgrade_path=[str(v) for v in versions.hops],
        version_path=[str(v) for v in versions.path],
        blue=live_cluster,
        green=new_cluster,
        traffic=traffic,
        settings=run_settings(env, workloads),
        inheritance=inheritance,
        checks=checks,
        reclaim=reclaim,
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
        reclaim=reclaim,
    )
    return Preview(plan, report)


def run_settings(env: Environment, workloads: WorkloadsPlan) -> RunSettings:
    return RunSettings(
        poll_seconds=env.poll_seconds,
        verify_timeout_minutes=env.verify_timeout_minutes,
        smoke=env.smoke,
        approval=env.approval,
        bake=env.bake,
        retire=env.retire.mode,
        after_rollback=env.retire.after_rollback,
        retain_hours=env.retire.retain_hours,
        keep_failed_green=env.keep_failed_green,
        switch_timeout_minutes=env.switch.timeout_minutes,
        workloads=workloads,
        switch=env.switch,
    )


def resolve_revert_plan(clients: AzureClients, request: ResolveInput) -> Plan:
    """A revert's plan: blue is the live cluster, green the retained one in the idle slot it goes back to.

    Nothing is created, upgraded or wired: the retained cluster still has its applications, grants and
    wiring (a retired cluster is only stopped). PermanentError when there is nothing to revert to.
    """
    env = load_environment(request.request.environment)
    clusters = Clusters(clients)
    side = read_live_side(clients, env, clusters)
    slot = idle_slot(env, clusters, side.idle, side.blue_id, slot_cluster_id(env, side.idle, clusters))
    target = revert_target(slot)
    return Plan(
        run_id=request.run_id,
        environment=env.name,
        kind="revert",
        strategy=Strategy(env.strategy),
        target_version=str(target.version),
        clone_version=str(target.version),
        upgrade_path=[],
        version_path=[],
        blue=side.live_cluster(),
        green=NewCluster(cluster_id=target.cluster_id, name=target.name),
        traffic=side.traffic_plan(env),
        settings=run_settings(env, plan_workloads(clients, env, side.blue_id)),
        checks=[
            Check(
                name="RevertTo",
                status="ok",
                detail=f"{target.name} at {target.version} ({target.power_state}), {target.retired_as} by "
                f"{target.retired_by}, retained until {target.retained_until}",
            )
        ],
        revert_to=target,
    )


def revert_target(slot: IdleSlot) -> RetainedCluster:
    """The retained cluster a revert goes back to, or PermanentError saying why there is none."""
    retained = slot.retained
    if retained is None:
        state = slot.state()
        raise PermanentError(
            "NothingToRevertTo",
            f"the idle slot ({slot.origin}) holds no cluster this environment retained: {state.detail}",
        )
    if retained.provisioning_state not in ("Succeeded", None):
        raise PermanentError(
            "RevertTargetBusy", f"{retained.name} is {retained.provisioning_state}: a revert needs it settled"
        )
    return retained


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
    writes = []
    if plan.reclaim is not None:
        why = f"reclaim the idle slot: {plan.reclaim.name} was {plan.reclaim.retired_as} by {plan.reclaim.retired_by}"
        writes.append(PlannedWrite(method="DELETE", resource=plan.reclaim.cluster_id, why=why))
    writes.append(PlannedWrite(method="PUT", resource=green, why=f"create green at {plan.clone_version}"))
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
    # Make-before-break in every group at once: green's origin on in each, then (once deployed) blue's off in each.
    groups = plan.traffic.groups
    writes += [_origin_write(plan, p.group, p.green, "enable green's origin (blue's stays on)") for p in groups]
    writes += [_origin_write(plan, p.group, p.blue, "disable blue's origin once green's is deployed") for p in groups]
    retire = plan.settings.retire
    if retire in ("keep", "stop"):
        until = f"retained {plan.settings.retain_hours} h (retire.retain_hours)"
        writes.append(PlannedWrite(method="PATCH", resource=blue_id, why=f"tag blue as {until}"))
    if retire == "stop":
        writes.append(PlannedWrite(method="POST", resource=f"{blue_id}/stop", why="retire blue after a clean bake"))
    elif retire == "delete":
        writes.append(PlannedWrite(method="DELETE", resource=blue_id, why="retire blue after a clean bake"))
    return writes


def _origin_write(plan: Plan, group: str, origin: str, why: str) -> PlannedWrite:
    if plan.traffic.kind == "classic":
        return PlannedWrite(
            method="PUT", resource=plan.traffic.front_door_id, why=f"{why} (backend {origin} in pool {group})"
        )
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
