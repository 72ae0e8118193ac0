"""The run's bookkeeping inside the orchestrator: phases, timeline, custom status, waits, activity calls.

Every phase goes through `enter()`, which sets the custom status operators see
({phase, message, started_at, details}) and appends to the timeline the output returns.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df

from activities._common import PERMANENT_ERROR
from orchestrators.events import ABORT_EVENT, event_payload

# Azure calls that fail temporarily (throttling, 5xx) are retried by the activity's SDK first
# (seconds); this policy adds minutes-scale retries on durable timers: 5 tries over ~2 minutes.
AZURE_RETRY = df.RetryOptions(first_retry_interval_in_milliseconds=30_000, max_number_of_attempts=5)

Step = Generator[Any, Any, Any]


class StepFailed(Exception):
    """A step could not go on; `code` and `message` become the run's reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Aborted(Exception):
    def __init__(self, by: str, reason: str) -> None:
        super().__init__(reason)
        self.by = by
        self.reason = reason


class Run:
    def __init__(self, context: df.DurableOrchestrationContext, request: dict[str, Any]) -> None:
        self.context = context
        self.request = request
        self.timeline: list[dict[str, Any]] = []
        self.phase: str | None = None
        self.message = ""
        self.details: dict[str, Any] = {}
        self.started_at: str | None = None
        self.facts: dict[str, Any] = {"started_by": request.get("started_by"), "resources": None}
        self.abortable = True
        self.poll_seconds = 30

    def now_iso(self) -> str:
        return self.context.current_utc_datetime.strftime("%Y-%m-%dT%H:%M:%SZ")

    def enter(self, phase: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.phase, self.message, self.details = phase, message, details or {}
        self.started_at = self.now_iso()
        self.note(message)

    def note(self, detail: str, details: dict[str, Any] | None = None) -> None:
        self.timeline.append({"phase": self.phase, "at": self.now_iso(), "detail": detail})
        if details is not None:
            self.details = details
        self.publish()

    def publish(self) -> None:
        self.context.set_custom_status(
            {
                "phase": self.phase,
                "message": self.message,
                "started_at": self.started_at,
                "details": self.details,
                "timeline": self.timeline,
                **self.facts,
            }
        )

    def activity(self, fn: Any, payload: dict[str, Any], retry: df.RetryOptions | None = AZURE_RETRY) -> Step:
        """Call an activity; a returned permanent error or exhausted retries end the step."""
        task = (
            self.context.call_activity_with_retry(fn, retry, payload)
            if retry is not None
            else self.context.call_activity(fn, payload)
        )
        try:
            result = yield task
        except Exception as exc:  # retries exhausted: the activity kept failing temporarily
            raise StepFailed("AzureUnavailable", str(exc).splitlines()[0][:300]) from None
        if isinstance(result, dict) and PERMANENT_ERROR in result:
            error = result[PERMANENT_ERROR]
            raise StepFailed(str(error.get("code")), str(error.get("message")))
        return result

    def sleep(self, seconds: float) -> Step:
        """A durable timer; before the switch an Abort event cuts it short."""
        fire_at = self.context.current_utc_datetime + timedelta(seconds=seconds)
        timer = self.context.create_timer(fire_at)
        if not self.abortable:
            yield timer
            return
        abort = self.context.wait_for_external_event(ABORT_EVENT)
        winner = yield self.context.task_any([timer, abort])
        if winner == abort:
            timer.cancel()
            payload = event_payload(abort.result)
            raise Aborted(str(payload.get("by") or "unknown"), str(payload.get("reason") or "aborted by an operator"))
