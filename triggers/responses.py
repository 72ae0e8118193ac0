"""JSON responses: every error is {"error": {"code", "message", ...}}, never a stack trace."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func

log = logging.getLogger("bluegreen.triggers")

Handler = Callable[..., Awaitable[func.HttpResponse]]


class ApiError(Exception):
    """An answer other than success; raised anywhere in a handler, turned into JSON by `json_api`."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, default=str), status_code=status, headers=headers, mimetype="application/json"
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> func.HttpResponse:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


def field_errors(exc: ValueError) -> list[dict[str, str]]:
    """One entry per bad field, named as the caller wrote it (aliases), without echoing the input.

    `exc` is pydantic's ValidationError (a ValueError; pydantic loads on first use, not at import).
    """
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [{"field": "(body)", "message": str(exc)}]
    return [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": str(e["msg"])} for e in errors()]


def invalid(exc: ValueError, what: str = "request body") -> ApiError:
    fields = field_errors(exc)
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    return ApiError(400, "InvalidRequest", f"invalid {what}: {summary}", fields=fields)


def json_api(fn: Handler) -> Handler:
    """ApiError -> its JSON answer; anything unexpected -> a generic 500 (details only in the log)."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return await fn(*args, **kwargs)
        except ApiError as error:
            return error_response(error.status, error.code, error.message, **error.extra)
        except Exception:
            # Azure or the Durable extension failed us: 500 is honest (and callers may retry), but
            # the message stays generic; the exception (never request headers) goes to the log.
            log.exception("%s failed", fn.__name__)
            return error_response(500, "InternalError", "the request could not be completed; see the app's logs")

    return run


def parse_json_body(req: func.HttpRequest, *, allow_empty: bool) -> Any:
    """The body as JSON: an empty body is {} where the body is optional; otherwise a 400."""
    raw = req.get_body() or b""
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "InvalidRequest", "a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "InvalidJson", "the body is not valid JSON") from None
