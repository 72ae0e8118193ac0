"""One orchestrator episode: host-shaped context JSON in, through the registered handle, parsed state out."""

from __future__ import annotations

import functools
import importlib
import json
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func

from local.functions_host.history import Event

# The module, not the class its package re-exports under the same name.
_history_event_module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")

OUT_OF_PROC_MARKER = "$OutOfProcData$:"

# ActionType values (azure.durable_functions.models.actions.ActionType).
CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CONTINUE_AS_NEW, CREATE_TIMER = 0, 1, 2, 3, 4, 5
WAIT_FOR_EVENT, WHEN_ANY, WHEN_ALL = 6, 11, 12
COMPOUND = (WHEN_ANY, WHEN_ALL)
# Actions that take a sequence number (an EventId) when the host schedules them, as DTFx numbers them.
NUMBERED = (CALL_ACTIVITY, CALL_ACTIVITY_RETRY, CALL_SUB, CALL_SUB_RETRY, CREATE_TIMER)
SUPPORTED = (*NUMBERED, WAIT_FOR_EVENT, CONTINUE_AS_NEW)


def cache_history_timestamps() -> None:
    """Parse each history timestamp once per process instead of once per replay.

    The SDK's HistoryEvent parses its `Timestamp` with dateutil every time an episode replays the
    history, and with the same strings every time: that was most of an episode's cost here. The parse
    is a pure function of the string and a datetime is immutable, so a cache in front of it changes
    nothing the orchestrator sees. (Azure's worker pays this on every replay; the app keeps its
    histories short for that reason, see orchestrators/children.py.)
    """
    parse = _history_event_module.dt_parse
    if not isinstance(parse, functools._lru_cache_wrapper):
        _history_event_module.dt_parse = functools.lru_cache(maxsize=1 << 16)(parse)


@dataclass
class Episode:
    done: bool
    actions: list[dict[str, Any]] = field(default_factory=list)  # flattened, cumulative since the execution began
    output: Any = None
    error: str | None = None
    custom_status: Any = None

    @property
    def continue_as_new(self) -> dict[str, Any] | None:
        return next((a for a in self.actions if a.get("actionType") == CONTINUE_AS_NEW), None)


def context_json(instance_id: str, input_token: Any, past: list[Event], new: list[Event], parent: str | None) -> str:
    """The trigger JSON the extension builds (OrchestrationContextToString), schema V3 like the real host."""
    history = [dict(e, IsPlayed=True) for e in past] + [dict(e, IsPlayed=False) for e in new]
    return json.dumps(
        {
            "history": history,
            "input": input_token,
            "instanceId": instance_id,
            "isReplaying": bool(past),
            "parentInstanceId": parent,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "longRunningTimerIntervalDuration": "3.00:00:00",
            "maximumShortTimerDuration": "6.00:00:00",
            "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
        }
    )


def run_episode(handle: Any, body: str) -> Episode:
    """Call the orchestrator's registered handle; an orchestrator that raised comes back as an error episode."""
    try:
        raw = handle(func.OrchestrationContext(body))
    except Exception as exc:
        text = str(exc)
        if OUT_OF_PROC_MARKER in text:
            state = json.loads(text.split(OUT_OF_PROC_MARKER, 1)[1])
            episode = _parse(state)
            episode.error = state.get("error") or text.split(OUT_OF_PROC_MARKER, 1)[0].strip()
            episode.done = True
            return episode
        # Not in the out-of-proc shape (e.g. a payload that is not JSON text escaped the SDK).
        return Episode(done=True, error=f"{type(exc).__name__}: {exc}")
    state = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return _parse(state)


def _parse(state: dict[str, Any]) -> Episode:
    return Episode(
        done=bool(state.get("isDone")),
        actions=flatten(state.get("actions") or [], "schemaVersion" in state),
        output=state.get("output"),
        error=state.get("error") or None,
        custom_status=state.get("customStatus"),
    )


def flatten(actions: list[Any], v2: bool) -> list[dict[str, Any]]:
    """Atomic actions in the order the host schedules them: depth-first through WhenAny/WhenAll.

    V2+ sends one cumulative, append-only list (`[[...]]`); V1 one list per yield. Compound actions
    are fixed at creation and only `isCanceled` ever changes, so an action's position is its identity.
    """
    out: list[dict[str, Any]] = []

    def walk(action: dict[str, Any]) -> None:
        if action.get("actionType") in COMPOUND:
            for child in action.get("compoundActions") or []:
                walk(child)
        else:
            out.append(action)

    groups = actions[:1] if v2 else actions
    for group in groups:
        for action in group:
            walk(action)
    return out
