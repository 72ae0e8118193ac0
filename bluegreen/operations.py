"""Start an ARM long-running operation without waiting, and check on it later.

An AKS create or upgrade runs for tens of minutes; an activity must not block on it (Consumption
activities die at 10 minutes). So a write is sent with `polling=False`, the operation's status URL
(Azure-AsyncOperation, else Location) is kept, and a later, short call reads that URL once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.rest import HttpRequest

from bluegreen.contract import ErrorInfo, OperationHandle, OperationState, OperationStatus
from bluegreen.errors import PermanentError, classify


def start(begin: Callable[..., Any], *args: Any) -> OperationHandle:
    """Call an SDK `begin_*` method without polling; return the handle `status()` checks later."""
    captured: dict[str, str] = {}

    def keep_status_url(response: PipelineResponse) -> None:
        headers = response.http_response.headers
        url = headers.get("Azure-AsyncOperation") or headers.get("Location")
        if url and "status_url" not in captured:
            captured["status_url"] = url

    try:
        begin(*args, polling=False, raw_response_hook=keep_status_url)
    except Exception as exc:  # an SDK error: let the caller see it as Temporary or Permanent
        raise classify(exc) from exc
    url = captured.get("status_url")
    return OperationHandle(status_url=url, status="InProgress" if url else "Succeeded")


def status(client: Any, operation: OperationHandle) -> OperationStatus:
    """One look at an operation: InProgress, Succeeded, Failed or Canceled (with ARM's error)."""
    url = operation.status_url
    if not url:
        return OperationStatus(status=OperationState.SUCCEEDED)
    try:
        response = client.send_request(HttpRequest("GET", url))
    except Exception as exc:
        raise classify(exc) from exc
    if response.status_code == 202:  # Location polling: still running
        return OperationStatus(status=OperationState.IN_PROGRESS)
    if response.status_code == 404:
        raise PermanentError("OperationNotFound", f"operation status is gone: {url}")
    if response.status_code >= 400:
        try:
            response.raise_for_status()
        except Exception as exc:
            raise classify(exc) from exc
    body = _json(response)
    text = body.get("status") or ("Succeeded" if response.status_code in (200, 201, 204) else "InProgress")
    try:
        state = OperationState(text)
    except ValueError:  # ARM's non-terminal states (Accepted, Running, Deleting, ...) all mean "not yet"
        state = OperationState.IN_PROGRESS
    if state not in (OperationState.FAILED, OperationState.CANCELED):
        return OperationStatus(status=state)
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    return OperationStatus(
        status=state,
        error=ErrorInfo(
            code=str(error.get("code") or f"Operation{state.value}"),
            message=str(error.get("message") or f"the operation ended {state.value}"),
        ),
    )


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
