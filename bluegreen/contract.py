"""The run contract: every shape that crosses the Durable boundary, typed once.

Durable Functions records activity inputs and results, orchestrator inputs and outputs, raised events
and the custom status in the run's history, as JSON. History outlives code: a run started today is
replayed by tomorrow's deployment. So each shape is a pydantic model here, dicts stay on the wire
(`wire()` / `Model.model_validate`), and both ends validate.

Vocabulary: `blue` is the cluster live when the run starts and `green` the new one. They are roles.
What alternates between runs (cluster names, Front Door origins) is a slot, named by what it is: a
cluster name, an origin name. No field here uses a colour for a slot.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from bluegreen.config import Analysis, Approval, Bake, NotifyEvent, SmokeProbe, Switch

# ---- enums


class Phase(StrEnum):
    """The runbook's phases, in order; `rollback` only when traffic goes back to blue."""

    CLONE = "clone"
    START = "start"  # a revert: the retained cluster is started (instead of clone, populate, upgrade)
    POPULATE = "populate"
    UPGRADE = "upgrade"
    VERIFY = "verify"
    APPROVAL = "approval"
    SWITCH = "switch"
    BAKE = "bake"
    RETIRE = "retire"
    ROLLBACK = "rollback"


class Outcome(StrEnum):
    COMPLETED = "completed"  # green live; blue retired (kept, stopped or deleted) as configured
    ROLLED_BACK = "rolled_back"  # traffic moved to green, then back to blue
    REJECTED = "rejected"  # approval denied or timed out
    ABORTED = "aborted"  # stopped by an operator before the switch
    FAILED = "failed"  # an error before the switch; blue stayed live throughout


class Strategy(StrEnum):
    CLONE_THEN_UPGRADE = "clone-then-upgrade"
    CREATE_AT_TARGET = "create-at-target"


class RollbackTrigger(StrEnum):
    ALERT = "alert"
    MANUAL = "manual"
    METRICS = "metrics"
    ANALYSIS = "analysis"  # a gradual step's analysis found green worse than blue


class Awaiting(StrEnum):
    APPROVAL = "approval"
    GREEN_READY = "green_ready"  # the team's pipeline deploys to green and says when it is done


class OperationKind(StrEnum):
    CREATE = "create"
    UPGRADE_CONTROL_PLANE = "upgrade-control-plane"
    UPGRADE_POOL = "upgrade-pool"
    STOP = "stop"
    START = "start"
    DELETE = "delete"


class OperationState(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


class BakeVerdict(StrEnum):
    HEALTHY = "healthy"
    SPIKE = "spike"
    TOO_LITTLE_TRAFFIC = "too_little_traffic"


FrontDoorKind = Literal["standard", "classic"]
RetireMode = Literal["keep", "stop", "delete"]
# What a run does: upgrade (a new green from blue) or revert (back to the cluster a run retained).
RunKind = Literal["upgrade", "revert"]
# Why a cluster is retained: it was blue when a run completed, green when traffic came back, or the
# cluster a revert moved away from.
RetiredAs = Literal["retired", "rolled-back", "reverted-from"]
GreenAddress = Literal["fixed", "discover"]


# ---- base


class Contract(BaseModel):
    """A shape in history: strict (a typo is an error, not a dropped field), immutable, cheap to import."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


Model = TypeVar("Model", bound=Contract)
Wire = dict[str, JsonValue]


def wire(model: Contract) -> Wire:
    """The JSON object a model travels as (activity input or result, event, status, output)."""
    return model.model_dump(mode="json")


class ErrorInfo(Contract):
    code: str
    message: str


class ActivityFailure(Contract):
    """What an activity returns instead of its result when retrying cannot help (a permanent Azure error)."""

    permanent_error: ErrorInfo


# ---- the run request and the plan


class RunTrigger(Contract):
    kind: Literal["http", "eventgrid"]
    event_id: str | None = None
    event_type: str | None = None


class RunRequest(Contract):
    """The orchestrator's input, written by a trigger. Identities come from the platform, never a body."""

    environment: str
    kind: RunKind = "upgrade"
    target_version: str | None = None
    strategy: Strategy | None = None
    reason: str | None = None
    started_by: str
    trigger: RunTrigger


class ResolveInput(Contract):
    run_id: str
    request: RunRequest


class LiveCluster(Contract):
    """Blue: the cluster live when the run starts (read from Front Door)."""

    cluster_id: str
    name: str
    version: str
    pools: list[str]


class GreenOverrides(Contract):
    """What green takes from the configuration where blue's own value cannot be used (see bluegreen/green.py)."""

    service_principal_secret: str | None = None  # a secret reference (a service-principal blue)
    subnet_id: str | None = None  # clusters.green_subnet
    outbound_ips: list[str] = []  # public IP ids green's load balancer egresses from
    outbound_ip_prefixes: list[str] = []


class NewCluster(Contract):
    """Green: the cluster this run creates in the idle slot (a revert: the retained cluster it goes back to)."""

    cluster_id: str
    name: str
    overrides: GreenOverrides = GreenOverrides()


class RetainedCluster(Contract):
    """A cluster this environment retired and keeps for a while (its tags say so): revertible, then deleted."""

    cluster_id: str
    name: str
    environment: str
    retired_by: str  # the run that retired it
    retired_as: RetiredAs
    retained_until: str  # ISO 8601 UTC; the retention sweep deletes it after this
    version: str | None = None
    power_state: str | None = None  # Running | Stopped
    provisioning_state: str | None = None


class OriginPair(Contract):
    """One origin group (classic: backend pool) and the origin serving each role in it."""

    group: str
    blue: str  # origin name (classic: backend address) in front of blue
    green: str  # the one in front of green


class TrafficPlan(Contract):
    kind: FrontDoorKind
    front_door_id: str  # Standard/Premium: the profile; classic: the front door
    groups: list[OriginPair] = Field(min_length=1)
    green_address: GreenAddress = "fixed"
    # gradual: both origins take traffic by weight during the switch, so a rollback door also shifts weights
    mode: Literal["all-at-once", "gradual"] = "all-at-once"


class WorkloadsPlan(Contract):
    """How the applications reach green. Secret *references* only: secrets are read by the activity that needs them."""

    mode: Literal["gitops", "pipeline", "none"]
    timeout_minutes: int
    system_namespaces: list[str]
    protected_settings: dict[str, dict[str, str]] = {}  # configuration name -> setting key -> secret reference
    extensions: list[str] = []  # blue's extensions to copy (gitops)
    flux_configurations: list[str] = []  # blue's Flux configurations to copy (gitops)
    pipeline_url: str | None = None
    pipeline_secret: str | None = None  # reference to the HMAC key
    pipeline_callers: list[str] = []


class Check(Contract):
    """A pre-check of the plan: `block` stops the run before anything is written."""

    name: str
    status: Literal["ok", "warn", "block"]
    detail: str


class DefinitionChange(Contract):
    """One top-level setting of green's definition against blue's: what the plan shows an operator."""

    field: str
    change: Literal["carried", "changed", "dropped"]
    reason: str
    blue: JsonValue = None
    green: JsonValue = None


class GrantToCopy(Contract):
    """A role assignment one of blue's identities holds, that the identity replacing it on green needs too."""

    identity: str  # which of green's identities: kubelet | cluster | addon:<name>
    role_definition_id: str
    scope: str  # blue's scope, or green itself where blue's grant was on blue
    blue_principal: str
    blue_assignment: str  # the role assignment copied (its id)
    condition: str | None = None  # an ABAC condition is copied with its grant, never dropped
    condition_version: str | None = None


class FederationToCopy(Contract):
    """A federated credential of a user-assigned identity on blue's OIDC issuer: green's issuer needs a twin."""

    identity_id: str
    name: str
    subject: str
    audiences: list[str]
    twin_name: str


class WiringToCopy(Contract):
    """Cluster-bound Azure wiring of blue (Event Grid, alerts, diagnostic settings) that green gets a twin of."""

    kind: Literal["system_topic", "metric_alert", "activity_log_alert", "diagnostic_setting"]
    source_id: str
    twin_name: str
    subscriptions: list[str] = []  # a system topic's event subscriptions (names), copied with it


class Inheritance(Contract):
    """What green inherits beyond its own definition, decided at the start of the run."""

    grants: list[GrantToCopy] = []
    federations: list[FederationToCopy] = []
    wiring: list[WiringToCopy] = []


class Inherited(Contract):
    """Something the run created for green (or found already there), to be removed with green."""

    kind: Literal[
        "role_assignment",
        "federated_credential",
        "system_topic",
        "event_subscription",
        "metric_alert",
        "activity_log_alert",
        "diagnostic_setting",
    ]
    id: str
    twin_of: str | None = None
    removed: bool = False  # removed again with green


class RunSettings(Contract):
    poll_seconds: int
    verify_timeout_minutes: int
    smoke: SmokeProbe
    approval: Approval
    bake: Bake
    retire: RetireMode
    after_rollback: RetireMode
    retain_hours: int = 72
    keep_failed_green: bool
    switch_timeout_minutes: int
    workloads: WorkloadsPlan
    switch: Switch = Switch()  # mode, gradual steps, their analysis, edge convergence


class Plan(Contract):
    """Everything a run decided at its start. Never changed afterwards: later facts are step results."""

    run_id: str
    environment: str
    kind: RunKind = "upgrade"
    strategy: Strategy
    target_version: str
    clone_version: str
    upgrade_path: list[str]  # the hops green is upgraded through (empty for create-at-target)
    version_path: list[str]  # blue's version to the target, one minor per hop
    blue: LiveCluster
    green: NewCluster
    traffic: TrafficPlan
    settings: RunSettings
    inheritance: Inheritance = Inheritance()
    checks: list[Check] = []
    # The retained cluster in the idle slot that the run deletes before it creates green (retire.reclaim_slot).
    reclaim: RetainedCluster | None = None
    # A revert: the retained cluster it goes back to (green), as it was when the run started.
    revert_to: RetainedCluster | None = None


class PlannedWrite(Contract):
    """One ARM write the run will make, as `plan` lists them."""

    method: Literal["PUT", "PATCH", "POST", "DELETE"]
    resource: str
    why: str


class PlanReport(Contract):
    """What a run would do, shown before anything is written (`python -m bluegreen plan`, GET .../plan)."""

    environment: str
    ok: bool  # no check blocks
    strategy: Strategy
    live_origin: str
    blue: LiveCluster
    green: NewCluster
    target_version: str
    clone_version: str
    upgrade_path: list[str]
    version_path: list[str]
    definition: list[DefinitionChange]
    inheritance: Inheritance
    checks: list[Check]
    writes: list[PlannedWrite]
    reclaim: RetainedCluster | None = None


# ---- cluster operations (a start activity, then checks on durable timers)


class CreateGreen(Contract):
    run_id: str
    environment: str
    blue_id: str
    green_id: str
    green_name: str
    version: str
    origin: str  # the origin (first group) that will serve green: recorded in its tags
    overrides: GreenOverrides = GreenOverrides()


class ClusterTarget(Contract):
    cluster_id: str
    # Act only on a cluster this run created (its run tag): how removing green can never delete the
    # previous run's retired blue, or anything else that happens to sit in the slot.
    only_if_run: str | None = None
    # Act only on a cluster this environment retired by that run (its retention tags): how reclaiming the
    # slot or the retention sweep can never delete a cluster the environment did not retire.
    only_if_retired_by: str | None = None


class ControlPlaneUpgrade(Contract):
    cluster_id: str
    version: str


class PoolUpgrade(Contract):
    cluster_id: str
    pool: str
    version: str


class OperationHandle(Contract):
    """A started ARM operation: its status URL (Azure-AsyncOperation or Location), or nothing to wait for."""

    status_url: str | None
    status: Literal["InProgress", "Succeeded", "Existing", "Gone"]


class OperationCheck(Contract):
    cluster_id: str
    operation: OperationHandle
    expect_gone: bool = False
    pool: str | None = None  # an agent-pool operation: without a status URL, that pool's state decides


class OperationStatus(Contract):
    status: OperationState
    error: ErrorInfo | None = None


class ClusterOperation(Contract):
    """Input of the `cluster_operation` sub-orchestration: one long AKS operation, started and watched."""

    kind: OperationKind
    cluster_id: str
    what: str  # for the reason when it fails: "creating green", "node pool user upgrade to 1.33.6"
    poll_seconds: int
    version: str | None = None
    pool: str | None = None
    create: CreateGreen | None = None
    only_if_run: str | None = None  # stop / delete: only a cluster this run created
    only_if_retired_by: str | None = None  # stop / delete: only a cluster that run retired
    # Set when the sub-orchestration continues as new: the operation it is already watching.
    started: OperationHandle | None = None
    polls: int = 0


class OperationResult(Contract):
    succeeded: bool
    error: ErrorInfo | None = None
    polls: int = 0


# ---- green's wiring: grants, federated credentials, Event Grid, alerts, diagnostic settings


class WireGreen(Contract):
    blue_id: str
    green_id: str
    run_id: str
    inheritance: Inheritance


class Wired(Contract):
    created: list[Inherited]


class Unwired(Contract):
    """What was removed of a cluster's wiring before the cluster is deleted (its grants, credentials, twins)."""

    removed: list[str]
    failed: list[str] = []  # ids that could not be removed, with why: "id: code"


# ---- retention: a retired cluster stays for a while (revertible), then the sweep deletes it


class MarkRetained(Contract):
    """Tag a cluster as retained by this environment until `retained_until` (before it is stopped)."""

    cluster_id: str
    environment: str
    origin: str  # the origin in front of it: how a `live_id` environment finds its slot's cluster
    run_id: str
    retired_as: RetiredAs
    retained_until: str


class ReleaseRetained(Contract):
    """Take the retention tags off a cluster a revert made live again (only if `retired_by` still says so)."""

    cluster_id: str
    retired_by: str


class Retention(Contract):
    """The cluster's retention after a mark or release: None when it is not (or no longer) retained."""

    retained: RetainedCluster | None = None


class SweepInput(Contract):
    now: str  # ISO 8601 UTC: the sweep's time comes from its orchestration, never the worker's clock
    skip_environments: list[str] = []  # environments with a run in progress: their slots are the run's


class SweepResult(Contract):
    deleting: list[RetainedCluster] = []  # expired: grants and wiring removed, delete started
    retained: list[RetainedCluster] = []  # not yet expired
    skipped: list[str] = []  # why a cluster or an environment was left alone this time
    failed: list[str] = []


class SlotState(Contract):
    """One Front Door origin of an environment and the cluster behind it."""

    origin: str
    state: Literal["live", "empty", "retained", "green", "occupied"]
    cluster_id: str | None = None
    name: str | None = None
    version: str | None = None
    power_state: str | None = None
    retained: RetainedCluster | None = None
    run_id: str | None = None  # `green`: the run that created it
    detail: str = ""


class EnvironmentRun(Contract):
    id: str
    kind: RunKind
    runtime_status: str
    outcome: Outcome | None = None
    reason: str | None = None
    started_by: str | None = None
    created: str | None = None


class EnvironmentStatus(Contract):
    """GET /api/environments/{name}: what is live, what the idle slot holds, the last runs, the next deletion."""

    environment: str
    live: SlotState | None = None
    idle: SlotState | None = None
    active_run: str | None = None
    runs: list[EnvironmentRun] = []
    next_deletion: RetainedCluster | None = None
    can_revert: bool = False
    problems: list[str] = []  # what could not be read (Azure unavailable, a split Front Door)


# ---- populate: the applications reach green


class CopyConfigurations(Contract):
    """Copy blue's extensions, or its Flux configurations, onto green (long-running PUTs, started here)."""

    blue_id: str
    green_id: str
    kind: Literal["extensions", "flux_configurations"]
    names: list[str]
    protected_settings: dict[str, dict[str, str]] = {}


class ConfigurationsCopied(Contract):
    started: list[str]  # PUTs sent now
    existing: list[str] = []  # already on green (a repeated start)


class ConfigurationsCheck(Contract):
    cluster_id: str
    kind: Literal["extensions", "flux_configurations"]
    names: list[str]


class ConfigurationState(Contract):
    name: str
    provisioning_state: str | None = None
    compliance_state: str | None = None  # Flux configurations: Compliant, Non-Compliant, Pending, Suspended, Unknown
    message: str | None = None


class ConfigurationsState(Contract):
    states: list[ConfigurationState]

    def ready(self, kind: str) -> bool:
        if kind == "extensions":
            return all(s.provisioning_state == "Succeeded" for s in self.states)
        return all(s.provisioning_state == "Succeeded" and s.compliance_state == "Compliant" for s in self.states)

    def failed(self) -> list[ConfigurationState]:
        return [s for s in self.states if s.provisioning_state in ("Failed", "Canceled")]


class GitopsPopulate(Contract):
    """Input of the `gitops_populate` sub-orchestration."""

    blue_id: str
    green_id: str
    workloads: WorkloadsPlan
    poll_seconds: int
    deadline: datetime
    # Carried over when it continues as new: the stage it is in, and that stage's copies already sent.
    stage: Literal["extensions", "flux_configurations"] = "extensions"
    copied: bool = False
    polls: int = 0


class PopulateResult(Contract):
    succeeded: bool
    detail: str
    configurations: list[ConfigurationState] = []
    error: ErrorInfo | None = None


class PipelineNotice(Contract):
    """What the team's pipeline is told (signed with the HMAC key the reference names)."""

    url: str
    secret: str  # a reference, resolved by the activity
    run_id: str
    environment: str
    green_id: str
    green_name: str
    resource_group: str
    blue_id: str
    target_version: str
    deadline: str


class PipelineNotified(Contract):
    status: int
    callback_url: str


class GreenReadyEvent(Contract):
    ok: bool
    by: str
    detail: str | None = None
    id: str | None = None


# ---- Front Door


class TrafficRead(Contract):
    traffic: TrafficPlan


class OriginState(Contract):
    key: str  # Standard/Premium: the origin's name; classic: the backend's address
    host: str
    enabled: bool
    priority: int | None = None  # None: never set (Front Door then routes as if 1)
    weight: int | None = None  # None: never set (Front Door then routes as if 50)
    deployed: bool  # Front Door reports this origin's last change deployed


class GroupState(Contract):
    group: str
    origins: list[OriginState]

    @property
    def deployed(self) -> bool:
        return all(o.deployed for o in self.origins)

    def origin(self, key: str) -> OriginState | None:
        wanted = key.lower()
        return next((o for o in self.origins if o.key.lower() == wanted), None)


class TrafficSnapshot(Contract):
    groups: list[GroupState]

    def group(self, name: str) -> GroupState | None:
        return next((g for g in self.groups if g.group.lower() == name.lower()), None)


class OriginChange(Contract):
    traffic: TrafficPlan
    group: str
    origin: str
    enabled: bool


class OriginChanged(Contract):
    changed: bool


class OriginSettings(Contract):
    """What one origin should have; a None field is left as it is."""

    enabled: bool | None = None
    weight: int | None = Field(None, ge=1, le=1000)
    priority: int | None = Field(None, ge=1, le=5)


class WeightChange(Contract):
    """Input of `set_origin_weights`: one group's origins, in the order given (Standard: a PATCH each)."""

    traffic: TrafficPlan
    group: str
    origins: list[tuple[str, OriginSettings]]  # (origin key, settings), written in this order


class ShareRead(Contract):
    """Input of `measure_traffic_share`: requests per origin over the window ending at `end`."""

    traffic: TrafficPlan
    end: datetime
    window_minutes: int = 1


class GroupShare(Contract):
    group: str
    blue_requests: int
    green_requests: int
    # Green's share by Front Door's configuration now (weights, enabled states): what the edge moves toward.
    configured_green: float | None = None

    @property
    def requests(self) -> int:
        return self.blue_requests + self.green_requests

    @property
    def green_share(self) -> float | None:
        return self.green_requests / self.requests if self.requests else None


class TrafficShares(Contract):
    groups: list[GroupShare]


class ConvergenceWait(Contract):
    """Input of the `edge_convergence` sub-orchestration: watch the requests until they follow the change."""

    traffic: TrafficPlan
    green_share: float = Field(ge=0, le=1)  # what the change intends, in every group
    tolerance: float
    min_requests: int
    changed_at: datetime  # when the change was written (the minutes are counted from it)
    deadline: datetime
    polls: int = 0


class ConvergenceResult(Contract):
    converged: bool
    superseded: bool = False  # Front Door was changed again (a rollback) before the edge carried this change
    minutes: float  # from the change to the measurement that matched (or the deadline)
    shares: list[GroupShare] = []  # the last measurement, per group
    polls: int = 0

    @property
    def observed(self) -> float | None:
        """Green's share over every group in the last measurement."""
        blue = sum(g.blue_requests for g in self.shares)
        green = sum(g.green_requests for g in self.shares)
        return green / (blue + green) if blue + green else None


class TrafficMove(Contract):
    """One traffic change, and when the edge really carried it (edge convergence)."""

    at: str  # when the change was written
    toward: Literal["green", "blue"]
    intended_green: float  # share of requests meant for green, 0..1
    observed_green: float | None  # the share measured last
    converged: bool
    minutes: float | None  # from the change until the observed share matched (None: it never did)
    detail: str


class DeploymentWait(Contract):
    """Input of the `front_door_deployment` sub-orchestration: watch until Front Door has deployed."""

    traffic: TrafficPlan
    deadline: datetime
    polls: int = 0


class DeploymentResult(Contract):
    deployed: bool
    polls: int


class GreenOrigins(Contract):
    """Green's origin addresses, per group (fixed in configuration, or pointed at green's ingress)."""

    hosts: dict[str, str]  # group -> host name or address
    changed: list[str] = []  # groups whose origin was re-pointed


class GreenOriginsInput(Contract):
    cluster_id: str
    traffic: TrafficPlan


# ---- verification


class ClusterSummary(Contract):
    id: str | None = None
    name: str | None = None
    location: str | None = None
    provisioning_state: str | None = None
    power_state: str | None = None
    version: str | None = None  # running (currentKubernetesVersion)
    requested_version: str | None = None  # asked for (kubernetesVersion): differs while an upgrade runs
    pools: dict[str, str | None] = {}  # running per pool (currentOrchestratorVersion)
    requested_pools: dict[str, str | None] = {}  # asked for per pool (orchestratorVersion)
    pool_states: dict[str, str | None] = {}  # provisioningState per pool
    tags: dict[str, str] = {}
    error: ErrorInfo | None = None


class NodeSummary(Contract):
    total: int
    ready: int
    versions: dict[str, int]  # kubelet version -> node count (a count, not a list: the status stays small)


class DeploymentSummary(Contract):
    total: int
    available: int
    unavailable: list[str]


class SmokeResult(Contract):
    url: str
    status: int | None
    expected: int
    ok: bool
    error: str | None = None


class VerifyInput(Contract):
    cluster_id: str
    target_version: str
    traffic: TrafficPlan
    smoke: SmokeProbe
    blue_id: str | None = None  # parity: green must run what blue runs
    system_namespaces: list[str] = []
    flux_configurations: list[str] = []  # must be Compliant on green


class ParityReport(Contract):
    """Green against blue, from the inside: what blue runs outside the system namespaces, green must run too.

    Entries read `namespace/Kind/name` (plus `ready/desired` when unavailable); lists are cut short so the
    report fits the custom status.
    """

    compared: int  # workloads of blue compared
    missing: list[str] = []
    unavailable: list[str] = []
    namespaces_missing: list[str] = []
    services_missing: list[str] = []
    flux_not_compliant: list[str] = []

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.unavailable
            or self.namespaces_missing
            or self.services_missing
            or self.flux_not_compliant
        )


class VerificationReport(Contract):
    cluster: ClusterSummary | None = None
    nodes: NodeSummary | None = None
    deployments: DeploymentSummary | None = None
    parity: ParityReport | None = None
    origins: dict[str, OriginState] = {}  # group -> green's origin in it
    smoke: SmokeResult | None = None
    problems: list[str] = []
    passed: bool = False


# ---- bake


class ErrorRateInput(Contract):
    traffic: TrafficPlan
    hosts: dict[str, str]  # group -> green's origin address
    end: datetime
    window_minutes: int
    max_error_rate: float
    min_requests: int


class ErrorRate(Contract):
    requests: int
    errors: int
    rate: float
    verdict: BakeVerdict
    green_enabled: bool = True  # False once green's origins no longer take traffic (a rollback moved it)


class BakeWatch(Contract):
    """Input of the `bake_watch` sub-orchestration."""

    traffic: TrafficPlan
    hosts: dict[str, str]
    bake: Bake
    elapsed_minutes: int = 0  # carried over when the watch continues as new


class BakeProgress(Contract):
    elapsed_minutes: int
    last: ErrorRate


class BakeResult(Contract):
    verdict: Literal["clean", "spike", "stopped"]  # stopped: green no longer takes traffic
    elapsed_minutes: int
    last: ErrorRate | None = None
    detail: str


# ---- gradual shift: each step analysed, green against blue


class SideMetrics(Contract):
    """What Front Door measured for one role's origins (every group) over a window."""

    requests: int = 0
    errors: int = 0
    latency_ms: float | None = None  # mean origin latency, when asked for and measured

    @property
    def rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def __add__(self, other: SideMetrics) -> SideMetrics:
        requests = self.requests + other.requests
        latency = _weighted_latency(self, other)
        return SideMetrics(requests=requests, errors=self.errors + other.errors, latency_ms=latency)


def _weighted_latency(a: SideMetrics, b: SideMetrics) -> float | None:
    measured = [(m.latency_ms, m.requests) for m in (a, b) if m.latency_ms is not None]
    if not measured:
        return None
    weight = sum(max(n, 1) for _, n in measured)
    return round(sum(lat * max(n, 1) for lat, n in measured) / weight, 3)


class ComparisonRead(Contract):
    """Input of `measure_comparison`: green's and blue's origins over the window ending at `end`."""

    traffic: TrafficPlan
    end: datetime
    window_minutes: int
    latency: bool = False


class Comparison(Contract):
    green: SideMetrics
    blue: SideMetrics
    green_enabled: bool = True  # False once green's origins no longer take traffic (a rollback moved it)


class StepAnalysis(Contract):
    """Input of the `step_analysis` sub-orchestration: one gradual step, watched for `step_minutes`."""

    traffic: TrafficPlan
    percent: int
    steps: list[int] = []  # every step of the switch, for the status
    step_minutes: int
    analysis: Analysis
    elapsed_minutes: int = 0  # carried over when it continues as new
    green: SideMetrics = SideMetrics()  # the step's totals so far
    blue: SideMetrics = SideMetrics()


class StepProgress(Contract):
    """The custom status of a gradual switch: the step and its numbers so far."""

    percent: int
    steps: list[int]
    elapsed_minutes: int = 0
    green: SideMetrics = SideMetrics()
    blue: SideMetrics = SideMetrics()


class StepResult(Contract):
    verdict: Literal["pass", "fail", "stopped"]  # stopped: green no longer takes traffic
    percent: int
    elapsed_minutes: int
    green: SideMetrics
    blue: SideMetrics
    detail: str


# ---- events raised on a run (payloads; the host may deliver them as JSON text)


class ApprovalEvent(Contract):
    approved: bool
    by: str
    comment: str | None = None
    id: str | None = None  # made by the door, so it can tell whether the run took this decision
    deadline: str | None = None  # the wait the door saw: a decision for another wait is not this one's


class RollbackEvent(Contract):
    trigger: Literal["alert", "manual"]
    by: str
    reason: str
    id: str | None = None
    alert_rule: str | None = None
    alert_id: str | None = None
    fired_at: str | None = None
    # Groups in which the door that raised it already enabled blue's origin (make-before-break's first step).
    blue_enabled_in: list[str] = []


class AbortEvent(Contract):
    by: str
    reason: str
    id: str | None = None


class ResolveEvent(Contract):
    """An operator's word that a run stuck routing back may end: they take it from here."""

    by: str
    reason: str
    id: str | None = None


# ---- what a run records and publishes


class TimelineEntry(Contract):
    phase: Phase | None
    at: str
    detail: str


class Decision(Contract):
    approved: bool
    by: str | None
    comment: str | None
    at: str
    event_id: str | None = None


class RollbackRecord(Contract):
    trigger: RollbackTrigger
    at: str
    detail: str
    by: str | None = None
    event_id: str | None = None
    # From the rollback to the measurement that saw blue carry the traffic again (edge convergence).
    blue_back_after_minutes: float | None = None
    blue_share: float | None = None  # blue's share of requests at that measurement


class LeftBehind(Contract):
    """A cluster the run leaves in place, and why: nothing runs that the outcome does not name."""

    cluster_id: str
    name: str
    role: Literal["blue", "green"]
    state: Literal["running", "stopped", "unknown"]
    why: str
    remove_with: str
    retained_until: str | None = None  # set for a retained cluster: the retention sweep deletes it then


class RunResources(Contract):
    front_door: str
    blue: str
    green: str


class ClusterVersion(Contract):
    cluster: str
    version: str


class UpgradeProgress(Contract):
    hop: str
    path: list[str]


class ApprovalWait(Contract):
    deadline: str
    passed: bool


class PopulateProgress(Contract):
    mode: Literal["gitops", "pipeline", "none"]
    configurations: list[ConfigurationState] = []
    notified: str | None = None  # pipeline mode: where the notice went


class RunStatus(Contract):
    """The custom status: where the run is, and exactly what it accepts now. The doors decide from this alone."""

    kind: RunKind = "upgrade"
    phase: Phase | None = None
    message: str = ""
    started_at: str | None = None  # when the current phase began
    outcome: Outcome | None = None  # set once, when the run has finished
    abortable: bool = False  # an Abort is still honoured (before the switch)
    awaiting: Awaiting | None = None  # an Approval is awaited now
    deadline: str | None = None  # until when the awaited decision may come
    can_roll_back: bool = False  # a Rollback is honoured now (switch and bake)
    can_resolve_manually: bool = False  # stuck routing back: an operator may end the run by hand
    waiting_for: str | None = None  # what the run waits on while it retries (Front Door, a cleanup)
    abort: AbortEvent | None = None  # the Abort the run is acting on
    started_by: str | None = None
    resources: RunResources | None = None
    traffic: TrafficPlan | None = None  # what a rollback door must enable: blue's origins
    progress: UpgradeProgress | ApprovalWait | PopulateProgress | StepProgress | BakeProgress | None = None
    verification: VerificationReport | None = None
    approval: Decision | None = None
    rollback: RollbackRecord | None = None
    traffic_moves: list[TrafficMove] = []  # each traffic change and when the edge carried it
    timeline: list[TimelineEntry] = []


class RunOutput(Contract):
    """The orchestration's output: the outcome, a one-line reason, what is live, and the whole timeline."""

    outcome: Outcome
    reason: str | None
    instance_id: str
    environment: str
    kind: RunKind = "upgrade"
    started_by: str | None
    timeline: list[TimelineEntry]
    resources: RunResources | None = None
    verification: VerificationReport | None = None
    approval: Decision | None = None
    rollback: RollbackRecord | None = None
    target_version: str | None = None
    upgrade_path: list[str] = []
    strategy: Strategy | None = None
    live: str | None = None  # the cluster serving users at the end
    blue: ClusterVersion | None = None
    green: ClusterVersion | None = None  # the new cluster, if one was created
    left_behind: list[LeftBehind] = []  # every cluster of the run still there at the end, and why
    inherited: list[Inherited] = []  # what the run created for green (grants, credentials, wiring), by id
    traffic_moves: list[TrafficMove] = []  # each traffic change and when the edge carried it


# ---- notifications: one notice per moment of a run, to every target the environment configures for it


class Notice(Contract):
    """A moment of a run to tell people about (docs/notifications.md). Facts only: the targets, their URLs and
    keys are read by the activity from the environment's configuration, never carried in history."""

    event: NotifyEvent
    run_id: str
    environment: str
    kind: RunKind = "upgrade"
    at: str  # the orchestration's time of the moment (ISO 8601 UTC)
    message: str = ""  # the run's status message then
    phase: Phase | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    deadline: str | None = None  # the approval's
    trigger: RollbackTrigger | None = None  # a rollback's
    blue: str | None = None  # "name (version)"
    green: str | None = None
    target_version: str | None = None
    started_by: str | None = None


class TargetResult(Contract):
    """What became of one notification target: never its URL (that may be the secret)."""

    target: str  # its configured name, or kind#n
    kind: Literal["teams", "slack", "webhook"]
    sent: bool
    status: int | None = None  # the last HTTP status
    error: str | None = None  # why not sent: "HTTP 500", "Timeout", "SecretNotFound: ..."


class NotifyResult(Contract):
    event: NotifyEvent
    results: list[TargetResult] = []
    # The events the environment has a target for (None: its configuration could not be read): the run
    # calls the activity for no other event afterwards, so an environment without targets costs one call.
    configured: list[NotifyEvent] | None = None
    problem: str | None = None
