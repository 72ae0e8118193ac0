"""Synthetic requests through each Front Door: routed by the *deployed* configuration to the clusters behind it.

Each Front Door receives `request_rate` requests per second, split evenly over its origin groups / backend pools.
The share is sampled once per second and summed per minute; finished minutes are cached, which is safe because
every input is a timeline that only changes from "now" on.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from local.azure_emulator import frontdoor_classic
from local.azure_emulator.frontdoor_std import FrontDoorStd
from local.azure_emulator.world import Deployment, World

# (dimension value or None for requests that failed at the edge, "2XX" | "5XX") -> requests
Counts = dict[tuple[str | None, str], int]
MINUTE = timedelta(minutes=1)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class Traffic:
    def __init__(self, world: World, std: FrontDoorStd) -> None:
        self.world = world
        self.std = std
        self._cache: dict[tuple[str, datetime], Counts] = {}

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

    def minute(self, scope_id: str, start: datetime) -> Counts:
        """Requests in the minute starting at `start` (only the part before now and after the emulator began)."""
        key = (scope_id.lower(), start)
        if key in self._cache:
            return self._cache[key]
        with self.world.lock:
            now = self.world.settle()
            counts = self._compute(scope_id, start, now)
        if start + MINUTE <= now:
            self._cache[key] = counts
        return counts

    def _compute(self, scope_id: str, start: datetime, now: datetime) -> Counts:
        groups = self._groups(scope_id)
        sent: dict[str | None, float] = defaultdict(float)
        failed: dict[str | None, float] = defaultdict(float)
        if not groups:
            return {}
        rate = self.world.request_rate / len(groups)
        for second in range(60):
            moment = start + timedelta(seconds=second)
            if moment < self.world.epoch or moment >= now:
                continue
            for group in groups:
                for target, share, error_share in self._route(self.world.deployed(group, moment), moment):
                    sent[target] += rate * share
                    failed[target] += rate * share * error_share
        counts: Counts = {}
        for target, total in sent.items():
            errors = round(failed[target])
            counts[(target, "5XX")] = errors
            counts[(target, "2XX")] = round(total) - errors
        return counts

    def _route(self, deployment: Deployment | None, moment: datetime) -> list[tuple[str | None, float, float]]:
        """(target, share of the group's requests, 5xx fraction there) as Front Door routes at `moment`."""
        enabled = [t for t in (deployment.targets if deployment else []) if t[1]]
        if not enabled:
            return [(None, 1.0, 1.0)]  # nothing to route to: the edge answers 5xx itself
        healthy = [t for t in enabled if self._healthy(t[0], moment)]
        candidates = healthy or enabled  # all unhealthy: Front Door spreads over every enabled origin
        best = min(t[2] for t in candidates)
        chosen = [t for t in candidates if t[2] == best]
        weights = sum(t[3] for t in chosen)
        return [(t[0], t[3] / weights, self._error_fraction(t[0], moment)) for t in chosen]

    def _healthy(self, host: str, moment: datetime) -> bool:
        """The origin answers: its cluster serves the application then (ClusterSignals.serves)."""
        name = self.world.cluster_for_host(host)
        return name is not None and self.world.signals_for(name).serves(moment)

    def _error_fraction(self, host: str, moment: datetime) -> float:
        if not self._healthy(host, moment):
            return 1.0
        name = self.world.cluster_for_host(host)
        assert name is not None
        return min(max(self.world.signals_for(name).error_fraction.at(moment), 0.0), 1.0)

    def window(self, scope_id: str, start: datetime, end: datetime) -> Counts:
        """Sum of whole minutes from floor(start) up to end."""
        total: Counts = defaultdict(int)
        minute = floor_minute(start)
        while minute < end:
            for key, value in self.minute(scope_id, minute).items():
                total[key] += value
            minute += MINUTE
        return dict(total)

    def five_xx_percent(self, scope_id: str, start: datetime, end: datetime) -> tuple[float, int]:
        counts = self.window(scope_id, start, end)
        total = sum(counts.values())
        errors = sum(v for (_, group), v in counts.items() if group == "5XX")
        return (100.0 * errors / total if total else 0.0), total
