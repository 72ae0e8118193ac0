"""External event names, and how a raised event's payload becomes its contract model."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from bluegreen.lazy import contract

APPROVAL_EVENT = "Approval"  # contract.ApprovalEvent
ROLLBACK_EVENT = "Rollback"  # contract.RollbackEvent
ABORT_EVENT = "Abort"  # contract.AbortEvent
RESOLVE_EVENT = "ResolveManually"  # contract.ResolveEvent
GREEN_READY_EVENT = "GreenReady"  # contract.GreenReadyEvent

Event = TypeVar("Event", bound="contract.Contract")


def event_payload(raw: Any) -> Any:
    """A raised event's payload as sent.

    The Python DurableOrchestrationClient JSON-encodes event data that the host then stores as
    JSON text again, so a dict sent by `raise_event` arrives here as a *string* of JSON
    (azure-functions-durable-python issue #295). Decode such a string once; accept a dict as is.
    """
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def parse_event(raw: Any, model: type[Event]) -> Event | None:
    """The event as its model, or None when the payload is not one (only the app's doors raise events)."""
    try:
        return model.model_validate(event_payload(raw))
    except ValueError:
        return None


def unreadable(name: str) -> contract.Contract:
    """What an event whose payload cannot be read still means: it was raised, so it is honoured
    the safe way (an abort aborts, a rollback rolls back, an approval rejects, a green-ready fails), never ignored.
    (Only the app's doors raise events, and they validate; this covers another version's payload.)"""
    if name == ABORT_EVENT:
        return contract.AbortEvent(by="unknown", reason="an Abort whose payload could not be read")
    if name == ROLLBACK_EVENT:
        return contract.RollbackEvent(
            trigger="manual", by="unknown", reason="a Rollback whose payload could not be read"
        )
    if name == RESOLVE_EVENT:
        return contract.ResolveEvent(by="unknown", reason="a resolution whose payload could not be read")
    if name == GREEN_READY_EVENT:
        return contract.GreenReadyEvent(ok=False, by="unknown", detail="a green-ready whose payload could not be read")
    return contract.ApprovalEvent(approved=False, by="unknown", comment="unreadable approval event")
