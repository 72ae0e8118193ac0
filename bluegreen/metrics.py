"""Error rate per Front Door origin from Azure Monitor platform metrics (azure-monitor-querymetrics).

The data-plane MetricsClient is used on purpose: ARM's metrics API counts against ARM read
throttling, the batch data-plane API does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bluegreen.arm_ids import ResourceId
from bluegreen.contract import FrontDoorKind
from bluegreen.errors import classify

# (namespace, metric, origin dimension) per Front Door kind; documented platform metrics.
_METRIC = {
    "standard": ("Microsoft.Cdn/profiles", "OriginRequestCount", "Origin"),
    "classic": ("Microsoft.Network/frontdoors", "BackendRequestCount", "Backend"),
}


@dataclass(frozen=True)
class RequestCounts:
    requests: int
    errors: int

    @property
    def rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(self.requests + other.requests, self.errors + other.errors)


def origin_error_rate(
    metrics_client: Any, kind: FrontDoorKind, front_door_id: str, origin_host: str, end: datetime, window: timedelta
) -> RequestCounts:
    """Requests Front Door sent to one origin in [end - window, end], and how many of them were 5xx."""
    return origins_traffic(metrics_client, kind, front_door_id, [origin_host], end, window)[origin_host].counts


# Mean origin latency per origin, as Front Door publishes it (Average over the minute).
_LATENCY = {
    "standard": ("Microsoft.Cdn/profiles", "OriginLatency", "Origin"),
    "classic": ("Microsoft.Network/frontdoors", "BackendRequestLatency", "Backend"),
}


@dataclass(frozen=True)
class OriginTraffic:
    """One origin's requests over a window, and its mean latency when asked for (None: not measured)."""

    counts: RequestCounts
    latency_ms: float | None = None


def origins_traffic(
    metrics_client: Any,
    kind: FrontDoorKind,
    front_door_id: str,
    hosts: list[str],
    end: datetime,
    window: timedelta,
    *,
    latency: bool = False,
) -> dict[str, OriginTraffic]:
    """Requests, 5xx and (optionally) mean latency per origin host in [end - window, end], in one or two queries.

    Keys are the hosts as given; a host Front Door sent nothing gets zero counts.
    """
    namespace, metric, dimension = _METRIC[kind]
    ResourceId.parse(front_door_id)  # fail early on a malformed id, before any request
    wanted = {h.lower(): h for h in hosts}
    counts = {h: [0, 0] for h in wanted}
    for labels, series in _series(
        metrics_client,
        front_door_id,
        namespace,
        metric,
        "Total",
        f"{dimension} eq '*' and HttpStatusGroup eq '*'",
        end,
        window,
    ):
        host = labels.get(dimension.lower(), "").lower()
        if host not in counts:
            continue
        total = int(sum(point.total or 0 for point in series.data))
        counts[host][0] += total
        if labels.get("httpstatusgroup", "").upper() == "5XX":
            counts[host][1] += total
    latencies: dict[str, float | None] = dict.fromkeys(wanted)
    if latency:
        namespace, metric, dimension = _LATENCY[kind]
        for labels, series in _series(
            metrics_client, front_door_id, namespace, metric, "Average", f"{dimension} eq '*'", end, window
        ):
            host = labels.get(dimension.lower(), "").lower()
            points = [p.average for p in series.data if p.average is not None]
            if host in latencies and points:
                latencies[host] = round(sum(points) / len(points), 3)
    return {original: OriginTraffic(RequestCounts(*counts[key]), latencies[key]) for key, original in wanted.items()}


def _series(
    metrics_client: Any,
    front_door_id: str,
    namespace: str,
    metric: str,
    aggregation: str,
    filter_text: str,
    end: datetime,
    window: timedelta,
) -> list[tuple[dict[str, str], Any]]:
    try:
        results = metrics_client.query_resources(
            resource_ids=[front_door_id],
            metric_namespace=namespace,
            metric_names=[metric],
            timespan=(end - window, end),
            granularity=timedelta(minutes=1),
            aggregations=[aggregation],
            filter=filter_text,
        )
    except Exception as exc:
        raise classify(exc) from exc
    found = []
    for result in results:
        for metric_result in result.metrics:
            for series in metric_result.timeseries:
                labels = {str(k).lower(): str(v) for k, v in (series.metadata_values or {}).items()}
                found.append((labels, series))
    return found
