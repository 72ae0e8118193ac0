"""Request hooks: a callback run in the request's thread after the request was applied and logged, before
the response is sent. For "kill the Functions host while an activity's write is in flight".

A hook runs without any emulator lock held, so it may call the emulator (or stop a host) freely. Whatever it
does, the request's effects are already applied, and the emulator answers (or, with `drop_response`, closes
the connection) and goes on serving. A hook that raises is reported on stderr and in the log entry.
"""

from __future__ import annotations

import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Callback = Callable[[dict[str, Any]], Any]


@dataclass
class RequestHook:
    callback: Callback
    method: str | None
    pattern: re.Pattern[str] | None
    once: bool
    drop_response: bool
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    active: bool = True

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self.pattern is None or bool(self.pattern.search(path))

    def remove(self) -> None:
        self.active = False


class Hooks:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: list[RequestHook] = []

    def add(self, hook: RequestHook) -> RequestHook:
        with self._lock:
            self._hooks.append(hook)
        return hook

    def clear(self) -> None:
        with self._lock:
            for hook in self._hooks:
                hook.active = False
            self._hooks.clear()

    def _due(self, method: str, path: str) -> list[RequestHook]:
        # A `once` hook is taken here, under the lock: two concurrent requests never both run it.
        with self._lock:
            self._hooks = [h for h in self._hooks if h.active]
            due = [h for h in self._hooks if h.matches(method, path)]
            for hook in due:
                if hook.once:
                    hook.active = False
                    self._hooks.remove(hook)
            return due

    def run(self, entry: dict[str, Any]) -> tuple[bool, list[str]]:
        """Run the hooks due for this logged request; return (drop the response?, errors raised)."""
        drop, errors = False, []
        for hook in self._due(str(entry["method"]), str(entry["path"])):
            hook.calls += 1
            drop = drop or hook.drop_response
            try:
                hook.callback(dict(entry))
            except BaseException as exc:  # a hook (even one that exits its thread) must not kill the request
                text = f"{type(exc).__name__}: {exc}"
                hook.errors.append(text)
                errors.append(text)
                print(f"azure emulator: request hook raised for {entry['method']} {entry['path']}", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
        return drop, errors
