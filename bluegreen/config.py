"""Environment configuration: one checked-in TOML file, validated with pydantic.

An environment is one application's pair of clusters plus its Front Door route. Each slot is a
cluster and the Front Door origin in front of it (`clusters.names[i]` behind `front_door.origins[i]`).
Which slot is live is read from Front Door at the start of every run; the other receives the new
cluster. Blue and green are roles in a run (live and new), never slot names.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bluegreen.arm_ids import ResourceId

DEFAULT_CONFIG_FILE = "environments.toml"
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,61}[A-Za-z0-9]$")


class ConfigError(ValueError):
    """A configuration file that cannot be used, with every problem named by its field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _arm_id(value: str) -> str:
    ResourceId.parse(value)
    return value


# A secret's source: a Key Vault secret (read with the Function App's identity) or an app setting.
_KEY_VAULT_SECRET = re.compile(
    r"https://[a-z0-9-]{3,24}\.vault\.azure\.net/secrets/[A-Za-z0-9-]{1,127}(/[0-9a-f]{32})?"
)
_APP_SETTING = re.compile(r"appsetting:[A-Za-z_][A-Za-z0-9_]{0,127}")
# Namespaces AKS and its add-ons own: parity with blue ignores them (their content differs by design).
DEFAULT_SYSTEM_NAMESPACES = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "default",
    "gatekeeper-system",
    "flux-system",
    "app-routing-system",
    "calico-system",
    "tigera-operator",
    "aks-command",
)


def _secret_ref(value: str) -> str:
    if not (_KEY_VAULT_SECRET.fullmatch(value) or _APP_SETTING.fullmatch(value)):
        raise ValueError(
            "a secret reference is a Key Vault secret URI (https://VAULT.vault.azure.net/secrets/NAME[/VERSION]) "
            "or appsetting:NAME"
        )
    return value


SecretRef = Annotated[str, AfterValidator(_secret_ref)]


class Clusters(_Model):
    """The two clusters that alternate as the live one (`names`), or the live cluster's id (`live_id`), in
    which case each run's new cluster gets a name derived from the environment and the run."""

    subscription: str | None = None
    resource_group: str | None = None
    names: list[str] | None = Field(None, description="the two cluster names, in the order of front_door.origins")
    live_id: str | None = Field(None, description="the cluster live when the environment was configured")
    # Where blue's own value cannot be green's (bluegreen/green.py says why for each).
    green_subnet: str | None = Field(None, description="subnet id for green's pools (kubenet, or a full subnet)")
    service_principal_secret: SecretRef | None = Field(
        None, description="a service-principal blue: where green's client secret comes from (never returned by ARM)"
    )
    green_outbound_ips: list[str] = Field(default_factory=list, description="public IP ids green egresses from")
    green_outbound_ip_prefixes: list[str] = Field(default_factory=list, description="public IP prefix ids, likewise")

    @field_validator("green_outbound_ips", "green_outbound_ip_prefixes")
    @classmethod
    def _ids(cls, values: list[str]) -> list[str]:
        return [_arm_id(v) for v in values]

    @field_validator("green_subnet")
    @classmethod
    def _subnet(cls, value: str | None) -> str | None:
        if value is not None and "/subnets/" not in _arm_id(value).lower():
            raise ValueError("must be a Microsoft.Network/virtualNetworks/subnets id")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Clusters:
        if (self.names is None) == (self.live_id is None):
            raise ValueError("give either `names` (two clusters) with subscription/resource_group, or `live_id`")
        if self.names is not None:
            if len(self.names) != 2:
                raise ValueError("`names` needs exactly two cluster names")
            if self.names[0].lower() == self.names[1].lower():
                raise ValueError("the two `names` must differ")
            if not (self.subscription and self.resource_group):
                raise ValueError("`names` needs `subscription` and `resource_group`")
            for name in self.names:
                if not _CLUSTER_NAME.fullmatch(name):
                    raise ValueError(f"{name!r} is not a valid AKS cluster name")
        if self.live_id is not None:
            rid = ResourceId.parse(self.live_id)
            if rid.type.lower() != "microsoft.containerservice/managedclusters":
                raise ValueError("`live_id` must be a Microsoft.ContainerService/managedClusters id")
        return self

    @property
    def location_subscription(self) -> str:
        return self.subscription or ResourceId.parse(str(self.live_id)).subscription

    @property
    def location_resource_group(self) -> str:
        return self.resource_group or ResourceId.parse(str(self.live_id)).resource_group


class OriginGroup(_Model):
    """One origin group (standard) or backend pool (classic) and its two origins, paired with the clusters."""

    origin_group: str = Field(min_length=1, description="origin group (standard) or backend pool (classic)")
    origins: list[str] = Field(
        description="the two origin names (standard) or backend addresses (classic); origins[i] serves names[i]"
    )

    @model_validator(mode="after")
    def _pair(self) -> OriginGroup:
        _check_pair(self.origins)
        return self


def _check_pair(origins: list[str]) -> None:
    if len(origins) != 2:
        raise ValueError("`origins` needs exactly two origins, one per cluster")
    if origins[0].lower() == origins[1].lower():
        raise ValueError("the two `origins` must differ")


class FrontDoor(_Model):
    """Where the environment's traffic is switched: one origin group (`origin_group` + `origins`), or several
    (`[[groups]]`, e.g. one per application or host name the clusters serve), all switched together.

    After validation `groups` lists every group and `origin_group`/`origins` are the first group's: the first
    group's origins name the slots (a retained cluster's tag, the environment's status).
    """

    kind: Literal["standard", "classic"] = "standard"
    id: Annotated[str, Field(description="profile id (standard) or front door id (classic)")]
    origin_group: str = Field("", description="origin group (standard) or backend pool (classic); or `groups`")
    origins: list[str] = Field(
        default_factory=list,
        description="the two origin names (standard) or backend addresses (classic); origins[i] serves names[i]",
    )
    groups: list[OriginGroup] = Field(
        default_factory=list, description="several origin groups (backend pools), each with its two origins"
    )
    green_address: Literal["fixed", "discover"] = "fixed"

    _check_id = field_validator("id")(_arm_id)

    @model_validator(mode="after")
    def _check(self) -> FrontDoor:
        given = self.model_fields_set
        single = {"origin_group", "origins"} & given
        if single and "groups" in given:
            raise ValueError(
                "give either `origin_group` + `origins` (one origin group) or `groups` (several), not both"
            )
        if "groups" in given:
            if not self.groups:
                raise ValueError("`groups` needs at least one origin group")
            groups = self.groups
        else:
            if single != {"origin_group", "origins"} or not self.origin_group:
                missing = " and ".join(f"`{f}`" for f in ("origin_group", "origins") if f not in single)
                raise ValueError(
                    f"missing {missing or '`origin_group`'}: give `origin_group` + `origins` (one origin group) "
                    "or `[[groups]]` with `origin_group` + `origins` each"
                )
            _check_pair(self.origins)
            groups = [OriginGroup(origin_group=self.origin_group, origins=list(self.origins))]
        names = [g.origin_group.lower() for g in groups]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"`groups` names {', '.join(repeated)} more than once (names are case-insensitive)")
        if self.kind == "classic":
            _one_slot_per_address(groups)
        expected = "microsoft.cdn/profiles" if self.kind == "standard" else "microsoft.network/frontdoors"
        if ResourceId.parse(self.id).type.lower() != expected:
            raise ValueError(f"a {self.kind} Front Door id must be a {expected} resource id")
        # Frozen: the normalised form is set in place (model_fields_set still says which form the file used).
        object.__setattr__(self, "groups", list(groups))
        object.__setattr__(self, "origin_group", groups[0].origin_group)
        object.__setattr__(self, "origins", list(groups[0].origins))
        return self


def _one_slot_per_address(groups: list[OriginGroup]) -> None:
    """A classic backend is an address: in two pools it is in front of the same cluster, so in the same slot."""
    slot_of: dict[str, tuple[int, str]] = {}
    for group in groups:
        for slot, address in enumerate(group.origins):
            seen = slot_of.setdefault(address.lower(), (slot, group.origin_group))
            if seen[0] != slot:
                raise ValueError(
                    f"backend {address} is origins[{seen[0]}] of pool {seen[1]} but origins[{slot}] of pool "
                    f"{group.origin_group}: an address serves one cluster, so it must be in the same position"
                )


class SmokeProbe(_Model):
    enabled: bool = True
    path: str = "/healthz"
    expected_status: int = Field(200, ge=100, le=599)
    scheme: Literal["http", "https"] = "https"
    timeout_seconds: float = Field(5.0, gt=0, le=60)

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value


class Approval(_Model):
    mode: Literal["manual", "auto"] = "manual"
    timeout_hours: float = Field(24.0, gt=0, le=24 * 30)
    approvers: list[str] = Field(default_factory=list, description="who may approve; empty = any authenticated caller")
    four_eyes: bool = True


class Bake(_Model):
    window_minutes: int = Field(30, ge=1, le=24 * 60)
    interval_minutes: int = Field(1, ge=1, le=60)
    max_error_rate: float = Field(0.05, gt=0, le=1, description="5xx share that counts as a spike")
    min_requests: int = Field(20, ge=0, description="fewer requests than this in an interval decide nothing")

    @model_validator(mode="after")
    def _interval_fits(self) -> Bake:
        if self.interval_minutes > self.window_minutes:
            raise ValueError("`interval_minutes` cannot exceed `window_minutes`")
        return self


class Retire(_Model):
    mode: Literal["keep", "stop", "delete"] = Field("stop", description="blue after a clean bake")
    after_rollback: Literal["keep", "stop", "delete"] = Field(
        "stop", description="green once traffic is back on blue: stopped by default (no compute charge, kept to study)"
    )
    retain_hours: int = Field(
        72,
        ge=0,
        le=24 * 366,
        description="how long a retained cluster (kept or stopped) stays before the retention sweep deletes it; "
        "a revert to it is possible until then",
    )
    reclaim_slot: bool = Field(
        True,
        description="a run that finds the idle slot holding a cluster this environment retired deletes it first; "
        "false: the run is refused until the retention ends or someone deletes it",
    )


class Analysis(_Model):
    """How a gradual step judges green against blue over the step, from the metrics Front Door publishes."""

    interval_minutes: int = Field(1, ge=1, le=60, description="how often the step's metrics are read")
    max_error_rate: float = Field(0.05, gt=0, le=1, description="green's 5xx share above this fails the step")
    max_error_rate_increase: float = Field(
        0.02, ge=0, le=1, description="green's 5xx share more than this above blue's (same step) fails the step"
    )
    max_latency_ms: float | None = Field(
        None, gt=0, description="green's mean origin latency above this fails the step (off when unset)"
    )
    max_latency_ratio: float | None = Field(
        None, ge=1, description="green's mean origin latency above blue's times this fails the step (off when unset)"
    )
    min_requests: int = Field(
        100, ge=1, description="green needs this many requests in a step (or an interval) for it to decide"
    )


class Convergence(_Model):
    """After each traffic change: wait until the observed share of requests matches what was set."""

    enabled: bool = True
    tolerance: float = Field(0.05, gt=0, lt=0.5, description="how far the observed green share may be from intended")
    timeout_minutes: int = Field(
        30, ge=1, le=24 * 60, description="after this the run goes on and reports the edge as not converged"
    )
    min_requests: int = Field(20, ge=1, description="a minute with fewer requests in a group tells nothing")


class Switch(_Model):
    timeout_minutes: int = Field(
        30, ge=1, le=24 * 60, description="how long Front Door may take to report a traffic change deployed"
    )
    mode: Literal["all-at-once", "gradual"] = Field(
        "all-at-once", description="gradual: origin weights in `steps`, each analysed before the next"
    )
    steps: list[int] = Field(
        default_factory=lambda: [10, 50, 100], description="percent of requests on green at each step; ends at 100"
    )
    step_minutes: int = Field(10, ge=1, le=24 * 60, description="how long each step below 100% is analysed")
    analysis: Analysis = Analysis()
    convergence: Convergence = Convergence()

    @model_validator(mode="after")
    def _steps(self) -> Switch:
        steps = self.steps
        if not steps or steps[-1] != 100:
            raise ValueError("`steps` must end at 100")
        if any(not 1 <= s <= 100 for s in steps):
            raise ValueError("`steps` are percents between 1 and 100")
        if any(b <= a for a, b in itertools.pairwise(steps)):
            raise ValueError("`steps` must increase")
        if self.analysis.interval_minutes > self.step_minutes:
            raise ValueError("`analysis.interval_minutes` cannot exceed `step_minutes`")
        return self


class Pipeline(_Model):
    """The team's own deployment pipeline, told to deploy to green (mode `pipeline`)."""

    url: str = Field(description="where the signed JSON notice is POSTed (https)")
    secret: SecretRef = Field(description="the HMAC-SHA256 key the notice is signed with")
    callers: list[str] = Field(
        default_factory=list, description="who may call green-ready (empty: any authenticated caller)"
    )

    @field_validator("url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError("must be an http(s) URL")
        return value


class Workloads(_Model):
    """How the applications reach green before it is upgraded and tested."""

    mode: Literal["gitops", "pipeline", "none"] | None = Field(
        None, description="default: gitops when blue has Flux configurations; otherwise it must be chosen"
    )
    timeout_minutes: int = Field(30, ge=1, le=24 * 60, description="how long green may take to run the applications")
    # Per extension or Flux configuration of blue (by name): setting key -> where its secret comes from.
    protected_settings: dict[str, dict[str, SecretRef]] = Field(default_factory=dict)
    pipeline: Pipeline | None = None
    system_namespaces: list[str] = Field(default_factory=lambda: list(DEFAULT_SYSTEM_NAMESPACES))

    @model_validator(mode="after")
    def _pipeline_given(self) -> Workloads:
        if self.mode == "pipeline" and self.pipeline is None:
            raise ValueError("mode `pipeline` needs [workloads.pipeline] with `url` and `secret`")
        return self


AksEventName = Literal["ClusterSupportEnding", "ClusterSupportEnded", "NewKubernetesVersionAvailable"]
DEFAULT_START_ON: tuple[AksEventName, ...] = ("ClusterSupportEnding", "ClusterSupportEnded")


class Policy(_Model):
    """What the AKS lifecycle events may start, and towards which version."""

    target: str = "latest"
    allow_preview: bool = False
    start_on: list[AksEventName] = Field(default_factory=lambda: list(DEFAULT_START_ON))


# What a run tells its notification targets about, in the order it happens (docs/notifications.md).
NotifyEvent = Literal[
    "awaiting-approval",  # the run waits for an approval (with its deadline and the run's page)
    "approval-expiring",  # an hour before that deadline, if the wait is longer than an hour
    "switch",  # traffic starts moving to green
    "rollback",  # traffic went back to blue after a rollback (with its trigger and reason)
    "completed",  # the outcome: green is live
    "failed",  # the outcome: failed (blue live, or back on blue)
    "ended",  # any other outcome: rejected, aborted, rolled back
]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)
_HTTP_URL = re.compile(r"https?://[^\s/]+(/\S*)?")


def is_secret_reference(value: str) -> bool:
    """A Key Vault secret URI or `appsetting:NAME` (the two ways a secret is named, never given)."""
    return bool(_KEY_VAULT_SECRET.fullmatch(value) or _APP_SETTING.fullmatch(value))


class Notification(_Model):
    """One place the run's notices go: a Teams channel (a Workflows webhook), a Slack channel (an incoming
    webhook), or the team's own endpoint (JSON signed with HMAC-SHA256)."""

    kind: Literal["teams", "slack", "webhook"]
    url: str = Field(
        description="teams, slack: a secret reference to the webhook URL (the URL is the credential); "
        "webhook: an http(s) URL or a secret reference"
    )
    secret: SecretRef | None = Field(None, description="webhook: the HMAC-SHA256 key the notices are signed with")
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS), min_length=1)
    name: str | None = Field(None, max_length=64, description="how the timeline names it (default: kind#n)")

    @model_validator(mode="after")
    def _check(self) -> Notification:
        if self.kind in ("teams", "slack"):
            if not is_secret_reference(self.url):
                raise ValueError(
                    f"a {self.kind} webhook URL is a credential (whoever has it can post): keep it in Key Vault "
                    "or an app setting and give `url` as its reference "
                    "(https://VAULT.vault.azure.net/secrets/NAME or appsetting:NAME)"
                )
            if self.secret is not None:
                raise ValueError(f"`secret` is for kind `webhook` only ({self.kind} authenticates by its URL)")
        else:
            if self.secret is None:
                raise ValueError("kind `webhook` needs `secret`: the reference to the HMAC key it is signed with")
            if not (is_secret_reference(self.url) or _HTTP_URL.fullmatch(self.url)):
                raise ValueError("`url` must be an http(s) URL or a secret reference")
        repeated = sorted({e for e in self.events if self.events.count(e) > 1})
        if repeated:
            raise ValueError(f"`events` repeats {', '.join(repeated)}")
        return self


class Environment(_Model):
    name: str
    clusters: Clusters
    front_door: FrontDoor
    strategy: Literal["clone-then-upgrade", "create-at-target"] = "clone-then-upgrade"
    smoke: SmokeProbe = SmokeProbe()
    approval: Approval = Approval()
    bake: Bake = Bake()
    retire: Retire = Retire()
    switch: Switch = Switch()
    workloads: Workloads = Workloads()
    policy: Policy = Policy()
    notifications: list[Notification] = Field(default_factory=list, description="where the run's notices go")
    keep_failed_green: bool = False
    operators: list[str] | None = Field(
        None, description="who may abort, roll back or resolve a run by hand; default: the approvers"
    )
    app_insights_id: str | None = Field(None, description="Application Insights component whose alerts roll back")
    poll_seconds: int = Field(30, ge=5, le=600, description="how often long Azure operations are checked")
    verify_timeout_minutes: int = Field(15, ge=1, le=240, description="how long green may take to become ready")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("lowercase letters, digits and '-', 1-32 characters")
        return value

    _check_insights = field_validator("app_insights_id")(lambda v: v if v is None else _arm_id(v))

    @property
    def operator_names(self) -> list[str]:
        """Who may stop or steer a run (empty: any authenticated caller), as `approval.approvers` by default."""
        return self.approval.approvers if self.operators is None else self.operators


class Environments(_Model):
    environment: list[Environment]

    @model_validator(mode="after")
    def _unique(self) -> Environments:
        names = [e.name for e in self.environment]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"environment names must be unique; repeated: {', '.join(duplicated)}")
        return self

    def get(self, name: str) -> Environment | None:
        return next((e for e in self.environment if e.name == name), None)


def parse_environments(data: dict[str, Any], source: str = "config") -> Environments:
    try:
        return Environments.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


def load_environments(path: str | os.PathLike[str] | None = None) -> Environments:
    """Read and validate the environments file (BLUEGREEN_CONFIG, else ./environments.toml)."""
    file = Path(path or os.environ.get("BLUEGREEN_CONFIG") or DEFAULT_CONFIG_FILE)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    try:
        # JSON too, for generated configurations (the rehearsal writes one).
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{file}: not valid {file.suffix.lstrip('.').upper() or 'TOML'} ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a table with [[environment]] entries")
    return parse_environments(data, str(file))
