"""The emulator's shared state: clock, timings, version catalogue, operations, timers, resources and per-cluster
signals."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from local.azure_emulator.arm_store import ArmStore
from local.azure_emulator.catalogue import Catalogue
from local.azure_emulator.directory import Directory
from local.azure_emulator.lro import Operations
from local.azure_emulator.schedule import Schedule
from local.azure_emulator.timeline import Timeline
from local.azure_emulator.timings import Timings
from local.clock import Clock

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.flux_state import FluxConfig
    from local.azure_emulator.gitrepos import GitRepo
    from local.azure_emulator.keyvault import SecretVersion


@dataclass
class ClusterSignals:
    """What traffic sees of a cluster (by name), as timelines so past metrics never change."""

    serving: Timeline[bool] = field(default_factory=lambda: Timeline(False))
    ready: Timeline[bool] = field(default_factory=lambda: Timeline(True))
    error_fraction: Timeline[float] = field(default_factory=lambda: Timeline(0.0))
    # When the application the cluster runs is (or will be) up, as its Kubernetes objects said at each change:
    # None while it runs no application (kube.app_ready_since). Only the application answers users.
    app: Timeline[datetime | None] = field(default_factory=lambda: Timeline(None))

    def healthy(self, moment: datetime) -> bool:
        """The cluster runs and its pods are ready (set_workloads_ready)."""
        return self.serving.at(moment) and self.ready.at(moment)

    def serves(self, moment: datetime) -> bool:
        """The cluster answers an origin's requests: healthy, and running the application by then."""
        since = self.app.at(moment)
        return since is not None and since <= moment and self.healthy(moment)


@dataclass
class Deployment:
    """One Front Door write as the edge will serve it once propagated."""

    written: datetime
    effective: datetime
    # (dimension value, enabled, priority, weight) per origin or backend
    targets: list[tuple[str, bool, int, int]]


class World:
    def __init__(self, clock: Clock, timings: Timings, catalogue: Catalogue, request_rate: float) -> None:
        # One re-entrant lock: the HTTP worker threads, the clock listener and the owner's calls all mutate state.
        self.lock = threading.RLock()
        self.clock = clock
        self.timings = timings
        self.catalogue = catalogue
        self.request_rate = request_rate
        self.propagation = float(timings.propagation)
        self.epoch = clock.now()
        self.ops = Operations()
        self.schedule = Schedule()
        self.clusters: dict[str, Cluster] = {}
        self.signals: dict[str, ClusterSignals] = {}
        self.dns: dict[str, str] = {}
        # Front Door Standard/Premium resources by lowercased id: profiles, origin groups, origins (ARM bodies).
        self.afd: dict[str, dict[str, Any]] = {}
        # Classic Front Doors by lowercased id (ARM bodies).
        self.classic: dict[str, dict[str, Any]] = {}
        # Deployed-configuration history per origin group / backend pool key.
        self.deployments: dict[str, list[Deployment]] = {}
        # Microsoft.KubernetesConfiguration extensions (ARM bodies) and fluxConfigurations, by lowercased id.
        self.extensions: dict[str, dict[str, Any]] = {}
        self.flux: dict[str, FluxConfig] = {}
        # Git repositories Flux can fetch (emulator data), by normalized URL.
        self.git: dict[str, GitRepo] = {}
        # Key Vault secrets by "vault/name" (lowercased), oldest version first.
        self.secrets: dict[str, list[SecretVersion]] = {}
        # Event Grid, Insights, Network and Compute-quota state (ARM bodies by lowercased id): arm_store.
        self.arm = ArmStore()
        # Identities, federated credentials, role definitions and assignments, registries and vaults: directory.
        self.directory = Directory()
        # Called with (cluster, moment) when a cluster starts running again (stop -> start).
        self.on_cluster_started: list[Callable[[Cluster, datetime], None]] = []

    def now(self) -> datetime:
        return self.clock.now()

    def settle(self) -> datetime:
        """Apply every operation that has ended and run every timer that is due by now, in time order; return now."""
        now = self.clock.now()
        with self.lock:
            while (timer := self.schedule.pop_due(now)) is not None:
                self.ops.settle(timer.due)
                timer.action(timer.due)
            self.ops.settle(now)
        return now

    def next_event(self) -> datetime | None:
        due = [t for t in (self.ops.next_event_time(), self.schedule.next_due(), self.next_propagation()) if t]
        return min(due) if due else None

    def cluster_named(self, name: str) -> Cluster | None:
        return next((c for c in self.clusters.values() if c.name.lower() == name.lower()), None)

    def signals_for(self, cluster_name: str) -> ClusterSignals:
        return self.signals.setdefault(cluster_name.lower(), ClusterSignals())

    def cluster_for_host(self, host: str) -> str | None:
        """DNS: which cluster (by name) serves an origin host name or IP."""
        host = host.lower()
        if host in self.dns:
            return self.dns[host]
        for name in self.signals:
            if ingress_ip(name) == host:
                return name
        return None

    def record_deployment(self, key: str, targets: list[tuple[str, bool, int, int]], seeded: bool = False) -> None:
        now = self.clock.now()
        # Seeded configuration has always been live; a write goes live after the propagation delay.
        effective = datetime.min.replace(tzinfo=now.tzinfo) if seeded else now + timedelta(seconds=self.propagation)
        self.deployments.setdefault(key, []).append(Deployment(now, effective, targets))

    def deployed(self, key: str, moment: datetime) -> Deployment | None:
        # The newest write whose propagation has completed; later entries win ties (seeding several at once).
        best: Deployment | None = None
        for deployment in self.deployments.get(key, []):
            if deployment.effective <= moment and (best is None or deployment.written >= best.written):
                best = deployment
        return best

    def propagating_until(self, key: str) -> datetime | None:
        pending = [d.effective for d in self.deployments.get(key, []) if d.effective > self.clock.now()]
        return max(pending) if pending else None

    def next_propagation(self) -> datetime | None:
        now = self.clock.now()
        pending = [d.effective for ds in self.deployments.values() for d in ds if d.effective > now]
        return min(pending) if pending else None


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.lower().encode()).hexdigest()[:length]


@functools.lru_cache(maxsize=1024)
def ingress_ip(cluster_name: str) -> str:
    digest = hashlib.sha256(cluster_name.lower().encode()).digest()
    return f"20.{digest[0]}.{digest[1]}.{max(digest[2], 1) % 254 + 1}"
