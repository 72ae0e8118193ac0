"""Azure Monitor metrics data plane: `POST /subscriptions/{sub}/metrics:getBatch` (MetricsClient.query_resources)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import isodate

from local.azure_emulator.errors import ArmError, bad_request
from local.azure_emulator.lro import iso
from local.azure_emulator.protocol import SUB, Request, Response, Route, route
from local.azure_emulator.traffic import Counts, Latencies, Traffic, floor_minute

# metric name (lowercase) -> (scope kind, per-target dimension or None, unit, documented dimensions). Names, units
# and dimensions: reference/azure.md 6.1 (learn.microsoft.com/azure/frontdoor/monitor-front-door-reference, the
# supported-metrics lists of Microsoft.Cdn/profiles and Microsoft.Network/frontdoors).
METRICS: dict[str, tuple[str | None, str | None, str, frozenset[str]]] = {
    "originrequestcount": (
        "std",
        "Origin",
        "Count",
        frozenset({"origin", "httpstatus", "httpstatusgroup", "endpoint"}),
    ),
    "originlatency": ("std", "Origin", "MilliSeconds", frozenset({"origin", "endpoint"})),
    "backendrequestcount": ("classic", "Backend", "Count", frozenset({"backend", "httpstatus", "httpstatusgroup"})),
    "backendrequestlatency": ("classic", "Backend", "MilliSeconds", frozenset({"backend"})),
    "requestcount": (
        None,
        None,
        "Count",
        frozenset({"httpstatus", "httpstatusgroup", "clientregion", "clientcountry", "endpoint"}),
    ),
    "percentage5xx": (None, None, "Percent", frozenset({"endpoint", "clientregion", "clientcountry"})),
}
_ATOM = re.compile(r"^\s*(\w+)\s+eq\s+'([^']*)'\s*$", re.IGNORECASE)
_STATUS = {"2XX": "200", "5XX": "503"}


def parse_filter(text: str | None) -> dict[str, list[str]]:
    """`A eq 'x' and B eq '*' or B eq 'y'` -> {"a": ["x"], "b": ["*", "y"]} (names lowercased, order kept)."""
    wanted: dict[str, list[str]] = {}
    if not text:
        return wanted
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        for atom in re.split(r"\s+or\s+", clause, flags=re.IGNORECASE):
            match = _ATOM.match(atom.strip("() "))
            if not match:
                raise bad_request("BadRequest", f"Unsupported filter expression: {atom!r}")
            wanted.setdefault(match.group(1), []).append(match.group(2))
    return wanted


class Metrics:
    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self.world = traffic.world

    def routes(self) -> list[Route]:
        return [
            route("POST", SUB + "/metrics:getBatch", self.get_batch, "Microsoft.Insights/metrics/read", kind="read")
        ]

    def get_batch(self, req: Request, m: dict[str, str]) -> Response:
        ids = req.json_object().get("resourceids")
        if not isinstance(ids, list) or not ids:
            raise bad_request("BadRequest", "resourceids must be a non-empty list.")
        names = [n for n in req.query.get("metricnames", "").split(",") if n]
        if not names:
            raise bad_request("BadRequest", "metricnames is required.")
        end = _parse_time(req.query.get("endtime")) or self.world.now()
        start = _parse_time(req.query.get("starttime")) or end - timedelta(hours=1)
        interval = req.query.get("interval") or "PT1M"
        step = isodate.parse_duration(interval)
        if not isinstance(step, timedelta) or step < timedelta(minutes=1):
            raise bad_request("BadRequest", f"Unsupported interval {interval}.")
        wanted = parse_filter(req.query.get("filter"))
        aggregations = {a.strip().lower() for a in req.query.get("aggregation", "").split(",") if a.strip()}
        values = [self._resource(str(rid), names, start, end, step, wanted, aggregations, req.query) for rid in ids]
        return Response(200, {"values": values})

    def _resource(
        self,
        rid: str,
        names: list[str],
        start: datetime,
        end: datetime,
        step: timedelta,
        wanted: dict[str, list[str]],
        aggregations: set[str],
        query: dict[str, str],
    ) -> dict[str, Any]:
        kind = self.traffic.scope_kind(rid)
        if kind is None:
            raise ArmError(404, "ResourceNotFound", f"The resource {rid} was not found.")
        buckets = _buckets(start, end, step)
        stats = [self.traffic.window_with_latency(rid, b, min(b + step, end)) for b in buckets]
        metrics = []
        for name in names:
            spec = METRICS.get(name.lower())
            if spec is None or (spec[0] is not None and spec[0] != kind):
                raise bad_request(
                    "BadRequest", f"Failed to find metric configuration for provider and metric '{name}'."
                )
            unknown = [d for d in wanted if d.lower() not in spec[3]]
            if unknown:
                # A filter on a dimension the metric does not have is refused, not ignored.
                raise bad_request(
                    "BadRequest",
                    f"Metric: {name} does not support requested dimension combination: {', '.join(unknown)}, "
                    f"supported ones are: {', '.join(sorted(spec[3]))}",
                )
            metrics.append(self._metric(rid, name, spec, buckets, stats, wanted, aggregations))
        return {
            "starttime": iso(start),
            "endtime": iso(end),
            "interval": query.get("interval") or "PT1M",
            "namespace": query.get("metricnamespace"),
            "resourceregion": "global",
            "resourceid": rid,
            "value": metrics,
        }

    def _metric(
        self,
        rid: str,
        name: str,
        spec: tuple[str | None, str | None, str, frozenset[str]],
        buckets: list[datetime],
        stats: list[tuple[Counts, Latencies]],
        wanted: dict[str, list[str]],
        aggregations: set[str],
    ) -> dict[str, Any]:
        _, target_dim, unit, _ = spec
        counts = [c for c, _ in stats]
        if unit == "Percent":
            series = [
                {"metadatavalues": [], "data": [_percent_point(b, c) for b, c in zip(buckets, counts, strict=True)]}
            ]
        elif unit == "MilliSeconds":
            assert target_dim is not None
            series = self._latency_series(target_dim, buckets, [lat for _, lat in stats], wanted)
        else:
            series = self._count_series(target_dim, buckets, counts, wanted, aggregations)
        return {
            "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics",
            "name": {"value": name, "localizedValue": name},
            "displayDescription": "",
            "unit": unit,
            "timeseries": series,
            "errorCode": "Success",
        }

    def _count_series(
        self,
        target_dim: str | None,
        buckets: list[datetime],
        counts: list[Counts],
        wanted: dict[str, list[str]],
        aggregations: set[str],
    ) -> list[dict[str, Any]]:
        dims = [d for d in wanted if d.lower() in {(target_dim or "").lower(), "httpstatusgroup", "httpstatus"}]
        per_series: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0] * len(buckets))
        for index, bucket_counts in enumerate(counts):
            for (target, group), value in bucket_counts.items():
                if target_dim and target is None:
                    continue  # edge failures never reached an origin
                row = {(target_dim or "").lower(): target or "", "httpstatusgroup": group, "httpstatus": _STATUS[group]}
                if not all(_keeps(wanted[d], row[d.lower()]) for d in dims):
                    continue
                per_series[tuple(row[d.lower()] for d in dims)][index] += value
        if dims and all(len(wanted[d]) == 1 and wanted[d][0] != "*" for d in dims):
            per_series.setdefault(tuple(wanted[d][0] for d in dims), [0] * len(buckets))
        series = []
        for key, totals in sorted(per_series.items()):
            if not any(totals) and not all(wanted[d][0] != "*" for d in dims):
                continue
            meta = [{"name": {"value": d, "localizedValue": d}, "value": v} for d, v in zip(dims, key, strict=True)]
            data = [_count_point(b, t, aggregations) for b, t in zip(buckets, totals, strict=True)]
            series.append({"metadatavalues": meta, "data": data})
        if not dims and not series:
            series.append({"metadatavalues": [], "data": [_count_point(b, 0, aggregations) for b in buckets]})
        return series

    def _latency_series(
        self, target_dim: str, buckets: list[datetime], latencies: list[Latencies], wanted: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        """Average = the request-weighted mean latency of the origin's requests in each bucket (none: no average).

        Split by origin when the filter names the origin dimension, one series over every origin otherwise."""
        values = next((v for d, v in wanted.items() if d.lower() == target_dim.lower()), None)
        if values is None:
            merged = []
            for bucket in latencies:
                weighted = sum(w for w, _ in bucket.values())
                merged.append((weighted, sum(n for _, n in bucket.values())))
            data = [_latency_point(b, p) for b, p in zip(buckets, merged, strict=True)]
            return [{"metadatavalues": [], "data": data}]
        targets = sorted({t for bucket in latencies for t, (_, n) in bucket.items() if n > 0 and _keeps(values, t)})
        if len(values) == 1 and values[0] != "*" and not any(t.lower() == values[0].lower() for t in targets):
            targets.append(values[0])  # one origin asked for by name: its series, empty if it had no requests
        series = []
        for target in targets:
            points = [
                _latency_point(b, next((p for t, p in bucket.items() if t.lower() == target.lower()), (0.0, 0.0)))
                for b, bucket in zip(buckets, latencies, strict=True)
            ]
            meta = [{"name": {"value": target_dim, "localizedValue": target_dim}, "value": target}]
            series.append({"metadatavalues": meta, "data": points})
        return series


def _latency_point(moment: datetime, pair: tuple[float, float]) -> dict[str, Any]:
    weighted, requests = pair
    point: dict[str, Any] = {"timeStamp": iso(moment)}
    if requests > 0:
        point["average"] = round(weighted / requests, 3)
    return point


def _keeps(values: list[str], actual: str) -> bool:
    return any(v == "*" or v.lower() == actual.lower() for v in values)


def _buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    epoch = datetime(1970, 1, 1, tzinfo=start.tzinfo)
    first = epoch + ((floor_minute(start) - epoch) // step) * step
    buckets = []
    moment = first
    while moment < end:
        buckets.append(moment)
        moment += step
    return buckets


def _count_point(moment: datetime, total: int, aggregations: set[str]) -> dict[str, Any]:
    point: dict[str, Any] = {"timeStamp": iso(moment), "total": float(total)}
    if "count" in aggregations:
        point["count"] = float(total)
    if "average" in aggregations:
        point["average"] = float(total)
    return point


def _percent_point(moment: datetime, counts: Counts) -> dict[str, Any]:
    total = sum(counts.values())
    errors = sum(v for (_, group), v in counts.items() if group == "5XX")
    return {"timeStamp": iso(moment), "average": (100.0 * errors / total) if total else 0.0}


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return isodate.parse_datetime(text)
    except (ValueError, isodate.ISO8601Error) as exc:
        raise bad_request("BadRequest", f"Invalid time {text!r}.") from exc
