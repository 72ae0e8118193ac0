"""Retention activities: tag a retired cluster, untag one made live again, and sweep the expired ones."""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, config, contract, retention


@activity(bp)
def mark_retained(request: contract.MarkRetained) -> contract.Retention:
    return retention.mark(azure.clients(), request)


@activity(bp)
def release_retained(request: contract.ReleaseRetained) -> contract.Retention:
    return retention.release(azure.clients(), request)


@activity(bp)
def sweep_retained(request: contract.SweepInput) -> contract.SweepResult:
    environments = config.load_environments().environment
    now = retention.parse_iso(request.now)
    return retention.Sweep(azure.clients()).run(environments, now, request.skip_environments)
