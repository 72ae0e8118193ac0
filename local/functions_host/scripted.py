"""Scripted runs: an app's orchestrations through the real SDK replay, with every activity answered by a script.

The host's Engine replays the orchestrators exactly as `LocalHost` does (history events in, actions out),
but here in one thread, with no HTTP and no Azure, on a virtual clock that jumps to the next durable
timer whenever nothing else can happen. Activities are not run: `script(name, payload)` answers each
call (a result, or an exception for a failed activity), the way Temporal's samples mock activities, so
a test can drive every branch of a runbook in milliseconds. Events are raised by the test at any
moment it chooses: inside the script (while an activity runs), from `before_timer` hooks (while the
orchestration waits on a timer), or between `run()` calls.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from local.clock import VirtualClock
from local.functions_host import history as h
from local.functions_host.app_index import load_app
from local.functions_host.engine import TERMINAL, Effects, Engine, track_timers
from local.functions_host.management_api import status_payload
from local.functions_host.store import Store

Script = Callable[[str, Any], Any]


@dataclass(frozen=True)
class ActivityCall:
    instance_id: str
    name: str
    payload: Any
    at: datetime


@dataclass
class ScriptedRun:
    app: str | Path | ModuleType
    script: Script
    clock: VirtualClock = field(default_factory=VirtualClock)
    calls: list[ActivityCall] = field(default_factory=list)
    # Called with the virtual time a timer is about to fire at, before the clock moves there.
    before_timer: list[Callable[[datetime], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.index = load_app(self.app)
        self.store = Store(":memory:")
        self.engine = Engine(self.store, self.index, self.clock)
        self._queue: deque[str] = deque()
        # Queued activities with the token of their scheduling (the store drops a stale one's result).
        self._activities: deque[tuple[str, int, str, str | None, str | None]] = deque()
        self._timers: dict[tuple[str, int], tuple[datetime, str]] = {}

    # ---- driving

    def start(self, orchestrator: str, instance_id: str, payload: Any) -> None:
        fx = Effects()
        with self.store.tx() as tx:
            # As the Python client + management API do: the body is the input JSON-encoded twice.
            self.engine.create(tx, orchestrator, instance_id, json.dumps(json.dumps(payload)), None, fx)
        self._apply(fx)

    def raise_event(self, instance_id: str, name: str, payload: Any) -> None:
        """As `DurableOrchestrationClient.raise_event` + the host do: the payload is JSON-encoded twice."""
        event = h.event_raised(self.clock.now(), name, json.dumps(json.dumps(payload)))
        with self.store.tx() as tx:
            tx.add_inbox(instance_id, "event", event)
        self._apply(Effects(enqueue=[instance_id]))

    def run(self, max_steps: int = 100_000) -> None:
        """Until nothing can happen any more: every instance ended, or waiting for an event."""
        for _ in range(max_steps):
            if self._queue:
                iid = self._queue.popleft()
                if self.store.next_inbox(iid) is not None:
                    self._apply(self.engine.step(iid))
                    if self.store.next_inbox(iid) is not None and iid not in self._queue:
                        self._queue.append(iid)
                continue
            if self._activities:
                self._run_activity(*self._activities.popleft())
                continue
            if not self._timers:
                return
            due = min(d for d, _ in self._timers.values())
            for hook in self.before_timer:
                hook(due)
            if self._queue or self._activities:
                continue  # a hook raised an event: it arrives before the timer fires
            self.clock.advance_to(due)
            self._fire_due()
        raise RuntimeError(f"no end after {max_steps} steps")

    # ---- inspecting

    def status(self, instance_id: str) -> dict[str, Any]:
        row = self.store.instance(instance_id)
        if row is None:
            raise KeyError(instance_id)
        return status_payload(row)

    def ended(self, instance_id: str) -> bool:
        return self.status(instance_id)["runtimeStatus"] in TERMINAL

    def activity_names(self) -> list[str]:
        return [call.name for call in self.calls]

    def instances(self) -> list[str]:
        return [row["instance_id"] for row in self.store.instances()]

    # ---- the host's bookkeeping, synchronously

    def _apply(self, fx: Effects) -> None:
        track_timers(self._timers, fx)
        self._activities.extend(fx.activities)
        for iid in fx.enqueue:
            if iid not in self._queue:
                self._queue.append(iid)

    def _run_activity(self, iid: str, task_id: int, name: str, input_text: str | None, token: str | None) -> None:
        if self.index.activity(name) is None:
            raise LookupError(f"the app has no activity {name!r}")
        payload = json.loads(input_text) if input_text else None
        self.calls.append(ActivityCall(iid, name, payload, self.clock.now()))
        try:
            result = self.script(name, payload)
            event = h.task_completed(self.clock.now(), task_id, json.dumps(_plain(result)))
        except Exception as exc:  # the activity failed: the orchestrator sees TaskFailed
            reason = f"Activity function '{name}' failed: {exc}"
            event = h.task_failed(self.clock.now(), task_id, reason, f"{type(exc).__name__}: {exc}")
        with self.store.tx() as tx:
            if not tx.take_task(iid, task_id, token):
                return  # its execution ended meanwhile (it ran at least once, as on Azure): the result is dropped
            tx.add_inbox(iid, "completion", event)
        self._apply(Effects(enqueue=[iid]))

    def _fire_due(self) -> None:
        now = self.clock.now()
        for (iid, timer_id), (due, fire_at) in sorted(self._timers.items(), key=lambda kv: kv[1][0]):
            if due > now:
                break
            del self._timers[(iid, timer_id)]
            with self.store.tx() as tx:
                if tx.take_timer(iid, timer_id):
                    tx.add_inbox(iid, "completion", h.timer_fired(now, timer_id, fire_at))
            self._apply(Effects(enqueue=[iid]))


def _plain(result: Any) -> Any:
    """A script may answer with a pydantic model; the wire carries its JSON."""
    dump = getattr(result, "model_dump", None)
    return dump(mode="json") if callable(dump) else result
