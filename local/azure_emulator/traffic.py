"""Synthetic requests through each Front Door: routed by the configuration each edge serves to the clusters behind it.

Each Front Door receives `request_rate` requests per second, split evenly over its origin groups / backend pools and,
within a group, evenly over Front Door's edges (world.EDGES). Each edge routes by the newest write that has reached
it (world.History), so after a change the share of requests that follows it rises gradually over the propagation
delay. An edge routes as the routing-methods doc says (reference/azure-more.md (h), azure.md 5.1): drop disabled
and unhealthy origins, keep the lowest priority, keep those within the group's latency window of the fastest, then
split by weight. The share is sampled once per second and summed per minute; finished minutes are cached, which is
safe because every input is a timeline that only changes from "now" on.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator import frontdoor_classic
from local.azure_emulator.frontdoor_std import FrontDoorStd
from local.azure_emulator.world import EDGES, Deployment, Target, World

# (dimension value or None for requests that failed at the edge, "2XX" | "5XX") -> requests
Counts = dict[tuple[str | None, str], int]
# dimension value -> (sum of latency (ms) x requests, requests): the origin's request-weighted latency
Latencies = dict[str, tuple[float, float]]
# (target or None, share of the edge's requests, 5xx fraction there, origin latency in ms or None: no answer)
Route = list[tuple[str | None, float, float, float | None]]
MINUTE = timedelta(minutes=1)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Traffic:
    def __init__(self, world: World, std: FrontDoorStd) -> None:
        self.world = world
        self.std = std
        self._cache: dict[tuple[str, datetime], tuple[Counts, Latencies]] = {}
        # Routes by (deployment, latency window, states of its enabled origins): pure, so kept across minutes.
        self._routes: dict[tuple[Any, ...], Route] = {}

    def scope_kind(self, scope_id: str) -> str | None:
        key = scope_id.lower()
        if key in self.world.classic:
            return "classic"
        if key in self.world.afd and self.world.afd[key].get("type", "").lower() == "microsoft.cdn/profiles":
            return "std"
        return None

    def _groups(self, scope_id: str) -> list[str]:
        key = scope_id.lower()
        if key in self.world.classic:
            body = self.world.classic[key]
            return [frontdoor_classic.pool_key(key, p["name"]) for p in frontdoor_classic.pools(body)]
        return self.std.groups_of(key)

    def _minute(self, scope_id: str, start: datetime) -> tuple[Counts, Latencies]:
        """Requests (and latency sums) in the minute starting at `start`: only the part before now and after the
        emulator began."""
        key = (scope_id.lower(), start)
        if key in self._cache:
            return self._cache[key]
        with self.world.lock:
            now = self.world.settle()
            stats = self._compute(scope_id, start, now)
        if start + MINUTE <= now:
            self._cache[key] = stats
        return stats

    def _compute(self, scope_id: str, start: datetime, now: datetime) -> tuple[Counts, Latencies]:
        groups = self._groups(scope_id)
        sent: dict[str | None, float] = defaultdict(float)
        failed: dict[str | None, float] = defaultdict(float)
        latency: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        if not groups:
            return {}, {}
        rate = self.world.request_rate / len(groups)
        # What the edges serve per group, kept until the next edge arrival: (mix, until).
        mixes: dict[str, tuple[list[tuple[Deployment | None, int]], datetime | None]] = {}
        for second in range(60):
            moment = start + timedelta(seconds=second)
            if moment < self.world.epoch or moment >= now:
                continue
            hosts: dict[str, tuple[float | None, float]] = {}  # this second's origin states, shared by groups
            for group in groups:
                known = mixes.get(group)
                if known is None or (known[1] is not None and moment >= known[1]):
                    known = mixes[group] = self.world.edge_mix_until(group, moment)
                # Edges that serve the same configuration route alike: one route per distinct deployment.
                for deployment, edges in known[0]:
                    edge_rate = rate * edges / EDGES
                    for target, share, error_share, ms in self._route(group, deployment, moment, hosts):
                        requests = edge_rate * share
                        sent[target] += requests
                        failed[target] += requests * error_share
                        if target is not None and ms is not None:
                            latency[target][0] += requests * ms
                            latency[target][1] += requests
        counts: Counts = {}
        for target, total in sent.items():
            errors = round(failed[target])
            counts[(target, "5XX")] = errors
            counts[(target, "2XX")] = round(total) - errors
        return counts, {target: (pair[0], pair[1]) for target, pair in latency.items()}

    def _route(
        self,
        group: str,
        deployment: Deployment | None,
        moment: datetime,
        hosts: dict[str, tuple[float | None, float]],
    ) -> Route:
        """How an edge serving `deployment` routes the group's requests at `moment` (routing-methods doc);
        `hosts` memoizes each origin's (latency or None, 5xx fraction) at `moment`."""
        enabled = [t for t in (deployment.targets if deployment else []) if t[1]]
        if not enabled:
            return [(None, 1.0, 1.0, None)]  # nothing to route to: the edge answers 5xx itself
        for target in enabled:
            if target[0] not in hosts:
                hosts[target[0]] = self._origin(target[0], moment)
        # The same configuration and the same origin states route alike: most seconds repeat the one before.
        window = deployment.window if deployment and deployment.window is not None else self._window(group)
        memo_key = (deployment, window, tuple(hosts[t[0]] for t in enabled))
        route = self._routes.get(memo_key)
        if route is None:
            route = self._routes[memo_key] = self._choose(window, enabled, hosts)
            if len(self._routes) > 4096:
                self._routes.clear()
                self._routes[memo_key] = route
        return route

    def _choose(self, window: float, enabled: list[Target], hosts: dict[str, tuple[float | None, float]]) -> Route:
        """Drop origins that do not answer, keep the lowest priority, keep those within `window` ms of the
        fastest, split by weight."""
        latencies = {t[0]: hosts[t[0]][0] for t in enabled}
        healthy = [t for t in enabled if latencies[t[0]] is not None]
        if not healthy:
            # All failing their probes: Front Door spreads over every enabled origin (lowest priority, by weight),
            # and none of them answers.
            return [(host, share, 1.0, None) for host, share in self._by_weight(_lowest_priority(enabled))]
        chosen = _lowest_priority(healthy)
        fastest = min(latencies[t[0]] or 0.0 for t in chosen)
        chosen = [t for t in chosen if (latencies[t[0]] or 0.0) - fastest <= window]
        return [(host, share, hosts[host][1], latencies[host]) for host, share in self._by_weight(chosen)]

    @staticmethod
    def _by_weight(targets: list[Target]) -> list[tuple[str, float]]:
        weights = sum(t[3] for t in targets)
        return [(t[0], t[3] / weights) for t in targets]

    def _window(self, group: str) -> float:
        """A Standard origin group's latency window (its settings are not written through this emulator)."""
        return self.std.latency_window(group)

    def _origin(self, host: str, moment: datetime) -> tuple[float | None, float]:
        """(latency in ms, 5xx fraction) of an origin that answers at `moment` (its cluster serves the
        application then, ClusterSignals.serves); (None, 1.0) when it does not answer."""
        name = self.world.cluster_for_host(host)
        if name is None:
            return None, 1.0
        signals = self.world.signals_for(name)
        if not signals.serves(moment):
            return None, 1.0
        errors = min(max(signals.error_fraction.at(moment), 0.0), 1.0)
        return max(float(signals.latency.at(moment)), 0.0), errors

    def window(self, scope_id: str, start: datetime, end: datetime) -> Counts:
        """Sum of whole minutes from floor(start) up to end."""
        return self.window_with_latency(scope_id, start, end)[0]

    def window_with_latency(self, scope_id: str, start: datetime, end: datetime) -> tuple[Counts, Latencies]:
        """Counts and per-origin latency sums of whole minutes from floor(start) up to end."""
        total: Counts = defaultdict(int)
        latency: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        minute = floor_minute(start)
        while minute < end:
            counts, latencies = self._minute(scope_id, minute)
            for key, value in counts.items():
                total[key] += value
            for target, (weighted, requests) in latencies.items():
                latency[target][0] += weighted
                latency[target][1] += requests
            minute += MINUTE
        return dict(total), {target: (pair[0], pair[1]) for target, pair in latency.items()}

    def five_xx_percent(self, scope_id: str, start: datetime, end: datetime) -> tuple[float, int]:
        counts = self.window(scope_id, start, end)
        total = sum(counts.values())
        errors = sum(v for (_, group), v in counts.items() if group == "5XX")
        return (100.0 * errors / total if total else 0.0), total


def _lowest_priority(targets: list[Target]) -> list[Target]:
    best = min(t[2] for t in targets)
    return [t for t in targets if t[2] == best]
