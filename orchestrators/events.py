"""External event names and the payload rule shared by the orchestrator and the triggers."""

from __future__ import annotations

import json
from typing import Any

APPROVAL_EVENT = "Approval"  # {"approved": bool, "by": str, "comment": str | None}
ROLLBACK_EVENT = "Rollback"  # {"trigger": "alert" | "manual", "by": str, "reason": str, ...}
ABORT_EVENT = "Abort"  # {"by": str, "reason": str}


def event_payload(raw: Any) -> dict[str, Any]:
    """Normalise a raised event's payload to a dict.

    The Python DurableOrchestrationClient JSON-encodes event data that the host then stores as
    JSON text again, so a dict sent by `raise_event` arrives here as a *string* of JSON
    (azure-functions-durable-python issue #295). Decode such a string once; accept a dict as is.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {"value": raw}
    return raw if isinstance(raw, dict) else {"value": raw}
