"""The emulator's shared state: clock, timings, version catalogue, operations, timers, resources and per-cluster
signals."""

from __future__ import annotations

import bisect
import functools
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    # How long the cluster's ingress takes to answer an edge (ms): what Front Door's latency-based routing and the
    # OriginLatency / BackendRequestLatency metrics see. World.signals_for starts it at default_latency(name).
    latency: Timeline[float] = field(default_factory=lambda: Timeline(30.0))
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


# Front Door's edges, modelled as a fixed set that each receive every write after their own delay: a fraction of
# the propagation delay on a convex curve, so a few edges have a change within seconds, half within about a third of
# the delay (0.35) and the last at the full delay. Requests spread evenly over the edges, so the share of requests
# that follows a change rises gradually to 100% at the propagation delay ("most creates and updates take 3-20
# minutes to reach every edge", reference/azure-more.md (h)): a curve, not a step.
EDGES = 16
_CURVE = tuple(((i + 1) / EDGES) ** 1.5 for i in range(EDGES))
# deploymentStatus (Standard origins) turns Succeeded once this many edges serve the write. Front Door's status is
# not the moment users moved ("do not treat the PUT's completion as the moment of switch", azure-more.md (h)): here
# it is reported while the slower half of the edges still serves the configuration before.
STATUS_EDGES = EDGES // 2
_SEEDED = datetime.min.replace(tzinfo=UTC)

Target = tuple[str, bool, int, int]


def edge_delays(propagation: float) -> tuple[float, ...]:
    """Seconds from a write to each edge serving it, for a propagation delay (the last edge: the whole delay)."""
    return tuple(propagation * fraction for fraction in _CURVE)


@dataclass(eq=False)
class Deployment:
    """One Front Door write (an origin group's or a backend pool's whole configuration) as the edges serve it."""

    written: datetime
    # When each edge starts serving it (datetime.min on every edge for seeded configuration).
    arrivals: tuple[datetime, ...]
    # (dimension value, enabled, priority, weight) per origin or backend
    targets: list[Target]
    # The latency window (additionalLatency..., ms) that came with it: a classic PUT carries its pools'
    # loadBalancingSettings. None: the origin group's own settings (Standard origin groups are not written here).
    window: float | None = None

    @property
    def effective(self) -> datetime:
        """When every edge serves it."""
        return max(self.arrivals)

    @property
    def reported(self) -> datetime:
        """When STATUS_EDGES edges serve it: deploymentStatus Succeeded from then on."""
        return sorted(self.arrivals)[STATUS_EDGES - 1]


class History:
    """Every write of one origin group / backend pool, and which one each edge serves at any moment.

    An edge receives writes in write order, even when the propagation delay changed in between (a write never
    overtakes an earlier one on an edge), and serves the newest that has reached it. Each written configuration
    is a whole snapshot of the group, so an edge never serves a mix of two writes, and never a configuration with
    no enabled origin unless one was written.
    """

    def __init__(self) -> None:
        self.deployments: list[Deployment] = []
        # Per edge: when each deployment reached it, in deployment order (non-decreasing by construction).
        self._arrivals: list[list[datetime]] = [[] for _ in range(EDGES)]
        self.settled = _SEEDED  # from then on every edge serves the newest deployment

    def add(
        self, written: datetime, delays: tuple[float, ...] | None, targets: list[Target], window: float | None
    ) -> Deployment:
        if delays is None:
            # Seeded configuration has always been live on every edge and replaces what was there, past included.
            self.deployments.clear()
            for arrivals in self._arrivals:
                arrivals.clear()
            arrivals_of = tuple(_SEEDED for _ in range(EDGES))
        else:
            arrivals_of = tuple(
                max(written + timedelta(seconds=delay), edge[-1]) if edge else written + timedelta(seconds=delay)
                for delay, edge in zip(delays, self._arrivals, strict=True)
            )
        deployment = Deployment(written, arrivals_of, targets, window)
        self.deployments.append(deployment)
        for edge, arrival in zip(self._arrivals, arrivals_of, strict=True):
            edge.append(arrival)
        self.settled = deployment.effective
        return deployment

    def mix_until(self, moment: datetime) -> tuple[list[tuple[Deployment | None, int]], datetime | None]:
        """(deployment, how many edges serve it) at `moment` (None for edges that have none yet), and the next
        arrival after it (None: none), before which the mix stays the same."""
        if not self.deployments:
            return [(None, EDGES)], None
        if moment >= self.settled:
            return [(self.deployments[-1], EDGES)], None
        served: dict[int, int] = {}
        until: datetime | None = None
        for edge in self._arrivals:
            position = bisect.bisect_right(edge, moment)
            served[position - 1] = served.get(position - 1, 0) + 1
            if position < len(edge) and (until is None or edge[position] < until):
                until = edge[position]
        return [(self.deployments[i] if i >= 0 else None, n) for i, n in sorted(served.items())], until

    def pending(self, now: datetime) -> list[datetime]:
        """Edge arrivals after `now`: each one changes what an edge serves."""
        if now >= self.settled:
            return []
        found = []
        for deployment in reversed(self.deployments):
            later = [a for a in deployment.arrivals if a > now]
            if not later:
                break  # earlier deployments reached every edge before this one did
            found += later
        return found


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
        # Deployed-configuration history per origin group / backend pool key, and what each edge serves.
        self.deployments: dict[str, History] = {}
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
        key = cluster_name.lower()
        signals = self.signals.get(key)
        if signals is None:
            signals = self.signals[key] = ClusterSignals(latency=Timeline(default_latency(key)))
        return signals

    def cluster_for_host(self, host: str) -> str | None:
        """DNS: which cluster (by name) serves an origin host name or IP."""
        host = host.lower()
        if host in self.dns:
            return self.dns[host]
        for name in self.signals:
            if ingress_ip(name) == host:
                return name
        return None

    def record_deployment(
        self, key: str, targets: list[Target], seeded: bool = False, window: float | None = None
    ) -> Deployment:
        """A Front Door write of a group's configuration: it reaches the edges over `self.propagation` seconds
        (edge_delays); seeded configuration is on every edge from the start."""
        history = self.deployments.setdefault(key, History())
        delays = None if seeded else edge_delays(self.propagation)
        return history.add(self.clock.now(), delays, targets, window)

    def edge_mix(self, key: str, moment: datetime) -> list[tuple[Deployment | None, int]]:
        """Which configuration the edges serve at `moment`: (deployment, number of edges), oldest first."""
        return self.edge_mix_until(key, moment)[0]

    def edge_mix_until(self, key: str, moment: datetime) -> tuple[list[tuple[Deployment | None, int]], datetime | None]:
        """edge_mix, and when it next changes (None: not by itself)."""
        history = self.deployments.get(key)
        return history.mix_until(moment) if history is not None else ([(None, EDGES)], None)

    def next_propagation(self) -> datetime | None:
        """The next moment an edge starts serving a write (each one changes routing)."""
        now = self.clock.now()
        pending = [moment for history in self.deployments.values() for moment in history.pending(now)]
        return min(pending) if pending else None


def default_latency(cluster_name: str) -> float:
    """A cluster's origin latency until set_latency: 20-40 ms, fixed per name, so two clusters differ by less than
    20 ms (inside a 50 ms latency window, outside a 0 ms one unless they tie)."""
    digest = hashlib.sha256(cluster_name.lower().encode()).digest()
    return 20.0 + int.from_bytes(digest[:4], "big") % 2001 / 100


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.lower().encode()).hexdigest()[:length]


@functools.lru_cache(maxsize=1024)
def ingress_ip(cluster_name: str) -> str:
    digest = hashlib.sha256(cluster_name.lower().encode()).digest()
    return f"20.{digest[0]}.{digest[1]}.{max(digest[2], 1) % 254 + 1}"
