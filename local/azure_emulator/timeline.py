"""A value that changes at recorded moments; lookups at past times see what was true then."""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


class Timeline(Generic[T]):
    def __init__(self, initial: T) -> None:
        self._times: list[datetime] = []
        self._values: list[T] = []
        self._initial = initial

    def set(self, at: datetime, value: T) -> None:
        # Changes arrive in time order almost always; insort keeps lookups right when they do not.
        index = bisect.bisect_right(self._times, at)
        self._times.insert(index, at)
        self._values.insert(index, value)

    def at(self, moment: datetime) -> T:
        index = bisect.bisect_right(self._times, moment)
        return self._values[index - 1] if index else self._initial

    def changes(self) -> list[datetime]:
        return list(self._times)
