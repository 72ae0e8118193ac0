"""Injected faults: ARM errors answered instead of a request, and smoke probes that get a bad answer or none.

Every fault is taken one request at a time under one lock, so a burst of N answers exactly N requests, also
when they arrive concurrently. A faulted request changes nothing: the handler is never called.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from local.azure_emulator.protocol import Response

# Default ARM error bodies per status. Sources:
# - 429: "you receive the HTTP status code 429 Too many requests. The response includes a Retry-After value"
#   (learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling).
# - 409: Front Door's answer to a write while another operation runs on the resource, Code "Conflict"
#   (seen from Microsoft.Network/frontdoors, github.com/alec-pinson/ip-whitelister-old/issues/39).
# - 5xx: ARM's CloudError shape {"error": {"code", "message"}} with the status's usual code.
_ERRORS = {
    400: ("BadRequest", "The request is invalid (injected by the emulated Azure)."),
    404: ("NotFound", "The resource was not found (injected by the emulated Azure)."),
    409: ("Conflict", "The requested operation cannot be executed on the entity as another operation is in progress."),
    429: ("TooManyRequests", "Number of requests exceeded the limit. Retry later."),
    500: ("InternalServerError", "Injected server error."),
    502: ("BadGateway", "Injected bad gateway."),
    503: ("ServiceUnavailable", "Injected service unavailable."),
    504: ("GatewayTimeout", "Injected gateway timeout."),
}


def default_error(status: int) -> tuple[str, str]:
    if not 400 <= status <= 599:
        raise ValueError(f"an injected error needs a 4xx or 5xx status, not {status}")
    return _ERRORS.get(status, (f"Http{status}", f"Injected HTTP {status}."))


def compile_pattern(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern, re.IGNORECASE) if pattern else None


@dataclass
class RequestFault:
    status: int
    remaining: int
    code: str
    message: str
    method: str | None = None
    pattern: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    retry_after: int | None = None
    front_door_only: bool = False

    def matches(self, method: str, path: str, front_door_write: bool) -> bool:
        if self.front_door_only and not front_door_write:
            return False
        if self.method and self.method.upper() != method:
            return False
        if self.exclude is not None and self.exclude.search(path):
            return False
        return self.pattern is None or bool(self.pattern.search(path))

    def response(self) -> Response:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return Response(self.status, {"error": {"code": self.code, "message": self.message}}, headers)


@dataclass
class ProbeFault:
    host: str | None  # lowercased; None matches every host
    status: int | None  # None: the connection is dropped, the probe gets no answer
    remaining: int | None  # None: until cleared


class FaultBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RequestFault] = []
        self._probes: list[ProbeFault] = []

    def add(self, fault: RequestFault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._requests.append(fault)

    def take(self, method: str, path: str, front_door_write: bool) -> RequestFault | None:
        """The first pending fault for this request, with one use taken from it."""
        with self._lock:
            for fault in self._requests:
                if fault.remaining > 0 and fault.matches(method, path, front_door_write):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._requests.remove(fault)
                    return fault
            return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._requests)

    def add_probe(self, host: str | None, status: int | None, count: int | None) -> None:
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"a probe status must be an HTTP status or None, not {status}")
        if count is not None and count < 1:
            raise ValueError("count must be at least 1, or None for until cleared")
        with self._lock:
            self._probes.append(ProbeFault(host.lower() if host else None, status, count))

    def take_probe(self, host: str) -> ProbeFault | None:
        with self._lock:
            for fault in self._probes:
                if fault.host is None or fault.host == host.lower():
                    if fault.remaining is not None:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._probes.remove(fault)
                    return fault
            return None

    def clear_probes(self) -> None:
        with self._lock:
            self._probes.clear()

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._probes.clear()
