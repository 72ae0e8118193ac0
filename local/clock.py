"""One notion of time for the offline stack: real, or virtual and moved only by whoever drives it.

The emulated Azure and the local Functions host share one clock. On a virtual clock nothing
sleeps: `sleep()` moves time forward, and a driver that finds nothing runnable jumps to the
earliest moment any party is waiting for (`next_wakeup()`), so a 24-hour timer takes no wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

# A fixed, recognisable start for virtual time, so rehearsals print the same timestamps every run.
VIRTUAL_EPOCH = datetime(2026, 11, 20, 6, 0, 0, tzinfo=UTC)

WakeupSource = Callable[[], datetime | None]
AdvanceListener = Callable[[datetime], None]


class Clock(Protocol):
    virtual: bool

    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...

    def add_wakeup_source(self, source: WakeupSource) -> None: ...

    def add_advance_listener(self, listener: AdvanceListener) -> None: ...

    def next_wakeup(self) -> datetime | None: ...


class _Sources:
    def __init__(self) -> None:
        self._sources: list[WakeupSource] = []
        self._listeners: list[AdvanceListener] = []

    def add_wakeup_source(self, source: WakeupSource) -> None:
        self._sources.append(source)

    def add_advance_listener(self, listener: AdvanceListener) -> None:
        self._listeners.append(listener)

    def next_wakeup(self) -> datetime | None:
        due = [t for t in (source() for source in self._sources) if t is not None]
        return min(due) if due else None

    def _notify(self, now: datetime) -> None:
        for listener in self._listeners:
            listener(now)


class RealClock(_Sources):
    """Wall time. Listeners are not called on every tick; real-time parties poll instead."""

    virtual = False

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock(_Sources):
    """Time that moves only when told to. Thread-safe; never goes backwards."""

    virtual = True

    def __init__(self, start: datetime = VIRTUAL_EPOCH) -> None:
        super().__init__()
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            if moment <= self._now:
                return
            self._now = moment
        self._notify(moment)

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now() + timedelta(seconds=seconds))

    def sleep(self, seconds: float) -> None:
        # A party that would wait (an SDK poller, a retry back-off) moves virtual time instead.
        if seconds > 0:
            self.advance(seconds)


def make_clock(kind: str) -> RealClock | VirtualClock:
    if kind == "real":
        return RealClock()
    if kind == "virtual":
        return VirtualClock()
    raise ValueError(f"clock must be 'real' or 'virtual', not {kind!r}")
