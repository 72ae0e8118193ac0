"""Front Door activities: read the origin groups, change origins (one group per call), measure what the edge does."""

from __future__ import annotations

from datetime import timedelta

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, contract, decisions, errors, gradual, metrics, traffic


@activity(bp)
def read_traffic(request: contract.TrafficRead) -> contract.TrafficSnapshot:
    return traffic.read_all(traffic.plan_provider(azure.clients(), request.traffic), request.traffic)


@activity(bp)
def set_origin_enabled(request: contract.OriginChange) -> contract.OriginChanged:
    provider = traffic.plan_provider(azure.clients(), request.traffic)
    origin = provider.read(request.group).origin(request.origin)
    if origin is not None and origin.enabled == request.enabled:
        return contract.OriginChanged(changed=False)
    provider.set_enabled(request.group, request.origin, request.enabled)
    return contract.OriginChanged(changed=True)


@activity(bp)
def measure_error_rate(request: contract.ErrorRateInput) -> contract.ErrorRate:
    """Green's 5xx share over the last interval, ending at the orchestrator's (deterministic) now.

    When green got too little traffic to judge, Front Door is read too: a green whose origins are
    all disabled (a rollback moved traffic away) ends the bake watch.
    """
    plan = request.traffic
    client = azure.clients()
    total = metrics.RequestCounts(0, 0)
    # Groups whose green origin is one host (one cluster's ingress) are one series in Front Door's metrics.
    for host in sorted({h.lower(): h for h in request.hosts.values()}.values()):
        total += metrics.origin_error_rate(
            client.metrics(),
            plan.kind,
            plan.front_door_id,
            host,
            request.end,
            timedelta(minutes=request.window_minutes),
        )
    green_enabled = True
    verdict = decisions.assess_error_rate(
        total.requests, total.errors, max_error_rate=request.max_error_rate, min_requests=request.min_requests
    )
    if verdict == contract.BakeVerdict.TOO_LITTLE_TRAFFIC:
        snapshot = traffic.read_all(traffic.plan_provider(client, plan), plan)
        green_enabled = any(
            (origin := state.origin(pair.green)) is not None and origin.enabled
            for pair, state in zip(plan.groups, snapshot.groups, strict=True)
        )
    return contract.ErrorRate(
        requests=total.requests,
        errors=total.errors,
        rate=round(total.rate, 6),
        verdict=verdict,
        green_enabled=green_enabled,
    )


@activity(bp)
def set_origin_weights(request: contract.WeightChange) -> contract.OriginChanged:
    """One group's origins to the given weights, priorities and states (writes only what differs)."""
    provider = traffic.plan_provider(azure.clients(), request.traffic)
    state = provider.read(request.group)
    pending = []
    for key, wanted in request.origins:
        origin = state.origin(key)
        if origin is None:
            raise errors.PermanentError("OriginNotFound", f"Front Door group {request.group!r} has no origin {key!r}")
        if (
            (wanted.enabled is not None and wanted.enabled != origin.enabled)
            or (wanted.weight is not None and wanted.weight != origin.weight)
            or (wanted.priority is not None and wanted.priority != origin.priority)
        ):
            pending.append((key, wanted))
    if pending:
        provider.apply(request.group, pending)
    return contract.OriginChanged(changed=bool(pending))


@activity(bp)
def measure_traffic_share(request: contract.ShareRead) -> contract.TrafficShares:
    """Requests Front Door sent to blue's and green's origin in each group over the window (edge convergence)."""
    plan = request.traffic
    client = azure.clients()
    snapshot = traffic.read_all(traffic.plan_provider(client, plan), plan)
    hosts = _role_hosts(snapshot, plan)
    measured = metrics.origins_traffic(
        client.metrics(),
        plan.kind,
        plan.front_door_id,
        sorted({h for pair in hosts for h in pair}),
        request.end,
        timedelta(minutes=request.window_minutes),
    )
    return contract.TrafficShares(
        groups=[
            contract.GroupShare(
                group=pair.group,
                blue_requests=measured[blue].counts.requests,
                green_requests=measured[green].counts.requests,
                configured_green=round(gradual.configured_share(state, pair), 6),
            )
            for pair, state, (blue, green) in zip(plan.groups, snapshot.groups, hosts, strict=True)
        ]
    )


@activity(bp)
def measure_comparison(request: contract.ComparisonRead) -> contract.Comparison:
    """Green's and blue's origins (every group) over the window: requests, 5xx and mean latency (gradual steps)."""
    plan = request.traffic
    client = azure.clients()
    snapshot = traffic.read_all(traffic.plan_provider(client, plan), plan)
    hosts = _role_hosts(snapshot, plan)
    # A host serving several groups is one series in Front Door's metrics: counted once per role.
    blue_hosts = sorted({blue for blue, _ in hosts})
    green_hosts = sorted({green for _, green in hosts})
    measured = metrics.origins_traffic(
        client.metrics(),
        plan.kind,
        plan.front_door_id,
        blue_hosts + green_hosts,
        request.end,
        timedelta(minutes=request.window_minutes),
        latency=request.latency,
    )

    def side(names: list[str]) -> contract.SideMetrics:
        total = contract.SideMetrics()
        for name in names:
            found = measured[name]
            total += contract.SideMetrics(
                requests=found.counts.requests, errors=found.counts.errors, latency_ms=found.latency_ms
            )
        return total

    green_enabled = any(
        (origin := state.origin(pair.green)) is not None and origin.enabled
        for pair, state in zip(plan.groups, snapshot.groups, strict=True)
    )
    return contract.Comparison(green=side(green_hosts), blue=side(blue_hosts), green_enabled=green_enabled)


def _role_hosts(snapshot: contract.TrafficSnapshot, plan: contract.TrafficPlan) -> list[tuple[str, str]]:
    """(blue's origin host, green's) per group of the plan, as Front Door has them now."""
    found = []
    for pair, state in zip(plan.groups, snapshot.groups, strict=True):
        blue, green = state.origin(pair.blue), state.origin(pair.green)
        if blue is None or green is None:
            missing = pair.blue if blue is None else pair.green
            raise errors.PermanentError("OriginNotFound", f"Front Door group {pair.group!r} has no origin {missing!r}")
        found.append((blue.host, green.host))
    return found
