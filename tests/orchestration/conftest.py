"""A scripted Azure for the runbook tests, and fixtures that start one run on it.

`FakeAzure` answers the app's activities by name with contract models, the way Temporal's samples
mock activities: a few explicit rules, not a second emulator. Each test configures only the failures
it is about (`fail_operation`, `fail_activity`, `spike_from_minute`, ...), and the harness
(`local/functions_host/scripted.py`) replays the real orchestrators around it on a virtual clock.

Front Door is the one stateful part, because the runbook's promise is about it: each origin has an
enabled flag, a write leaves its group "not deployed" for `front_door.deploy_delay` (virtual time), and every
write records which origins were enabled right after it, so a test can prove there never were none.
Green's extensions and Flux configurations are the other: each copy is recorded (with which extensions
were installed at that moment), answers not ready for a few checks (`configuration_checks`, or per name
with `configuration(...)`), then installed and Compliant, Failed, or Non-Compliant for ever; once green
is gone (`green_gone`, or its delete succeeded) every check answers NotFound. Secret references resolve
through `secrets`, inside the fake, as the activities do: a value is never part of an answer.

Failures come in the two shapes the activities produce: a permanent Azure error is *returned* as
`ActivityFailure` (an `ErrorInfo` here); a temporary one is an exception the activity raised (any
`Exception` here), which the orchestrator's retry policy retries on durable timers.

`WatchedRun` is the scripted harness with two additions the tests need: hooks that run right after an
activity's result has reached its instance's inbox (an event raised there arrives *after* the result,
before the next timer), and a record of every execution that ended Failed, so `UpgradeRun.run()` can
assert that none did. Notices (`send_notifications`) are a side channel: FakeAzure records each in
`notifications`, and the harness's `calls` lists the runbook's Azure calls only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bluegreen import contract, parity
from bluegreen.config import DEFAULT_SYSTEM_NAMESPACES, NOTIFY_EVENTS, Approval, Bake, SmokeProbe
from local.clock import VirtualClock
from local.functions_host.scripted import ActivityCall, ScriptedRun

APP = Path(__file__).resolve().parents[2] / "function_app.py"
RUN_ID = "nod-prod-1"
ENVIRONMENT = "nod-prod"
STARTED_BY = "alice@example.com"
OPERATOR = "bob@example.com"

SUBSCRIPTION = "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23"
RESOURCE_GROUP = "rg-nod-prod"
PROVIDERS = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers"
FRONT_DOOR_ID = f"{PROVIDERS}/Microsoft.Cdn/profiles/afd-nod-prod"
GROUP = "og-nod-web"
BLUE_ORIGIN, GREEN_ORIGIN = "blue", "green"
BLUE_NAME, GREEN_NAME = "aks-nod-prod-blue", "aks-nod-prod-green"
BLUE_ID = f"{PROVIDERS}/Microsoft.ContainerService/managedClusters/{BLUE_NAME}"
GREEN_ID = f"{PROVIDERS}/Microsoft.ContainerService/managedClusters/{GREEN_NAME}"
BLUE_VERSION = "1.30.10"
HOPS = ("1.31.8", "1.32.4", "1.33.2")
TWO_POOLS = ("system", "user")
SIX_POOLS = ("system", "user1", "user2", "user3", "user4", "user5")
# Shorter than the 30-minute default: most tests only need the bake to exist; test_history runs the defaults.
SHORT_BAKE = Bake(window_minutes=5)
AUTO_APPROVAL = Approval(mode="auto")
# What blue runs that green must run too (gitops): one extension, then one Flux configuration.
EXTENSION, FLUX_CONFIGURATION = "flux", "web-config"
PIPELINE_URL = "https://ci.nod.example.net/hooks/green-created"
PIPELINE_SECRET = "appsetting:PIPELINE_KEY"
PIPELINE_KEY = "pipeline-hmac-key-7f3e9a"  # the value behind PIPELINE_SECRET: never in any history
PIPELINE_CALLER = "ci-bot@example.com"

Kind = contract.OperationKind
REQUESTS_PER_MINUTE = 1000  # per origin group, in the scripted Front Door's metrics
NOTIFY_ACTIVITY = "send_notifications"


# ---- plans


def gitops_workloads(**changes: Any) -> contract.WorkloadsPlan:
    """Blue's applications come through Flux: its extension, then its Flux configuration, copied onto green."""
    plan = contract.WorkloadsPlan(
        mode="gitops",
        timeout_minutes=30,
        system_namespaces=list(DEFAULT_SYSTEM_NAMESPACES),
        extensions=[EXTENSION],
        flux_configurations=[FLUX_CONFIGURATION],
    )
    return plan.model_copy(update=changes)


def pipeline_workloads(**changes: Any) -> contract.WorkloadsPlan:
    """The team's pipeline deploys to green when told, and says so with green-ready."""
    plan = contract.WorkloadsPlan(
        mode="pipeline",
        timeout_minutes=30,
        system_namespaces=list(DEFAULT_SYSTEM_NAMESPACES),
        pipeline_url=PIPELINE_URL,
        pipeline_secret=PIPELINE_SECRET,
    )
    return plan.model_copy(update=changes)


def no_workloads(**changes: Any) -> contract.WorkloadsPlan:
    """A cluster without applications, by choice."""
    plan = contract.WorkloadsPlan(mode="none", timeout_minutes=30, system_namespaces=list(DEFAULT_SYSTEM_NAMESPACES))
    return plan.model_copy(update=changes)


# What green inherits of blue in the scripted runs: a grant, a federated credential, Event Grid wiring.
REGISTRY = f"{PROVIDERS}/Microsoft.ContainerRegistry/registries/crnodprod"
API_IDENTITY = f"{PROVIDERS}/Microsoft.ManagedIdentity/userAssignedIdentities/id-nod-api"
BLUE_TOPIC = f"{PROVIDERS}/Microsoft.EventGrid/systemTopics/{BLUE_NAME}-events"
INHERITANCE = contract.Inheritance(
    grants=[
        contract.GrantToCopy(
            identity="kubelet",
            role_definition_id="/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
            scope=REGISTRY,
            blue_principal="1e2d3c4b-0000-4000-8000-0000000000cc",
            blue_assignment=f"{REGISTRY}/providers/Microsoft.Authorization/roleAssignments/blue-acrpull",
        )
    ],
    federations=[
        contract.FederationToCopy(
            identity_id=API_IDENTITY,
            name="api",
            subject="system:serviceaccount:web:api",
            audiences=["api://AzureADTokenExchange"],
            twin_name=f"api-{GREEN_NAME}",
        )
    ],
    wiring=[contract.WiringToCopy(kind="system_topic", source_id=BLUE_TOPIC, twin_name=f"{GREEN_NAME}-events")],
)


def make_plan(pools: tuple[str, ...] = TWO_POOLS, hops: tuple[str, ...] = HOPS, **settings: Any) -> contract.Plan:
    """What resolve_run decides for nod-prod: green cloned at blue's version, then one hop per minor."""
    defaults: dict[str, Any] = {
        "poll_seconds": 30,
        "verify_timeout_minutes": 15,
        "smoke": SmokeProbe(),
        "approval": Approval(),
        "bake": SHORT_BAKE,
        "retire": "stop",
        "after_rollback": "stop",
        "keep_failed_green": False,
        "switch_timeout_minutes": 30,
        "workloads": gitops_workloads(),
    }
    return contract.Plan(
        run_id=RUN_ID,
        environment="nod-prod",
        strategy=contract.Strategy.CLONE_THEN_UPGRADE,
        target_version=hops[-1],
        clone_version=BLUE_VERSION,
        upgrade_path=list(hops),
        version_path=list(hops),
        blue=contract.LiveCluster(cluster_id=BLUE_ID, name=BLUE_NAME, version=BLUE_VERSION, pools=list(pools)),
        green=contract.NewCluster(cluster_id=GREEN_ID, name=GREEN_NAME),
        traffic=contract.TrafficPlan(
            kind="standard",
            front_door_id=FRONT_DOOR_ID,
            groups=[contract.OriginPair(group=GROUP, blue=BLUE_ORIGIN, green=GREEN_ORIGIN)],
        ),
        settings=contract.RunSettings(**{**defaults, **settings}),
        inheritance=INHERITANCE,
    )


def six_pool_plan(**settings: Any) -> contract.Plan:
    return make_plan(pools=SIX_POOLS, **settings)


def create_at_target_plan(**settings: Any) -> contract.Plan:
    """Green created at the target in one operation, no hops: the shortest way to Front Door."""
    plan = make_plan(**settings)
    update = {"strategy": contract.Strategy.CREATE_AT_TARGET, "clone_version": plan.target_version, "upgrade_path": []}
    return plan.model_copy(update=update)


# ---- Front Door


@dataclass(frozen=True)
class Write:
    """One accepted origin change, and the origins of its group that were enabled right after it."""

    at: datetime
    group: str
    origin: str
    enabled: bool
    enabled_after: tuple[str, ...]


@dataclass
class FrontDoor:
    """Origins with an enabled flag, a weight and a priority. A write is reported deployed after
    `deploy_delay`, and the edge serves it (the share of requests follows it) after `edge_delay`."""

    clock: VirtualClock
    deploy_delay: timedelta = timedelta(seconds=45)
    edge_delay: timedelta = timedelta(minutes=3)
    enabled: dict[str, dict[str, bool]] = field(
        default_factory=lambda: {GROUP: {BLUE_ORIGIN: True, GREEN_ORIGIN: False}}
    )
    weights: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, origin) -> weight, when set
    priorities: dict[tuple[str, str], int] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    _deployed_at: dict[str, datetime] = field(default_factory=dict)
    # (when written, green's share of requests then) per group: the edge serves a write edge_delay later
    _shares: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)

    def snapshot(self) -> contract.TrafficSnapshot:
        now = self.clock.now()
        groups = []
        for group, origins in self.enabled.items():
            deployed = now >= self._deployed_at.get(group, now)
            states = [
                contract.OriginState(
                    key=key,
                    host=f"{key}.nod.example.net",
                    enabled=on,
                    weight=self.weights.get((group, key)),
                    priority=self.priorities.get((group, key)),
                    deployed=deployed,
                )
                for key, on in origins.items()
            ]
            groups.append(contract.GroupState(group=group, origins=states))
        return contract.TrafficSnapshot(groups=groups)

    def set(self, group: str, origin: str, enabled: bool) -> bool:
        """As set_origin_enabled: False (and no write) when the origin is already so."""
        if self.enabled[group][origin] == enabled:
            return False
        self.enabled[group][origin] = enabled
        self._wrote(group, origin, enabled)
        return True

    def apply(self, group: str, origin: str, settings: contract.OriginSettings) -> None:
        """One origin's write of set_origin_weights (it writes only what differs)."""
        if settings.enabled is not None:
            self.enabled[group][origin] = settings.enabled
        if settings.weight is not None:
            self.weights[(group, origin)] = settings.weight
        if settings.priority is not None:
            self.priorities[(group, origin)] = settings.priority
        self._wrote(group, origin, self.enabled[group][origin])

    def _wrote(self, group: str, origin: str, enabled: bool) -> None:
        now = self.clock.now()
        self._deployed_at[group] = now + self.deploy_delay
        self.writes.append(Write(now, group, origin, enabled, tuple(self.live(group))))
        self._shares.setdefault(group, []).append((now, self.intended_share(group)))

    def intended_share(self, group: str) -> float:
        """Green's share of requests by the configuration now: by weight when both are enabled."""
        origins = self.enabled[group]
        if not origins[GREEN_ORIGIN]:
            return 0.0
        if not origins[BLUE_ORIGIN]:
            return 1.0
        green = self.weights.get((group, GREEN_ORIGIN), 50)
        return green / (green + self.weights.get((group, BLUE_ORIGIN), 50))

    def served_share(self, group: str) -> float:
        """Green's share of requests as the edge serves it now (the newest write edge_delay old)."""
        now, share = self.clock.now(), 0.0
        for at, written in self._shares.get(group, []):
            if at + self.edge_delay <= now:
                share = written
        return share

    def live(self, group: str = GROUP) -> list[str]:
        return [key for key, on in self.enabled[group].items() if on]

    def dark_writes(self) -> list[Write]:
        """Writes after which their group had no enabled origin: the site was down."""
        return [write for write in self.writes if not write.enabled_after]


# ---- the scripted Azure


@dataclass
class Operation:
    """One started AKS operation and how its checks will answer."""

    number: int
    kind: contract.OperationKind
    cluster_id: str
    pool: str | None
    version: str | None
    polls_left: int  # checks that still answer InProgress
    error: contract.ErrorInfo | None  # set: it ends Failed with this
    checks: int = 0
    ended: contract.OperationState | None = None  # what its last check answered, once it ended

    @property
    def succeeded(self) -> bool:
        return self.ended == contract.OperationState.SUCCEEDED


@dataclass
class ConfigurationScript:
    """How one extension or Flux configuration behaves once copied onto green.

    It answers not ready (an extension `Creating`, a Flux configuration `Pending`) for its first `checks`
    checks and until `delay` of virtual time has passed since its copy; then it is installed (Flux:
    Compliant), unless it ends `failed` (provisioning Failed with that message) or stays `non_compliant`
    for ever (provisioning Succeeded, compliance Non-Compliant, that message).
    """

    checks: int = 1
    delay: timedelta = timedelta(0)
    failed: str | None = None
    non_compliant: str | None = None


@dataclass
class Copied:
    """One configuration on green: when it was copied, and the protected settings' values the copy carried."""

    kind: str
    name: str
    at: datetime
    protected: dict[str, str]
    script: ConfigurationScript
    checks: int = 0


@dataclass(frozen=True)
class CopyRequest:
    """One call of copy_configurations, and which of green's extensions were installed at that moment."""

    at: datetime
    kind: str
    names: tuple[str, ...]
    protected_settings: dict[str, dict[str, str]]
    extensions_installed: tuple[str, ...]


Hook = Callable[[Any], None]


@dataclass
class FakeAzure:
    """The activities' answers. What a test may change is a plain attribute or one helper call."""

    clock: VirtualClock
    plan: contract.Plan = field(default_factory=make_plan)
    polls_in_progress: int = 1  # checks that answer InProgress before an operation ends
    verify_passes_after: int | None = 0  # failed verifications before one passes; None: never passes
    spike_from_minute: int | None = None  # the bake minute from which green's 5xx share is a spike
    spike_at_percent: int | None = None  # a gradual step from which green's 5xx share is a spike (25%)
    front_door: FrontDoor = field(init=False)
    operations: list[Operation] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    _failing_operations: dict[tuple[contract.OperationKind, int], contract.ErrorInfo] = field(default_factory=dict)
    _failing_until: dict[contract.OperationKind, tuple[datetime | None, contract.ErrorInfo]] = field(
        default_factory=dict
    )
    _polls_by_kind: dict[contract.OperationKind, int] = field(default_factory=dict)
    _faults: dict[str, list[contract.ErrorInfo | Exception]] = field(default_factory=dict)
    _hooks: dict[str, list[tuple[int | None, Hook]]] = field(default_factory=dict)
    _outages: dict[str, list[tuple[datetime, datetime | None, contract.ErrorInfo]]] = field(default_factory=dict)
    _measured_minutes: int = 0
    # populate (gitops): how copied configurations behave, what was asked, and what green holds
    configuration_checks: int = 1  # checks that answer not ready before a configuration without a script is
    # secret reference -> value, as Key Vault or the app settings hold them
    secrets: dict[str, str] = field(default_factory=lambda: {PIPELINE_SECRET: PIPELINE_KEY})
    green_gone: bool = False  # set: green no longer exists (also once its delete succeeded)
    copy_requests: list[CopyRequest] = field(default_factory=list)
    on_green: dict[tuple[str, str], Copied] = field(default_factory=dict)  # (kind, name) -> the copy
    _configuration_scripts: dict[str, ConfigurationScript] = field(default_factory=dict)
    # populate (pipeline)
    notices: list[contract.PipelineNotice] = field(default_factory=list)
    signed_with: list[str] = field(default_factory=list)  # the key each notice was signed with (never returned)
    # inheritance: what wire_green created (by cluster), and every unwire_cluster request
    bound: dict[str, list[contract.Inherited]] = field(default_factory=dict)
    unwired: list[contract.ClusterTarget] = field(default_factory=list)
    # retention: the clusters tagged as retained (by id), and every release
    marked: dict[str, contract.MarkRetained] = field(default_factory=dict)
    released: list[contract.ReleaseRetained] = field(default_factory=list)
    # verify: green against blue, reported whenever the verification names blue (`blue_id`)
    parity: contract.ParityReport = field(default_factory=lambda: contract.ParityReport(compared=12))
    # notifications: every notice delivered, the events the environment has targets for, its targets
    # (kind#n), and those that answer 500
    notifications: list[contract.Notice] = field(default_factory=list)
    notify_events: list[str] = field(default_factory=lambda: list(NOTIFY_EVENTS))
    notify_targets: tuple[str, ...] = ("teams#1", "webhook#2")
    failing_targets: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.front_door = FrontDoor(self.clock)

    # ---- what a test configures

    def settings(self, **changes: Any) -> None:
        """Change the plan's run settings (retire, approval, bake, ...); resolve_run answers with them."""
        self.plan = self.plan.model_copy(update={"settings": self.plan.settings.model_copy(update=changes)})

    def fail_operation(
        self, kind: contract.OperationKind, nth: int = 1, code: str = "Failed", message: str = ""
    ) -> None:
        """The `nth` operation of `kind` started in this run ends Failed with this ARM error."""
        self._failing_operations[(kind, nth)] = contract.ErrorInfo(code=code, message=message or f"{kind} failed")

    def fail_operations_until(
        self, kind: contract.OperationKind, until: datetime | None, code: str = "Failed", message: str = ""
    ) -> None:
        """Every operation of `kind` started before `until` (None: ever) runs its polls, then ends Failed:
        an AKS that takes the request and fails it, for a while."""
        self._failing_until[kind] = (until, contract.ErrorInfo(code=code, message=message or f"{kind} failed"))

    def operation_polls(self, kind: contract.OperationKind, polls: int) -> None:
        """Operations of `kind` answer InProgress `polls` times (instead of `polls_in_progress`)."""
        self._polls_by_kind[kind] = polls

    def workloads(self, workloads: contract.WorkloadsPlan) -> None:
        """How the applications reach green in this run (see gitops_workloads, pipeline_workloads, no_workloads)."""
        self.settings(workloads=workloads)

    def configuration(
        self,
        name: str,
        checks: int | None = None,
        delay: timedelta = timedelta(0),
        failed: str | None = None,
        non_compliant: str | None = None,
    ) -> None:
        """How the extension or Flux configuration `name` behaves once copied (see ConfigurationScript)."""
        checks = self.configuration_checks if checks is None else checks
        self._configuration_scripts[name] = ConfigurationScript(checks, delay, failed, non_compliant)

    def fail_activity(self, name: str, *faults: contract.ErrorInfo | Exception) -> None:
        """The next calls of activity `name` fail, one fault per call (see the module docstring).
        notify_pipeline: an ErrorInfo is the pipeline refusing (permanent), an Exception it being unreachable."""
        self._faults.setdefault(name, []).extend(faults)

    def outage(
        self, name: str, error: contract.ErrorInfo, until: datetime | None = None, start: datetime | None = None
    ) -> None:
        """Every call of activity `name` from `start` (default: now) until `until` (None: for ever), in
        virtual time, answers with this permanent error: an Azure that refuses for a while, not n times."""
        self._outages.setdefault(name, []).append((start or self.clock.now(), until, error))

    def on_call(self, name: str, hook: Hook, nth: int | None = None) -> None:
        """Run `hook(payload)` while activity `name` runs: its `nth` call, or every call.

        The moment to raise an event "while an activity runs": it reaches the orchestration before
        the activity's result does.
        """
        self._hooks.setdefault(name, []).append((nth, hook))

    # ---- the script the harness calls

    def __call__(self, name: str, payload: Any) -> Any:
        self.calls[name] += 1
        for nth, hook in self._hooks.get(name, []):
            if nth in (None, self.calls[name]):
                hook(payload)
        now = self.clock.now()
        for start, until, error in self._outages.get(name, []):
            if start <= now and (until is None or now < until):
                return contract.ActivityFailure(permanent_error=error)
        faults = self._faults.get(name)
        if faults:
            fault = faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return contract.ActivityFailure(permanent_error=fault)
        return getattr(self, name)(payload)

    # ---- the activities, by name

    def resolve_run(self, payload: Any) -> contract.Plan:
        return self.plan

    def _start(self, kind: contract.OperationKind, cluster: str, pool: str | None = None, version: str | None = None):
        nth = 1 + sum(op.kind == kind for op in self.operations)
        error = self._failing_operations.get((kind, nth))
        if kind in self._failing_until:
            until, failure = self._failing_until[kind]
            if until is None or self.clock.now() < until:
                error = error or failure
        op = Operation(
            number=len(self.operations) + 1,
            kind=kind,
            cluster_id=cluster,
            pool=pool,
            version=version,
            polls_left=self._polls_by_kind.get(kind, self.polls_in_progress),
            error=error,
        )
        self.operations.append(op)
        return contract.OperationHandle(status_url=f"https://op/{op.number}", status="InProgress")

    def start_green_create(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.CREATE, payload["green_id"], version=payload["version"])

    def start_control_plane_upgrade(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.UPGRADE_CONTROL_PLANE, payload["cluster_id"], version=payload["version"])

    def start_pool_upgrade(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.UPGRADE_POOL, payload["cluster_id"], pool=payload["pool"], version=payload["version"])

    def start_cluster_stop(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.STOP, payload["cluster_id"])

    def start_cluster_delete(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.DELETE, payload["cluster_id"])

    def start_cluster_start(self, payload: Any) -> contract.OperationHandle:
        return self._start(Kind.START, payload["cluster_id"])

    # ---- retention

    def mark_retained(self, payload: Any) -> contract.Retention:
        request = contract.MarkRetained.model_validate(payload)
        self.marked[request.cluster_id.lower()] = request
        retained = contract.RetainedCluster(
            cluster_id=request.cluster_id,
            name=request.cluster_id.rsplit("/", 1)[-1],
            environment=request.environment,
            retired_by=request.run_id,
            retired_as=request.retired_as,
            retained_until=request.retained_until,
        )
        return contract.Retention(retained=retained)

    def release_retained(self, payload: Any) -> contract.Retention:
        self.released.append(contract.ReleaseRetained.model_validate(payload))
        return contract.Retention()

    def check_cluster_operation(self, payload: Any) -> contract.OperationStatus:
        op = self.operation(payload["operation"]["status_url"])
        op.checks += 1
        if op.polls_left > 0:
            op.polls_left -= 1
            return contract.OperationStatus(status=contract.OperationState.IN_PROGRESS)
        if op.error is not None:
            op.ended = contract.OperationState.FAILED
            return contract.OperationStatus(status=contract.OperationState.FAILED, error=op.error)
        op.ended = contract.OperationState.SUCCEEDED
        return contract.OperationStatus(status=contract.OperationState.SUCCEEDED)

    def read_traffic(self, payload: Any) -> contract.TrafficSnapshot:
        return self.front_door.snapshot()

    def set_origin_enabled(self, payload: Any) -> contract.OriginChanged:
        changed = self.front_door.set(payload["group"], payload["origin"], payload["enabled"])
        return contract.OriginChanged(changed=changed)

    def prepare_green_origins(self, payload: Any) -> contract.GreenOrigins:
        return contract.GreenOrigins(hosts={GROUP: f"{GREEN_ORIGIN}.nod.example.net"})

    def verify_green(self, payload: Any) -> contract.VerificationReport:
        """Passes after `verify_passes_after` failed tries, and only while parity with blue holds."""
        failed_so_far = self.calls["verify_green"] - 1
        problems = []
        if self.verify_passes_after is None or failed_so_far < self.verify_passes_after:
            problems.append("deployment web: 0/3 available")
        report_parity = self.parity if payload.get("blue_id") else None
        if report_parity is not None:
            problems += parity.describe(report_parity)
        return contract.VerificationReport(parity=report_parity, problems=problems, passed=not problems)

    # ---- inheritance

    def wire_green(self, payload: Any) -> contract.Wired:
        """Green gets a twin of each planned grant, credential and piece of wiring (recorded as bound to green)."""
        request = contract.WireGreen.model_validate(payload)
        plan, green = request.inheritance, request.green_id
        created = [
            contract.Inherited(
                kind="role_assignment", id=f"{g.scope}/roleAssignments/green-{i}", twin_of=g.blue_assignment
            )
            for i, g in enumerate(plan.grants)
        ]
        created += [
            contract.Inherited(
                kind="federated_credential", id=f"{f.identity_id}/federatedIdentityCredentials/{f.twin_name}"
            )
            for f in plan.federations
        ]
        created += [
            contract.Inherited(kind=w.kind, id=w.source_id.rsplit("/", 1)[0] + f"/{w.twin_name}", twin_of=w.source_id)
            for w in plan.wiring
        ]
        self.bound[green.lower()] = created
        return contract.Wired(created=created)

    def unwire_cluster(self, payload: Any) -> contract.Unwired:
        """Removes what is bound to the cluster; blue's own wiring is one system topic and its grant."""
        request = contract.ClusterTarget.model_validate(payload)
        self.unwired.append(request)
        key = request.cluster_id.lower()
        if key == self.plan.blue.cluster_id.lower():
            return contract.Unwired(removed=[BLUE_TOPIC, self.plan.inheritance.grants[0].blue_assignment])
        return contract.Unwired(removed=[i.id for i in self.bound.pop(key, [])])

    # ---- populate

    def green_is_gone(self) -> bool:
        return self.green_gone or any(op.succeeded for op in self.started(Kind.DELETE, self.plan.green.cluster_id))

    def extensions_installed(self) -> tuple[str, ...]:
        """Green's extensions that a check would answer Succeeded for now."""
        return tuple(
            name
            for (kind, name), copied in self.on_green.items()
            if kind == "extensions" and self._ready(copied) and copied.script.failed is None
        )

    def copy_configurations(self, payload: Any) -> contract.ConfigurationsCopied | contract.ActivityFailure:
        request = contract.CopyConfigurations.model_validate(payload)
        now = self.clock.now()
        self.copy_requests.append(
            CopyRequest(
                now,
                request.kind,
                tuple(request.names),
                request.protected_settings,
                self.extensions_installed(),
            )
        )
        if self.green_is_gone():
            return _failure("ResourceNotFound", f"{request.green_id} was not found")
        started, existing = [], []
        for name in request.names:
            if (request.kind, name) in self.on_green:
                existing.append(name)
                continue
            references = request.protected_settings.get(name, {})
            unknown = [ref for ref in references.values() if ref not in self.secrets]
            if unknown:
                return _failure("SecretNotFound", f"cannot read {unknown[0]}")
            protected = {key: self.secrets[ref] for key, ref in references.items()}  # used, never returned
            script = self._configuration_scripts.get(name) or ConfigurationScript(checks=self.configuration_checks)
            self.on_green[(request.kind, name)] = Copied(request.kind, name, now, protected, script)
            started.append(name)
        return contract.ConfigurationsCopied(started=started, existing=existing)

    def check_configurations(self, payload: Any) -> contract.ConfigurationsState:
        request = contract.ConfigurationsCheck.model_validate(payload)
        return contract.ConfigurationsState(states=[self._state(request.kind, name) for name in request.names])

    def _ready(self, copied: Copied) -> bool:
        """Past its not-ready checks and its delay (what it is then depends on its script)."""
        return copied.checks > copied.script.checks and self.clock.now() >= copied.at + copied.script.delay

    def _state(self, kind: str, name: str) -> contract.ConfigurationState:
        copied = self.on_green.get((kind, name))
        if copied is None or self.green_is_gone():
            return contract.ConfigurationState(name=name, provisioning_state="NotFound", message="not on the cluster")
        copied.checks += 1
        flux = kind == "flux_configurations"
        script = copied.script
        if not self._ready(copied):
            if flux:
                return contract.ConfigurationState(
                    name=name, provisioning_state="Succeeded", compliance_state="Pending"
                )
            return contract.ConfigurationState(name=name, provisioning_state="Creating")
        if script.failed is not None:
            return contract.ConfigurationState(name=name, provisioning_state="Failed", message=script.failed)
        if not flux:
            return contract.ConfigurationState(name=name, provisioning_state="Succeeded")
        if script.non_compliant is not None:
            return contract.ConfigurationState(
                name=name,
                provisioning_state="Succeeded",
                compliance_state="Non-Compliant",
                message=script.non_compliant,
            )
        return contract.ConfigurationState(name=name, provisioning_state="Succeeded", compliance_state="Compliant")

    def notify_pipeline(self, payload: Any) -> contract.PipelineNotified | contract.ActivityFailure:
        notice = contract.PipelineNotice.model_validate(payload)
        if notice.secret not in self.secrets:
            return _failure("SecretNotFound", f"cannot read {notice.secret}")
        self.notices.append(notice)
        self.signed_with.append(self.secrets[notice.secret])
        return contract.PipelineNotified(
            status=202, callback_url=f"https://func-nod.example.net/api/upgrades/{notice.run_id}/green-ready"
        )

    def send_notifications(self, payload: Any) -> contract.NotifyResult:
        """Every target takes every configured event; a failing one answers 500 (the activity never raises)."""
        notice = contract.Notice.model_validate(payload)
        results = []
        if notice.event in self.notify_events:
            self.notifications.append(notice)
            for name in self.notify_targets:
                kind = name.split("#")[0]
                ok = name not in self.failing_targets
                result = contract.TargetResult(target=name, kind=kind, sent=ok, status=202 if ok else 500)
                results.append(result if ok else result.model_copy(update={"error": "HTTP 500"}))
        return contract.NotifyResult(event=notice.event, results=results, configured=self.notify_events)

    def set_origin_weights(self, payload: Any) -> contract.OriginChanged:
        request = contract.WeightChange.model_validate(payload)
        for origin, settings in request.origins:
            self.front_door.apply(request.group, origin, settings)
        return contract.OriginChanged(changed=bool(request.origins))

    def measure_traffic_share(self, payload: Any) -> contract.TrafficShares:
        """1,000 requests a minute per group, split as the edge serves the configuration now."""
        request = contract.ShareRead.model_validate(payload)
        shares = []
        for pair in request.traffic.groups:
            green = round(REQUESTS_PER_MINUTE * self.front_door.served_share(pair.group))
            configured = self.front_door.intended_share(pair.group)
            shares.append(
                contract.GroupShare(
                    group=pair.group, green_requests=green, blue_requests=1000 - green, configured_green=configured
                )
            )
        return contract.TrafficShares(groups=shares)

    def measure_comparison(self, payload: Any) -> contract.Comparison:
        """Green's and blue's requests over the window as the edge splits them; green fails at `spike_at_percent`."""
        request = contract.ComparisonRead.model_validate(payload)
        minutes = request.window_minutes
        green_share = sum(self.front_door.served_share(p.group) for p in request.traffic.groups)
        green_requests = round(REQUESTS_PER_MINUTE * minutes * green_share)
        blue_requests = REQUESTS_PER_MINUTE * minutes * len(request.traffic.groups) - green_requests
        percent = round(100 * green_share / len(request.traffic.groups))
        spiking = self.spike_at_percent is not None and percent >= self.spike_at_percent
        green_errors = green_requests // 4 if spiking else green_requests // 500
        return contract.Comparison(
            green=contract.SideMetrics(requests=green_requests, errors=green_errors, latency_ms=30.0),
            blue=contract.SideMetrics(requests=blue_requests, errors=blue_requests // 500, latency_ms=30.0),
            green_enabled=any(origins[GREEN_ORIGIN] for origins in self.front_door.enabled.values()),
        )

    def measure_error_rate(self, payload: Any) -> contract.ErrorRate:
        if not any(origins[GREEN_ORIGIN] for origins in self.front_door.enabled.values()):
            # A rollback moved traffic away: too little to judge, and the watch learns green is out.
            verdict = contract.BakeVerdict.TOO_LITTLE_TRAFFIC
            return contract.ErrorRate(requests=0, errors=0, rate=0.0, verdict=verdict, green_enabled=False)
        self._measured_minutes += payload["window_minutes"]
        if self.spike_from_minute is not None and self._measured_minutes >= self.spike_from_minute:
            return contract.ErrorRate(requests=1000, errors=250, rate=0.25, verdict=contract.BakeVerdict.SPIKE)
        return contract.ErrorRate(requests=1000, errors=2, rate=0.002, verdict=contract.BakeVerdict.HEALTHY)

    # ---- reading what happened

    def operation(self, status_url: str) -> Operation:
        return self.operations[int(status_url.rsplit("/", 1)[1]) - 1]

    def started(self, kind: contract.OperationKind, cluster: str | None = None) -> list[Operation]:
        return [op for op in self.operations if op.kind == kind and cluster in (None, op.cluster_id)]


def _failure(code: str, message: str) -> contract.ActivityFailure:
    """A permanent Azure error, as an activity returns it."""
    return contract.ActivityFailure(permanent_error=contract.ErrorInfo(code=code, message=message))


# ---- the harness, watched


@dataclass(frozen=True)
class FailedExecution:
    instance_id: str
    name: str
    output: Any


class WatchedRun(ScriptedRun):
    """ScriptedRun, plus `after_activity` hooks and the executions that ended Failed (see the module docstring)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.after_activity: list[Callable[[ActivityCall], None]] = []
        self.failed: list[FailedExecution] = []

    def _run_activity(self, iid: str, task_id: int, name: str, input_text: str | None, token: str | None) -> None:
        ran = len(self.calls)
        super()._run_activity(iid, task_id, name, input_text, token)
        if name == NOTIFY_ACTIVITY and len(self.calls) > ran:
            # Notices are a side channel, never a step of the runbook: `calls` stays the runbook's Azure calls
            # (the tests of its order need not list them); FakeAzure.notifications records each notice.
            self.calls.pop()
            return
        if len(self.calls) > ran:  # its result is in the inbox now (or dropped, if its execution ended)
            for hook in list(self.after_activity):
                hook(self.calls[-1])

    def _apply(self, fx: Any) -> None:
        super()._apply(fx)
        for iid in fx.ended:  # every execution that ended, including one re-created later under its id
            row = self.store.instance(iid)
            if row is not None and row["status"] == "Failed":
                self.failed.append(FailedExecution(iid, row["name"], row["output"]))


# ---- one run, and what tests read from it


@dataclass
class UpgradeRun:
    """The started `bluegreen_upgrade` instance on its harness and scripted Azure."""

    harness: WatchedRun
    azure: FakeAzure
    instance_id: str = RUN_ID
    # Names of sub-orchestrations a test makes fail on purpose; any other Failed execution fails the test.
    may_fail: frozenset[str] = frozenset()

    def run(self) -> contract.RunOutput:
        """Drive the run until nothing more can happen, and return its output (it must have ended).

        Shared by every test: no instance of the run's tree (the run, its sub-orchestrations, every
        execution of each) may end Failed, beyond those the test names in `may_fail`.
        """
        self.harness.run()
        state = self.harness.status(self.instance_id)
        assert state["runtimeStatus"] == "Completed", state["output"]
        assert_nothing_failed(self.harness, self.may_fail)
        return contract.RunOutput.model_validate(state["output"])

    def ended_at(self) -> datetime:
        """When the run's instance last changed: its end once it has ended (the clock may have moved on
        since, to fire timers the run cancelled)."""
        return datetime.fromisoformat(self.harness.status(self.instance_id)["lastUpdatedTime"])

    def raise_event(self, name: str, payload: contract.Contract | Any) -> None:
        body = contract.wire(payload) if isinstance(payload, contract.Contract) else payload
        self.harness.raise_event(self.instance_id, name, body)

    def status(self) -> contract.RunStatus:
        """The custom status, as the doors read it now."""
        return contract.RunStatus.model_validate(self.harness.status(self.instance_id)["customStatus"])

    def now(self) -> datetime:
        return self.harness.clock.now()

    def payloads(self, activity: str) -> list[Any]:
        return [call.payload for call in self.harness.calls if call.name == activity]

    def times(self, activity: str) -> list[datetime]:
        return [call.at for call in self.harness.calls if call.name == activity]

    def origin_writes(self) -> list[tuple[str, bool]]:
        """(origin, enabled) per accepted Front Door write, in order."""
        return [(write.origin, write.enabled) for write in self.azure.front_door.writes]

    # ---- moments: a one-shot action when the run gets somewhere

    def during(self, activity: str, action: Callable[[], None] | None = None, nth: int = 1) -> list[contract.RunStatus]:
        """While the `nth` call of `activity` runs: record the status then, and do `action` (raise an event)."""
        seen: list[contract.RunStatus] = []

        def hook(_payload: Any) -> None:
            seen.append(self.status())
            if action is not None:
                action()

        self.azure.on_call(activity, hook, nth=nth)
        return seen

    def once_waiting(
        self, ready: Callable[[contract.RunStatus], bool], action: Callable[[], None]
    ) -> list[contract.RunStatus]:
        """The first time the run waits on a timer with a status that is `ready`: record it, then `action`."""
        seen: list[contract.RunStatus] = []

        def hook(_due: datetime) -> None:
            if seen:
                return
            status = self.status()
            if ready(status):
                seen.append(status)
                action()

        self.harness.before_timer.append(hook)
        return seen

    def after(self, activity: str, action: Callable[[], None], nth: int = 1) -> list[contract.RunStatus]:
        """Right after the `nth` call of `activity` has answered (its result is in the inbox, not yet
        replayed): record the status then, and do `action`. An event raised here arrives after the result
        and before the next timer the run arms."""
        seen: list[contract.RunStatus] = []
        count = 0

        def hook(call: ActivityCall) -> None:
            nonlocal count
            if call.name != activity:
                return
            count += 1
            if count == nth:
                seen.append(self.status())
                action()

        self.harness.after_activity.append(hook)
        return seen

    def at_every_timer(self) -> list[tuple[datetime, contract.RunStatus]]:
        """The run's status (and the time) whenever the harness is about to fire a timer: what the doors
        saw while the run waited."""
        seen: list[tuple[datetime, contract.RunStatus]] = []
        self.harness.before_timer.append(lambda _due: seen.append((self.now(), self.status())))
        return seen

    def answer_approval(self, approved: bool = True, by: str = OPERATOR, comment: str | None = None):
        """An approver who decides as soon as the status says an approval is awaited."""
        decision = contract.ApprovalEvent(approved=approved, by=by, comment=comment)
        return self.once_waiting(awaiting_approval, lambda: self.raise_event("Approval", decision))


def assert_nothing_failed(harness: WatchedRun, may_fail: frozenset[str] = frozenset()) -> None:
    """No execution of any instance ended with runtime status Failed (bar the named sub-orchestrations)."""
    unexpected = [f for f in harness.failed if f.name not in may_fail]
    assert unexpected == [], unexpected
    now = [row["instance_id"] for row in harness.store.instances() if row["status"] == "Failed"]
    assert all(harness.store.instance(iid)["name"] in may_fail for iid in now), now


def awaiting_approval(status: contract.RunStatus) -> bool:
    return status.awaiting == contract.Awaiting.APPROVAL


def awaiting_green_ready(status: contract.RunStatus) -> bool:
    return status.awaiting == contract.Awaiting.GREEN_READY


def green_ready(ok: bool = True, detail: str | None = "deployed", **more: Any) -> contract.GreenReadyEvent:
    """What the green-ready door raises for the team's pipeline."""
    return contract.GreenReadyEvent(ok=ok, by=PIPELINE_CALLER, detail=detail, **more)


def abort(reason: str = "change freeze", **more: Any) -> contract.AbortEvent:
    return contract.AbortEvent(by=OPERATOR, reason=reason, **more)


def rollback(trigger: str = "manual", by: str = OPERATOR, reason: str = "checkout errors", **more: Any):
    return contract.RollbackEvent(trigger=trigger, by=by, reason=reason, **more)


def resolve(reason: str = "Front Door fixed by hand", by: str = OPERATOR, **more: Any) -> contract.ResolveEvent:
    return contract.ResolveEvent(by=by, reason=reason, **more)


def remove_with(name: str) -> str:
    """The command a LeftBehind entry gives for the cluster `name` (in the run's resource group)."""
    return f"az aks delete --subscription {SUBSCRIPTION} --resource-group {RESOURCE_GROUP} --name {name} --yes"


def left(output: contract.RunOutput) -> list[tuple[str, str, str]]:
    """(role, name, state) of every cluster the output says it left behind."""
    return [(entry.role, entry.name, entry.state) for entry in output.left_behind]


def notes(output: contract.RunOutput | contract.RunStatus) -> list[str]:
    return [entry.detail for entry in output.timeline]


def phases(output: contract.RunOutput) -> list[contract.Phase | None]:
    """The timeline's phases in order of first appearance."""
    return list(dict.fromkeys(entry.phase for entry in output.timeline))


def straight_to_the_switch(upgrade: UpgradeRun, **settings: Any) -> None:
    """Green created at the target and approved automatically: what happens before Front Door is
    covered elsewhere, and the tests using this are about what happens from there on."""
    upgrade.azure.plan = create_at_target_plan(approval=AUTO_APPROVAL, **settings)


def during_bake(upgrade: UpgradeRun, minute: int, action: Callable[[], None]) -> list[contract.RunStatus]:
    """`action` while the bake's `minute`-th measurement runs (interval 1 min)."""
    return upgrade.during("measure_error_rate", action, nth=minute)


def children_named(upgrade: UpgradeRun, name: str) -> list[dict]:
    return [
        upgrade.harness.status(row["instance_id"]) for row in upgrade.harness.store.instances() if row["name"] == name
    ]


def assert_serving_only(upgrade: UpgradeRun, origin: str) -> None:
    """Exactly `origin` is enabled at the end, and no write ever left the group without an enabled origin."""
    front_door = upgrade.azure.front_door
    assert front_door.live() == [origin]
    assert front_door.dark_writes() == []


# ---- fixtures


@pytest.fixture
def azure() -> FakeAzure:
    return FakeAzure(VirtualClock())


def start_upgrade(azure: FakeAzure) -> WatchedRun:
    """A harness over `azure` with `bluegreen_upgrade` started as nod-prod-1 by alice over HTTP.

    Nothing has run yet, so the caller may still change `azure`: resolve_run answers once it runs.
    """
    scripted = WatchedRun(app=APP, script=azure, clock=azure.clock)
    request = contract.RunRequest(
        environment="nod-prod", started_by=STARTED_BY, trigger=contract.RunTrigger(kind="http")
    )
    scripted.start("bluegreen_upgrade", RUN_ID, contract.wire(request))
    return scripted


@pytest.fixture
def harness(azure: FakeAzure) -> WatchedRun:
    return start_upgrade(azure)


@pytest.fixture
def upgrade(harness: WatchedRun, azure: FakeAzure) -> UpgradeRun:
    return UpgradeRun(harness, azure)


@pytest.fixture(scope="package")
def happy_path() -> tuple[UpgradeRun, contract.RunOutput]:
    """One happy path with every production default (30-minute bake), approved by an operator, already
    run. Shared by the tests that only read it, since each run costs a few hundred replayed episodes;
    tests that need hooks or other settings start their own."""
    azure = FakeAzure(VirtualClock(), plan=make_plan(bake=Bake()))
    upgrade = UpgradeRun(start_upgrade(azure), azure)
    upgrade.answer_approval(comment="go")
    return upgrade, upgrade.run()
