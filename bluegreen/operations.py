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

from bluegreen.errors import PermanentError, classify

TERMINAL = frozenset({"Succeeded", "Failed", "Canceled"})


def start(begin: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """Call an SDK `begin_*` method without polling; return {status_url, status} for `status()`."""
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
    return {"status_url": captured.get("status_url"), "status": "InProgress" if captured else "Succeeded"}


def status(client: Any, operation: dict[str, Any]) -> dict[str, Any]:
    """One look at an operation: {status: InProgress|Succeeded|Failed|Canceled, error: {code, message}|None}."""
    url = operation.get("status_url")
    if not url:
        return {"status": operation.get("status", "Succeeded"), "error": None}
    try:
        response = client.send_request(HttpRequest("GET", url))
    except Exception as exc:
        raise classify(exc) from exc
    if response.status_code == 202:  # Location polling: still running
        return {"status": "InProgress", "error": None}
    if response.status_code == 404:
        raise PermanentError("OperationNotFound", f"operation status is gone: {url}")
    if response.status_code >= 400:
        try:
            response.raise_for_status()
        except Exception as exc:
            raise classify(exc) from exc
    body = _json(response)
    state = body.get("status") or ("Succeeded" if response.status_code in (200, 201, 204) else "InProgress")
    error = body.get("error") if state in ("Failed", "Canceled") else None
    if state in ("Failed", "Canceled") and not error:
        error = {"code": f"Operation{state}", "message": f"the operation ended {state}"}
    return {"status": state, "error": error}


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
