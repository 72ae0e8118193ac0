"""Long-running operations the ARM way: a status document that goes InProgress -> Succeeded | Failed.

Nothing runs in the background: an operation is a start and an end on the shared clock, and `settle(now)`
applies the effects of every operation that has ended, in order of its end time, at that end time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator.errors import ArmError

OnSuccess = Callable[["Operation"], None]
OnFailure = Callable[["Operation"], None]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Operation:
    id: str
    path: str
    subscription: str
    namespace: str
    location: str
    start: datetime
    end: datetime
    on_success: OnSuccess
    on_failure: OnFailure
    retry_after: int
    status: str = "InProgress"
    error: dict[str, str] | None = None
    # What the final GET on the Location URL returns (runCommand's result); None means 204.
    result: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def status_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/providers/{self.namespace}"
            f"/locations/{self.location}/operations/{self.id}"
        )

    def result_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/providers/{self.namespace}"
            f"/locations/{self.location}/operationresults/{self.id}"
        )


@dataclass
class _FailRule:
    pattern: re.Pattern[str] | None
    code: str
    message: str


class Operations:
    def __init__(self) -> None:
        self._ops: dict[str, Operation] = {}
        self._fail_rules: list[_FailRule] = []
        self._counter = 0

    def start(
        self,
        path: str,
        now: datetime,
        seconds: float,
        on_success: OnSuccess,
        on_failure: OnFailure,
        *,
        subscription: str,
        namespace: str,
        location: str,
        retry_after: int,
    ) -> Operation:
        self._counter += 1
        # Deterministic ids make request logs of two runs comparable.
        op_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{path}#{self._counter}"))
        op = Operation(
            op_id,
            path,
            subscription,
            namespace,
            location.replace(" ", "").lower() or "global",
            now,
            now + timedelta(seconds=seconds),
            on_success,
            on_failure,
            retry_after,
        )
        op.error = self._take_fail_rule(path)
        self._ops[op_id] = op
        return op

    def fail_next(self, path_pattern: str | None, code: str, message: str, count: int = 1) -> None:
        """The next `count` operations whose path matches end Failed with this error (one rule each)."""
        compiled = re.compile(path_pattern, re.IGNORECASE) if path_pattern else None
        self._fail_rules.extend(_FailRule(compiled, code, message) for _ in range(count))

    def clear_fail_rules(self) -> None:
        self._fail_rules.clear()

    def preempt(self, op: Operation, now: datetime, error: dict[str, str]) -> None:
        """End a running operation Failed now, without its effects (a later operation replaced it)."""
        if op.status == "InProgress":
            op.status, op.error, op.end = "Failed", dict(error), now

    def _take_fail_rule(self, path: str) -> dict[str, str] | None:
        for rule in self._fail_rules:
            if rule.pattern is None or rule.pattern.search(path):
                self._fail_rules.remove(rule)
                return {"code": rule.code, "message": rule.message}
        return None

    def settle(self, now: datetime) -> None:
        due = sorted((op for op in self._ops.values() if op.status == "InProgress" and op.end <= now), key=_end)
        for op in due:
            if op.error:
                op.status = "Failed"
                op.on_failure(op)
            else:
                op.status = "Succeeded"
                op.on_success(op)

    def get(self, op_id: str) -> Operation:
        op = self._ops.get(op_id)
        if op is None:
            raise ArmError(404, "NotFound", f"Operation {op_id} was not found.")
        return op

    def next_event_time(self) -> datetime | None:
        pending = [op.end for op in self._ops.values() if op.status == "InProgress"]
        return min(pending) if pending else None

    def status_document(self, op: Operation) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": op.status_path(), "name": op.id, "status": op.status, "startTime": iso(op.start)}
        if op.status != "InProgress":
            doc["endTime"] = iso(op.end)
        if op.status == "Failed" and op.error:
            doc["error"] = dict(op.error)
        return doc


def _end(op: Operation) -> datetime:
    return op.end


def lro_headers(op: Operation, base_url: str, api_version: str, location: str | None = None) -> dict[str, str]:
    """Azure-AsyncOperation for the status document; Location (absolute) when given; Retry-After."""
    headers = {
        "Azure-AsyncOperation": f"{base_url}{op.status_path()}?api-version={api_version}",
        "Retry-After": str(op.retry_after),
    }
    if location is not None:
        headers["Location"] = f"{base_url}{location}?api-version={api_version}"
    return headers
