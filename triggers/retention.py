"""The retention sweep's timer: every hour, delete the retained clusters whose time is up.

The timer only starts the `retention_sweep` orchestration (orchestrators/retention.py), under one fixed
instance id so two sweeps never overlap, and tells it which environments have a run in progress: those
are left alone (the run may be reclaiming or reverting to the very cluster). A retained cluster is
therefore deleted within the hour after its `bluegreen-retain-until`, never before: retention is counted in
hours (retire.retain_hours), and an hourly sweep costs a few reads an hour.
"""

from __future__ import annotations

import logging

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import config
from triggers.runs import ACTIVE_STATUSES, list_runs

bp = df.Blueprint()
log = logging.getLogger("bluegreen.triggers")

SWEEP_SCHEDULE = "0 5 * * * *"  # NCRONTAB, UTC: five past every hour
SWEEP_INSTANCE = "bluegreen-retention-sweep"
SWEEP_ORCHESTRATOR = "retention_sweep"


@bp.timer_trigger(schedule=SWEEP_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True)
@bp.durable_client_input(client_name="client")
async def retention_timer(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    await start_sweep(client)


async def start_sweep(client: df.DurableOrchestrationClient) -> str | None:
    """Start a sweep unless one runs; returns its instance id, or None when one was already running."""
    current = await client.get_status(SWEEP_INSTANCE)
    runtime = getattr(current.runtime_status, "value", current.runtime_status) if current else None
    if runtime in ACTIVE_STATUSES:
        log.info("retention sweep: the previous sweep is still running")
        return None
    try:
        environments = config.load_environments().environment
    except config.ConfigError as exc:
        log.error("retention sweep: the configuration cannot be read (%s); nothing is deleted", exc)
        return None
    busy = []
    for env in environments:
        if any(run.active for run in await list_runs(client, env.name)):
            busy.append(env.name)
    if len(busy) == len(environments):
        return None  # every environment's slots belong to its run now: nothing to sweep
    await client.start_new(SWEEP_ORCHESTRATOR, SWEEP_INSTANCE, {"skip_environments": busy})
    return SWEEP_INSTANCE
