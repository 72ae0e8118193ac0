"""The one place that decides whether an Azure failure is worth retrying.

408, 429 and 5xx are temporary (throttling, timeouts, a service hiccup): retry later.
Other 4xx are permanent (a bad request, no permission, a missing resource, a conflict that
waiting does not fix): retrying only repeats the mistake, so the run must stop and say why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

if TYPE_CHECKING:
    from bluegreen.contract import ErrorInfo

TEMPORARY_STATUSES = frozenset({408, 429})
# AKS answers 409 OperationNotAllowed while another operation runs on the cluster or the agent pool:
# "Another operation (...) is in progress, please wait for it to finish before starting a new
# operation" (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/operationnotallowed).
# Waiting fixes that one; other OperationNotAllowed answers (stop a stopped cluster) it does not.
IN_PROGRESS_MARKERS = ("in progress", "is in provisioning state")


class BlueGreenError(Exception):
    """A failure with a code and message fit for a run's outcome (no stack traces in history)."""

    temporary = False

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "message": self.message, "status": self.status, "temporary": self.temporary}

    def info(self) -> ErrorInfo:
        """The code and message as the run contract carries them (never a stack trace)."""
        from bluegreen.contract import ErrorInfo

        return ErrorInfo(code=self.code, message=self.message)


class TemporaryError(BlueGreenError):
    temporary = True


class PermanentError(BlueGreenError):
    temporary = False


def is_temporary_status(status: int | None) -> bool:
    if status is None:
        return True  # no answer at all (connection reset, timeout): the request may succeed later
    return status in TEMPORARY_STATUSES or status >= 500


def classify(exc: BaseException) -> BlueGreenError:
    """Map any exception raised by an Azure SDK call to a TemporaryError or a PermanentError."""
    if isinstance(exc, BlueGreenError):
        return exc
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TemporaryError("ConnectionError", str(exc) or type(exc).__name__)
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "status_code", None) is None:
        return PermanentError("AuthenticationFailed", str(exc))
    if isinstance(exc, HttpResponseError):
        # Typed SDK errors raised without a response still mean their status.
        status = exc.status_code or (404 if isinstance(exc, ResourceNotFoundError) else None)
        error = exc.error
        code = (error.code if error is not None and error.code else None) or (exc.reason or "HttpError")
        message = (error.message if error is not None and error.message else None) or str(exc.message or exc)
        if isinstance(exc, ResourceNotFoundError):
            code = code if code != "HttpError" else "ResourceNotFound"
        kind = (
            TemporaryError if is_temporary_status(status) or _operation_in_progress(status, message) else PermanentError
        )
        return kind(str(code), _first_line(message), status)
    return PermanentError(type(exc).__name__, _first_line(str(exc)))


def _operation_in_progress(status: int | None, message: str) -> bool:
    lowered = message.lower()
    return status == 409 and any(marker in lowered for marker in IN_PROGRESS_MARKERS)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
