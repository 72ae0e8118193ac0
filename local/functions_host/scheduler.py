"""The work loop: episodes, activities in a thread pool, durable timers, and the virtual-clock jump.

The host is idle when no episode is queued, no activity runs, no HTTP request is being handled and
no function the host invoked itself (a timer trigger, see timers.py) is still running.
On a virtual clock an idle host first runs the idle hooks (in a worker thread, so they may call the
host over HTTP), then, if a durable timer is pending, moves time to the earliest of that timer and
any later wake-up another party registered on the clock (the emulated Azure's next event). With no
timer pending it waits for outside input instead: jumping then would skip time nobody asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from local.functions_host import history as h
from local.functions_host.engine import Effects, Engine, track_timers
from local.functions_host.store import Store, StoreClosed

if TYPE_CHECKING:
    from local.functions_host.timers import TimerTriggers

log = logging.getLogger("functions_host")
_TRIGGER_CHECK_SECONDS = 60.0


class Scheduler:
    def __init__(self, engine: Engine, store: Store, clock: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.engine, self.store, self.clock, self.loop = engine, store, clock, loop
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="functions-host")
        self.idle_hooks: list[Callable[[], bool]] = []
        self.http_inflight = 0
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._timers: dict[tuple[str, int], tuple[datetime, str]] = {}
        self._activities: set[asyncio.Task[None]] = set()
        # Functions the host invokes itself (timer triggers, the admin API): in-flight work, like a request.
        self.invocations: set[asyncio.Task[Any]] = set()
        self.timer_triggers: TimerTriggers | None = None  # fired each turn; never a wake-up source
        self._wake = asyncio.Event()
        self._stopped = False
        # Idle hooks run beside the loop, not in it: a hook may call the host over HTTP and wait for
        # an orchestration to act on what it sent, so episodes must go on while it runs.
        self._hooks: asyncio.Task[bool] | None = None
        self._hooks_settled = False  # the hooks ran since the last work and found nothing to do
        self._episodes = 0  # counts episodes: hooks that ran while one happened must look again

    # ---- bookkeeping shared with the HTTP side (all on the loop thread)

    def apply(self, fx: Effects) -> None:
        track_timers(self._timers, fx)
        for iid, task_id, name, input_text, token in fx.activities:
            self._start_activity(iid, task_id, name, input_text, token)
        for iid in fx.enqueue:
            if iid not in self._queued:
                self._queued.add(iid)
                self._queue.append(iid)
        self.wake()

    def recover(self) -> None:
        """Pick up what a previous host left: in-flight activities run again (at-least-once), timers re-arm."""
        fx = Effects()
        fx.activities = [
            (t["instance_id"], t["task_id"], t["name"], t["input"], t["token"]) for t in self.store.tasks()
        ]
        fx.timers = [(t["instance_id"], t["timer_id"], t["fire_at"]) for t in self.store.timers()]
        fx.enqueue = self.store.instances_with_inbox()
        self.apply(fx)

    def wake(self) -> None:
        self._wake.set()

    def wake_threadsafe(self, *_: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: this host is gone
            self.loop.call_soon_threadsafe(self._wake.set)

    def pending_timers(self) -> int:
        return len(self._timers)

    def next_timer(self) -> datetime | None:
        return min((due for due, _ in self._timers.values()), default=None) if not self._stopped else None

    @property
    def busy(self) -> bool:
        return bool(
            self._queue or self._activities or self.http_inflight or self.invocations or self._hooks is not None
        )

    def track(self, task: asyncio.Task[Any]) -> None:
        """A function invocation the host started: the host is busy until it returns."""
        self.invocations.add(task)
        task.add_done_callback(self._invocation_done)

    def _invocation_done(self, task: asyncio.Task[Any]) -> None:
        self.invocations.discard(task)
        self.wake()

    # ---- the loop

    async def run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            self._fire_due()
            if self.timer_triggers is not None:
                self.timer_triggers.fire_due()
            if self._queue:
                self._hooks_settled = False
                self._episodes += 1
                self._step(self._queue.popleft())
                await asyncio.sleep(0)  # let HTTP requests in between episodes
                continue
            if self.busy or not self.clock.virtual:
                await self._wait(None if self.clock.virtual else self._seconds_to_next_timer())
                continue
            if self.idle_hooks and not self._hooks_settled:
                self._start_idle_hooks()
                continue
            due = self.next_timer()
            if due is None:
                await self._wait(None)
                continue
            other = self.clock.next_wakeup()
            target = other if other is not None and self.clock.now() < other < due else due
            self.clock.advance_to(target)
            self._hooks_settled = False  # a new instant: the hooks look again before the next jump

    def stop(self) -> None:
        self._stopped = True
        if self._hooks is not None:
            self._hooks.cancel()
        self.wake()

    async def _wait(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _seconds_to_next_timer(self) -> float | None:
        due = self.next_timer()
        if self.timer_triggers is not None:  # a real clock is not told when it passes an occurrence: look then
            trigger = self.timer_triggers.next_due()
            if trigger is not None:
                due = trigger if due is None else min(due, trigger)
        if due is None:
            return None
        # At least once a minute with timer triggers: the wall clock may be set while the loop waits.
        cap = _TRIGGER_CHECK_SECONDS if self.timer_triggers and self.timer_triggers.timers else None
        seconds = max(0.0, (due - self.clock.now()).total_seconds())
        return seconds if cap is None else min(seconds, cap)

    def _start_idle_hooks(self) -> None:
        episodes = self._episodes
        self._hooks = self.loop.create_task(self._run_idle_hooks())
        self._hooks.add_done_callback(lambda task: self._idle_hooks_done(task, episodes))

    def _idle_hooks_done(self, task: asyncio.Task[bool], episodes_at_start: int) -> None:
        self._hooks = None
        # Nothing done, and nothing happened meanwhile: the clock may move. Otherwise they look again.
        quiet = not task.cancelled() and task.exception() is None and not task.result()
        self._hooks_settled = quiet and self._episodes == episodes_at_start
        self.wake()

    async def _run_idle_hooks(self) -> bool:
        did_something = False
        for hook in list(self.idle_hooks):
            try:
                did_something = bool(await self.loop.run_in_executor(self.pool, hook)) or did_something
            except Exception:
                log.exception("idle hook %r failed", hook)
        return did_something

    def _step(self, iid: str) -> None:
        self._queued.discard(iid)
        try:
            if self.store.next_inbox(iid) is None:
                return
            started = time.perf_counter()
            fx = self.engine.step(iid)
            log.debug("episode %s in %.1f ms", iid, (time.perf_counter() - started) * 1000)
        except StoreClosed:
            return
        except Exception:
            # A host bug must not spin forever on the same inbox item: report it and drop the item.
            log.exception("episode for %s failed inside the host", iid)
            item = self.store.next_inbox(iid)
            if item is not None:
                with self.store.tx() as tx:
                    tx.delete_inbox(item["id"])
            return
        self.apply(fx)

    def _fire_due(self) -> None:
        now = self.clock.now()
        for (iid, timer_id), (due, fire_at) in sorted(self._timers.items(), key=lambda kv: kv[1][0]):
            if due > now:
                break
            del self._timers[(iid, timer_id)]
            try:
                with self.store.tx() as tx:
                    if tx.take_timer(iid, timer_id):
                        tx.add_inbox(iid, "completion", h.timer_fired(now, timer_id, fire_at))
            except StoreClosed:
                return
            self.apply(Effects(enqueue=[iid]))

    # ---- activities

    def _start_activity(self, iid: str, task_id: int, name: str, input_text: str | None, token: str | None) -> None:
        task = self.loop.create_task(self._run_activity(iid, task_id, name, input_text, token))
        self._activities.add(task)
        task.add_done_callback(self._activity_done)

    def _activity_done(self, task: asyncio.Task[None]) -> None:
        self._activities.discard(task)
        self.wake()

    async def _run_activity(self, iid: str, task_id: int, name: str, input_text: str | None, token: str | None) -> None:
        fn = self.engine.index.activity(name)
        started = time.perf_counter()
        try:
            if fn is None:
                raise LookupError(f"The function '{name}' doesn't exist or is not an activity function.")
            # The host passes the action's JSON text as a string datum; the SDK converter decodes it.
            value = ActivityTriggerConverter.decode(meta.Datum(input_text or "null", "string"), trigger_metadata=None)
            call = partial(fn.user_function, **{fn.trigger_name: value})
            result = await call() if fn.is_async else await self.loop.run_in_executor(self.pool, call)
            result_text = ActivityTriggerConverter.encode(result, expected_type=None).value
            event = h.task_completed(self.clock.now(), task_id, result_text)
            outcome = "Succeeded"
        except Exception as exc:
            log.warning("activity %s (%s #%d) failed:\n%s", name, iid, task_id, traceback.format_exc())
            reason = f"Activity function '{name}' failed: {exc}"
            event = h.task_failed(self.clock.now(), task_id, reason, f"{type(exc).__name__}: {exc}")
            outcome = "Failed"
        if self._stopped:
            return
        log.info(
            "activity %s for %s #%d %s (%.0f ms)", name, iid, task_id, outcome, (time.perf_counter() - started) * 1000
        )
        try:
            with self.store.tx() as tx:
                if not tx.take_task(iid, task_id, token):
                    return  # the instance ended or continued as new meanwhile: the result is dropped
                tx.add_inbox(iid, "completion", event)
        except StoreClosed:
            return
        self.apply(Effects(enqueue=[iid]))
