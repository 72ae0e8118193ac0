"""Timer triggers: NCRONTAB schedules, fired on the host's clock as the Functions timer extension does.

A schedule is six NCRONTAB fields, `{second} {minute} {hour} {day} {month} {day-of-week}`, in UTC,
after `%NAME%` app-setting expressions are resolved from the environment. A function fires when the
clock reaches or passes its next occurrence; a clock that passed several (a virtual jump, a host that
was down) fires it once, with IsPastDue true. The next occurrence is reckoned after the invocation
returns, so occurrences missed while it ran are skipped, as the extension's listener does.

Timer triggers never pull a virtual clock forward (they are not a wake-up source): an idle host with
only timer triggers would otherwise never settle. They fire when time moves for another reason, in
the work loop (`Scheduler.run` calls `fire_due`), and the invocation counts as in-flight work until
it returns, so whatever it starts is queued before the host can look idle again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from azure.functions import meta
from azure.functions.timer import TimerRequestConverter

from local.functions_host.app_index import IndexedFunction
from local.functions_host.http_triggers import call_function

log = logging.getLogger("functions_host")

# ---- NCRONTAB


class ScheduleError(ValueError):
    """A schedule that cannot be parsed, resolved, or that never occurs."""


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# (name, lowest, highest, value names): NCrontab's six fields, Sunday = 0.
_FIELDS = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
# 28 years is the Gregorian weekday cycle: a schedule with no occurrence in it has none at all (Feb 30).
_SEARCH_DAYS = 28 * 366
_SETTING = re.compile(r"%([^%]+)%")


def _value(text: str, names: tuple[str, ...], low: int) -> int:
    if text.isdigit():
        return int(text)
    # As NCrontab: a name is any case-insensitive prefix of the full name ("mon", "Monday", "Jan").
    for index, name in enumerate(names):
        if text and name.lower().startswith(text.lower()):
            return low + index
    raise ValueError(f"{text!r} is not a number" + (f" or one of {', '.join(names)}" if names else ""))


def _parse_field(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        try:
            if slash and not (step_text.isdigit() and int(step_text) > 0):
                raise ValueError(f"the step {step_text!r} is not a positive number")
            step = int(step_text) if slash else 1
            if body == "*":
                first, last = low, high
            elif "-" in body:
                start, _, end = body.partition("-")
                first, last = _value(start, names, low), _value(end, names, low)
            else:
                first = _value(body, names, low)
                last = high if slash else first  # NCrontab: `a/n` is a, a+n, ... up to the field's end
            if not low <= first <= last <= high:
                raise ValueError(f"{part!r} is outside {low}-{high}")
        except ValueError as exc:
            raise ScheduleError(f"{text!r} is not a valid {name} field: {exc}") from None
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ScheduleError(
                f"{expression!r} is not an NCRONTAB expression: it needs 6 fields "
                "({second} {minute} {hour} {day} {month} {day-of-week}), not "
                f"{len(parts)}"
            )
        sec, minute, hour, day, month, weekday = (
            _parse_field(part, *spec) for part, spec in zip(parts, _FIELDS, strict=True)
        )
        return cls(expression, tuple(sorted(sec)), tuple(sorted(minute)), tuple(sorted(hour)), day, month, weekday)

    def next_after(self, moment: datetime) -> datetime:
        """The first occurrence strictly after `moment`, in UTC (NCrontab's GetNextOccurrence)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            # Day and day-of-week must both match: NCrontab ANDs them (Vixie cron would OR them).
            if day.month in self.months and day.day in self.days and (day.weekday() + 1) % 7 in self.weekdays:
                floor = (start.hour, start.minute, start.second) if day == start.date() else (0, 0, 0)
                found = self._time_at_or_after(*floor)
                if found is not None:
                    return datetime.combine(day, clock_time(*found), UTC)
            day += timedelta(days=1)
        raise ScheduleError(f"{self.expression!r} never occurs")

    def _time_at_or_after(self, hour: int, minute: int, second: int) -> tuple[int, int, int] | None:
        for h in self.hours:
            if h < hour:
                continue
            for m in self.minutes:
                if h == hour and m < minute:
                    continue
                for s in self.seconds:
                    if h == hour and m == minute and s < second:
                        continue
                    return h, m, s
        return None


def resolve_settings(text: str, settings: Mapping[str, str] | None = None) -> str:
    """`%NAME%` expressions replaced by app settings, as the host's name resolver does for binding values."""
    values = os.environ if settings is None else settings

    def setting(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ScheduleError(f"'%{match.group(1)}%' does not resolve to a value (no app setting {match.group(1)})")
        return values[match.group(1)]

    return _SETTING.sub(setting, text)


# ---- what a function is given


def _iso(moment: datetime | None) -> str:
    # What the extension sends for a status never written (DateTime.MinValue), else UTC with its offset.
    return "0001-01-01T00:00:00" if moment is None else moment.astimezone(UTC).isoformat()


def timer_payload(past_due: bool, last: datetime | None, next_: datetime | None, updated: datetime | None) -> str:
    """The JSON the host sends the Python worker for a timer trigger (TimerInfo); no status when unmonitored."""
    status = None
    if updated is not None:
        status = {"Last": _iso(last), "Next": _iso(next_), "LastUpdated": _iso(updated)}
    return json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": past_due})


def timer_request(payload: str) -> Any:
    """func.TimerRequest, built by the worker's converter from the host's JSON."""
    return TimerRequestConverter.decode(meta.Datum(payload, "json"), trigger_metadata=None)


# ---- firing


@dataclass
class Firing:
    """One invocation of a timer function: what it was given and, once `done`, whether it raised."""

    function: str
    at: datetime  # the clock's time when it fired
    scheduled: datetime | None  # the occurrence it fired for; None when run on startup or by hand
    past_due: bool
    cause: str  # "schedule" | "startup" | "manual"
    error: str | None = None
    done: bool = False


@dataclass
class _Timer:
    fn: IndexedFunction
    schedule: CronSchedule
    monitored: bool  # the extension's use_monitor: ScheduleStatus is kept (and given to the function)
    next: datetime | None  # None while a scheduled invocation runs: the next is reckoned when it returns
    startup: bool  # run_on_startup, not yet run
    last: datetime | None = None
    updated: datetime | None = None
    running: bool = False


class TimerTriggers:
    """The app's timer functions, fired by the work loop; also run by hand (admin API, tests). Loop thread only."""

    def __init__(self, core: Any) -> None:
        self.core = core  # LocalHost: clock, loop, scheduler, index, binding_json
        self.timers: dict[str, _Timer] = {}
        self.errors: dict[str, str] = {}  # function -> why it is not scheduled
        self.firings: list[Firing] = []
        self.checked_at: datetime | None = None  # the clock's time when the work loop last looked
        self._changed = asyncio.Event()  # a look, or an invocation returned
        now = core.clock.now()
        for name, fn in core.index.by_trigger("timerTrigger").items():
            try:
                schedule = CronSchedule.parse(resolve_settings(str(fn.trigger.get("schedule", ""))))
                first = schedule.next_after(now)
            except ScheduleError as exc:
                # As the real host: the function is in error and not scheduled; the others run.
                self.errors[name] = str(exc)
                log.error("timer %s is not scheduled: %s", name, exc)
                continue
            monitor = fn.trigger.get("useMonitor")
            if monitor is None:  # the extension's default: monitored unless it recurs more than once a minute
                monitor = schedule.next_after(first) - first >= timedelta(minutes=1)
            timer = _Timer(fn, schedule, bool(monitor), first, bool(fn.trigger.get("runOnStartup")))
            timer.updated = now if timer.monitored else None
            self.timers[name] = timer

    def next_due(self) -> datetime | None:
        """The earliest pending occurrence (or now, for a startup run): a real clock's loop waits until then."""
        now = self.core.clock.now()
        dues = [now if t.startup else t.next for t in self.timers.values() if t.startup or t.next is not None]
        return min(dues, default=None)

    def status(self, name: str) -> dict[str, Any]:
        if name in self.errors:
            return {"error": self.errors[name]}
        timer = self.timers[name]
        return {"schedule": timer.schedule.expression, "next": timer.next, "last": timer.last, "running": timer.running}

    def fire_due(self) -> None:
        """Fire what the clock has reached. Called by the work loop at the top of each turn."""
        now = self.core.clock.now()
        for timer in self.timers.values():
            if timer.running:
                continue
            if timer.startup:
                timer.startup = False
                self._fire(timer, now, None, False, "startup")
            elif timer.next is not None and timer.next <= now:
                following = self._next_after(timer, timer.next)
                self._fire(timer, now, timer.next, following is not None and following <= now, "schedule")
        self.checked_at = now
        self._changed.set()

    def invoke(self, name: str) -> Firing:
        """Run a timer function now, with IsPastDue false, as the admin API does; its schedule is untouched."""
        timer = self.timers.get(name)
        if timer is None:
            raise LookupError(self.errors.get(name) or f"{name!r} is not a timer function")
        now = self.core.clock.now()
        firing = Firing(name, now, None, False, "manual")
        self._start(timer.fn, self._payload(timer, False), firing)
        return firing

    async def settle(self) -> None:
        """Until the work loop has looked at the clock's current time and every function the host invoked
        itself (timer firings, admin API invocations) returned."""
        target = self.core.clock.now()
        self.core.scheduler.wake()
        while True:
            self._changed.clear()
            if self.checked_at is None or self.checked_at < target:
                await self._changed.wait()
                continue
            running = {task for task in self.core.scheduler.invocations if not task.done()}
            if not running:
                return
            await asyncio.wait(running)

    async def wait(self, firing: Firing) -> None:
        while not firing.done:
            self._changed.clear()
            await self._changed.wait()

    # ---- inside

    def _fire(self, timer: _Timer, now: datetime, scheduled: datetime | None, past_due: bool, cause: str) -> None:
        log.info("timer %s fired (past due: %s)", timer.fn.name, "true" if past_due else "false")
        payload = self._payload(timer, past_due)
        if timer.monitored:  # the status the next invocation sees: this one was the last
            timer.last, timer.updated = scheduled or now, now
        timer.running, timer.next = True, None
        task = self._start(timer.fn, payload, Firing(timer.fn.name, now, scheduled, past_due, cause))
        task.add_done_callback(lambda _: self._reschedule(timer))

    def _reschedule(self, timer: _Timer) -> None:
        timer.running = False
        timer.next = self._next_after(timer, self.core.clock.now())
        self.core.scheduler.wake()

    def _next_after(self, timer: _Timer, moment: datetime) -> datetime | None:
        try:
            return timer.schedule.next_after(moment)
        except ScheduleError as exc:
            log.error("timer %s has no next occurrence: %s", timer.fn.name, exc)
            return None

    def _payload(self, timer: _Timer, past_due: bool) -> str:
        if not timer.monitored:
            return timer_payload(past_due, None, None, None)
        return timer_payload(past_due, timer.last, timer.next, timer.updated)

    def _start(self, fn: IndexedFunction, payload: str, firing: Firing) -> asyncio.Task[None]:
        self.firings.append(firing)
        task = self.core.loop.create_task(self._invoke(fn, payload, firing))
        task.add_done_callback(lambda _: self._changed.set())
        self.core.scheduler.track(task)  # in-flight work until it returns: a virtual clock stays put
        return task

    async def _invoke(self, fn: IndexedFunction, payload: str, firing: Firing) -> None:
        started = time.perf_counter()
        try:
            await call_function(self.core, fn, timer_request(payload))
        except Exception as exc:
            # A failing function must not stop the host or its schedule: the next occurrence still fires.
            firing.error = f"{type(exc).__name__}: {exc}"
            log.error("timer %s raised:\n%s", fn.name, traceback.format_exc())
        finally:
            firing.done = True
        log.debug("timer %s returned (%.0f ms)", fn.name, (time.perf_counter() - started) * 1000)
