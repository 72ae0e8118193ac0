"""Things that happen by themselves at a moment of the shared clock and are no ARM operation (Flux reconciling).

Like operations, nothing runs in the background: `World.settle()` runs every timer that is due, in time order,
interleaved with the operations that end before it. A timer is never polled by a client and never takes an
injected operation failure (`fail_next_operation` is for ARM's long-running operations only).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

Action = Callable[[datetime], None]


@dataclass(order=True)
class _Timer:
    due: datetime
    seq: int
    action: Action = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Schedule:
    def __init__(self) -> None:
        self._heap: list[_Timer] = []
        self._seq = itertools.count()

    def at(self, due: datetime, action: Action) -> _Timer:
        timer = _Timer(due, next(self._seq), action)
        heapq.heappush(self._heap, timer)
        return timer

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)

    def next_due(self) -> datetime | None:
        self._drop_cancelled()
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: datetime) -> _Timer | None:
        self._drop_cancelled()
        if self._heap and self._heap[0].due <= now:
            return heapq.heappop(self._heap)
        return None
