"""LocalHost: the local Functions host as one object, running its asyncio loop in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from aiohttp import web
from azure.durable_functions.models.utils import http_utils

from local.clock import RealClock
from local.functions_host import management_api
from local.functions_host.app_index import AppIndex, load_app
from local.functions_host.engine import TERMINAL, Engine
from local.functions_host.scheduler import Scheduler
from local.functions_host.server import build_app, describe_routes
from local.functions_host.store import Store, StoreClosed
from local.functions_host.timers import Firing, TimerTriggers

log = logging.getLogger("functions_host")


class LocalHost:
    def __init__(
        self,
        app: str | Path | ModuleType = "function_app.py",
        state: str = ":memory:",
        clock: Any = None,
        port: int = 0,
        env: dict[str, str] | None = None,
        master_key: str | None = None,
    ) -> None:
        self.app, self.state, self.port, self.env = app, str(state), port, dict(env or {})
        # The admin API's key (x-functions-key on /admin/...); a fresh one per host unless given.
        self.master_key = master_key or secrets.token_urlsafe(32)
        self.clock = clock if clock is not None else RealClock()
        self.base_url = ""
        self.index: AppIndex | None = None
        self.store: Store | None = None
        self.engine: Engine | None = None
        self.scheduler: Scheduler | None = None
        self.timers: TimerTriggers | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._pending_hooks: list[Any] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._runner: web.AppRunner | None = None
        self._main: asyncio.Task[None] | None = None
        self.routes: list[str] = []

    # ---- lifecycle

    def start(self) -> LocalHost:
        os.environ.update(self.env)  # app settings, like local.settings.json Values, before the import
        self.index = load_app(self.app)
        self.store = Store(self.state)
        self._thread = threading.Thread(target=self._thread_main, name="functions-host", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    @property
    def module(self) -> ModuleType:
        assert self.index is not None, "start() the host first"
        return self.index.module

    @property
    def binding_json(self) -> str:
        assert self.index is not None
        return management_api.binding_json(self.base_url, self.index.task_hub)

    def stop(self) -> None:
        self._shutdown(grace=5.0)

    def kill(self) -> None:
        """Crash: from this instant nothing more is persisted; the port is released."""
        if self.store is not None:
            self.store.kill()
        self._shutdown(grace=0.0)

    def __enter__(self) -> LocalHost:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _thread_main(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._startup())
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            self.loop.close()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def _startup(self) -> None:
        assert self.index is not None and self.store is not None and self.loop is not None
        # The SDK's client keeps one module-global aiohttp session bound to the loop that made it;
        # a previous host's loop is gone, so start from a fresh session and lock (protocol pitfall 9).
        http_utils._client_session = None
        http_utils._session_lock = asyncio.Lock()
        self.engine = Engine(self.store, self.index, self.clock)
        self.scheduler = Scheduler(self.engine, self.store, self.clock, self.loop)
        self.scheduler.idle_hooks.extend(self._pending_hooks)
        self.timers = TimerTriggers(self)  # after the app settings: schedules may name them (%NAME%)
        self.scheduler.timer_triggers = self.timers
        app, triggers, _ = build_app(self)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        # As Azure (and Core Tools) do: the app learns where it answers, for callbacks it hands out.
        os.environ["WEBSITE_HOSTNAME"] = f"127.0.0.1:{port}"
        self.routes = describe_routes(self, triggers)
        self.clock.add_wakeup_source(self.scheduler.next_timer)
        self.clock.add_advance_listener(self.scheduler.wake_threadsafe)
        self.scheduler.recover()
        self._main = self.loop.create_task(self.scheduler.run())
        log.info("functions host listening on %s (state %s)", self.base_url, self.state)

    def _shutdown(self, grace: float) -> None:
        if self.loop is None or self._thread is None or not self._thread.is_alive():
            return
        future = asyncio.run_coroutine_threadsafe(self._async_shutdown(grace), self.loop)
        with contextlib.suppress(Exception):
            future.result(timeout=grace + 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if self.store is not None:
            self.store.close()
        if self.scheduler is not None:
            self.scheduler.pool.shutdown(wait=False, cancel_futures=True)

    async def _async_shutdown(self, grace: float) -> None:
        assert self.scheduler is not None
        self.scheduler.stop()
        if self._main is not None:
            # Each episode is synchronous, so cancelling between awaits never leaves one half-done.
            self._main.cancel()
            with contextlib.suppress(BaseException):
                await self._main
        activities = [*self.scheduler._activities, *self.scheduler.invocations]
        if activities and grace > 0:
            await asyncio.wait(activities, timeout=grace)
        for task in activities:
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        with contextlib.suppress(Exception):
            await http_utils._close_session()

    # ---- driving and inspecting (thread-safe)

    def add_idle_hook(self, fn: Any) -> None:
        """fn() -> bool runs in a worker thread when an idle host is about to move a virtual clock."""
        if self.scheduler is None:
            self._pending_hooks.append(fn)
        else:
            self.loop.call_soon_threadsafe(self.scheduler.idle_hooks.append, fn)  # type: ignore[union-attr]
            self.scheduler.wake_threadsafe()

    def advance(self, seconds: float, timeout: float = 30.0) -> list[Firing]:
        """Move a virtual clock by `seconds`; as advance_to."""
        return self.advance_to(self.clock.now() + timedelta(seconds=seconds), timeout)

    def advance_to(self, moment: datetime, timeout: float = 30.0) -> list[Firing]:
        """Move a virtual clock, then wait until the timer functions that came due fired and returned.

        Returns the firings the move caused. What they started (orchestrations) is queued by then,
        not finished: wait_for() those.
        """
        assert self.timers is not None, "start() the host first"
        if not self.clock.virtual:
            raise RuntimeError("only a virtual clock can be moved")
        seen = len(self.timers.firings)
        self.clock.advance_to(moment)
        self.settle_timers(timeout)
        return self.timers.firings[seen:]

    def settle_timers(self, timeout: float = 30.0) -> None:
        """Wait until the work loop has looked at the timer triggers at the clock's current time and every
        function the host invoked itself (timer firings, admin API invocations) has returned."""
        assert self.timers is not None, "start() the host first"
        self._on_loop(self.timers.settle(), timeout)

    def invoke_timer(self, name: str, timeout: float = 30.0) -> Firing:
        """Run a timer function now (IsPastDue false), as POST /admin/functions/{name} does, and wait for it
        to return. The firing's `error` says whether it raised. LookupError for an unknown function."""
        timers = self.timers
        assert timers is not None, "start() the host first"

        async def run() -> Firing:
            firing = timers.invoke(name)
            await timers.wait(firing)
            return firing

        return self._on_loop(run(), timeout)

    def timer_firings(self) -> list[Firing]:
        assert self.timers is not None, "start() the host first"
        return list(self.timers.firings)

    def _on_loop(self, coroutine: Any, timeout: float) -> Any:
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def get_status(self, instance_id: str) -> dict[str, Any] | None:
        assert self.store is not None
        row = self.store.instance(instance_id)
        return None if row is None else management_api.status_payload(row)

    def wait_for(
        self, instance_id: str, statuses: tuple[str, ...] = TERMINAL[:3], timeout: float = 30.0
    ) -> dict[str, Any]:
        assert self.store is not None
        deadline = time.monotonic() + timeout
        with self.store.changed:
            while True:
                try:
                    status = self.get_status(instance_id)
                except StoreClosed:
                    status = None
                if status is not None and status["runtimeStatus"] in statuses:
                    return status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{instance_id} not in {statuses} after {timeout}s: {status}")
                self.store.changed.wait(min(remaining, 0.5))

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        assert self.store is not None
        return self.store.history(instance_id)

    def history_counts(self, instance_id: str) -> dict[str, int]:
        """History volume of a run tree: the instance and every descendant (sub-orchestrations, recursively).

        `events` counts every event ever written, across continue_as_new and retries, which
        history() cannot show (it holds the current execution only); `max_instance` is the longest
        single execution among them, what one replay had to read. An unknown id counts 0 instances.
        """
        assert self.store is not None
        rows = self.store.history_counters(instance_id)
        return {
            "instances": len(rows),
            "events": sum(r["events_written"] for r in rows),
            "max_instance": max((r["longest_history"] for r in rows), default=0),
        }

    def pending_timers(self) -> int:
        assert self.store is not None
        return len(self.store.timers())
