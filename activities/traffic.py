"""Front Door activities: read the origin groups, change one origin (never more than one per call), measure green."""

from __future__ import annotations

from datetime import timedelta

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, contract, decisions, metrics, traffic


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
    for host in request.hosts.values():
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
