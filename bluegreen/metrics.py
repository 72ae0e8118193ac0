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
    namespace, metric, dimension = _METRIC[kind]
    ResourceId.parse(front_door_id)  # fail early on a malformed id, before any request
    try:
        results = metrics_client.query_resources(
            resource_ids=[front_door_id],
            metric_namespace=namespace,
            metric_names=[metric],
            timespan=(end - window, end),
            granularity=timedelta(minutes=1),
            aggregations=["Total"],
            filter=f"{dimension} eq '{origin_host}' and HttpStatusGroup eq '*'",
        )
    except Exception as exc:
        raise classify(exc) from exc
    requests = errors = 0
    for result in results:
        for found in result.metrics:
            for series in found.timeseries:
                labels = {str(k).lower(): str(v) for k, v in (series.metadata_values or {}).items()}
                if labels.get(dimension.lower(), origin_host).lower() != origin_host.lower():
                    continue
                total = int(sum(point.total or 0 for point in series.data))
                requests += total
                if labels.get("httpstatusgroup", "").upper() == "5XX":
                    errors += total
    return RequestCounts(requests, errors)
