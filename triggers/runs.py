"""Runs on the Durable client: one run per environment, deterministic ids, event dedupe.

Instance ids are `<environment>-<n>`, n one past the highest earlier run of that environment.
Two starts that race compute the same id; the Durable extension refuses to create an instance
whose id is running (409), so exactly one wins and the other reports the winner as in progress.
On Azure this needs host.json durableTask `overridableExistingInstanceStates: NonRunningStates`
(the default, AnyState, silently replaces a running instance).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from bluegreen.lazy import contract

log = logging.getLogger("bluegreen.triggers")

ORCHESTRATOR = "bluegreen_upgrade"
ACTIVE_STATUSES = frozenset({"Running", "Pending", "Suspended", "ContinuedAsNew"})
# Event Grid redelivers for up to 24 h; a duplicate is looked for among this many recent runs.
DEDUPE_WINDOW_RUNS = 20
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def run_number(environment: str, instance_id: str) -> int | None:
    match = re.fullmatch(re.escape(environment) + r"-([0-9]{1,9})", instance_id)
    return int(match.group(1)) if match else None


def next_instance_id(environment: str, existing: list[str]) -> str:
    numbers = [n for n in (run_number(environment, i) for i in existing) if n is not None]
    return f"{environment}-{max(numbers, default=0) + 1}"


def safe_instance_id(value: str) -> bool:
    """Instance ids go into management URLs unescaped by the SDK: only plain characters pass."""
    return bool(_SAFE_ID.fullmatch(value))


# Before its first episode a run has published nothing: it can still be stopped.
STARTING = {"abortable": True, "message": "starting"}


@dataclass(frozen=True)
class RunView:
    instance_id: str
    runtime_status: str
    created: datetime | None
    updated: datetime | None
    status: contract.RunStatus
    output: contract.RunOutput | None
    request: contract.RunRequest | None

    @property
    def active(self) -> bool:
        return self.runtime_status in ACTIVE_STATUSES

    @property
    def phase(self) -> str | None:
        return self.status.phase.value if self.status.phase else None

    @classmethod
    def of(cls, status: df.DurableOrchestrationStatus) -> RunView:
        runtime = status.runtime_status
        return cls(
            instance_id=str(status.instance_id),
            runtime_status=str(getattr(runtime, "value", runtime) or "Unknown"),
            created=status.created_time,
            updated=status.last_updated_time,
            status=_model(contract.RunStatus, status.custom_status) or contract.RunStatus.model_validate(STARTING),
            output=_model(contract.RunOutput, status.output),
            request=_model(contract.RunRequest, status.input_),
        )


def _model(model: type[contract.Model], value: Any) -> contract.Model | None:
    """A contract model from a status field. The Python client JSON-encodes the input once more than it
    needs (like event data), so it may be a string of JSON: decode such a string once."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValueError:  # written by another version of the app: shown as unknown, never a 500
        log.warning("a run's %s does not match the contract", model.__name__)
        return None


def _is_ours(status: df.DurableOrchestrationStatus) -> bool:
    return bool(status) and status.name in (None, ORCHESTRATOR)


async def get_run(
    client: df.DurableOrchestrationClient, instance_id: str, *, show_input: bool = False
) -> RunView | None:
    if not safe_instance_id(instance_id):
        return None
    status = await client.get_status(instance_id, show_input=show_input)
    return RunView.of(status) if _is_ours(status) else None


async def list_runs(client: df.DurableOrchestrationClient, environment: str | None = None) -> list[RunView]:
    """Runs, newest first; of one environment when given (its ids only, not a longer name's)."""
    if environment is not None:
        statuses = await client.get_status_by(instance_id_prefix=f"{environment}-")
    else:
        statuses = await client.get_status_all()
    runs = [RunView.of(s) for s in statuses if _is_ours(s)]
    if environment is not None:
        runs = [r for r in runs if run_number(environment, r.instance_id) is not None]
    return sorted(runs, key=lambda r: (r.created.timestamp() if r.created else 0.0, r.instance_id), reverse=True)


@dataclass(frozen=True)
class StartResult:
    started: bool
    instance_id: str | None
    reason: str  # "started" | "in_progress" | "duplicate_event"


async def start_run(client: df.DurableOrchestrationClient, request: contract.RunRequest) -> StartResult:
    """Start a run unless one is in progress (or, for an event, this event already started one)."""
    environment, event_id = request.environment, request.trigger.event_id
    runs = await list_runs(client, environment)
    active = next((r for r in runs if r.active), None)
    if active is not None:
        return StartResult(False, active.instance_id, "in_progress")
    if event_id is not None:
        for run in runs[:DEDUPE_WINDOW_RUNS]:
            full = await get_run(client, run.instance_id, show_input=True)
            if full is not None and full.request is not None and full.request.trigger.event_id == event_id:
                return StartResult(False, run.instance_id, "duplicate_event")
    instance_id = next_instance_id(environment, [r.instance_id for r in runs])
    try:
        await client.start_new(ORCHESTRATOR, instance_id, contract.wire(request))
    except Exception:
        # Most likely a racing start took this id first (409 from the extension): if it runs, it wins.
        winner = await get_run(client, instance_id)
        if winner is not None and winner.active:
            return StartResult(False, instance_id, "in_progress")
        raise
    log.info("started %s for %s (trigger %s)", instance_id, environment, request.trigger.kind)
    return StartResult(True, instance_id, "started")
