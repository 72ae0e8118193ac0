"""JSON responses: every error is {"error": {"code", "message", ...}}, never a stack trace.

Request bodies (every POST route, the alert webhook included) are read by `parse_json_body`, which
refuses hostile input before any model sees it, each with its own code:

- more than `MAX_BODY_BYTES` (256 KiB): 413 `PayloadTooLarge`. Operator bodies are a few hundred
  bytes; the largest legitimate body is a common-schema alert, which Azure Monitor caps at 256 KB.
- a non-empty body whose Content-Type is not `application/json` (a `charset` other than utf-8
  included; a missing Content-Type too): 415 `UnsupportedMediaType`. An empty body needs none.
- not UTF-8, not JSON (NaN and Infinity are not JSON), or a string with an unpaired surrogate
  (RFC 7493): 400 `InvalidJson`, the message saying which.
- nested deeper than `MAX_JSON_DEPTH` (32) arrays/objects: 400 `TooDeeplyNested`. This is also
  what stops json.loads' RecursionError (a 500) on thousands of `[`.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import azure.functions as func

log = logging.getLogger("bluegreen.triggers")

Handler = Callable[..., Awaitable[func.HttpResponse]]

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
JSON_MEDIA_TYPE = "application/json"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    """The body as JSON: an empty body is {} where the body is optional; otherwise a 400.

    The checks run cheapest first, so an oversized body is refused before it is decoded or parsed.
    """
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "PayloadTooLarge", f"the body is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    if not raw.strip():
        if allow_empty:
            return {}
        raise ApiError(400, "InvalidRequest", "a JSON body is required")
    require_json_content_type(req.headers)
    return bounded_json(utf8_text(raw))


def require_json_content_type(headers: Mapping[str, str]) -> None:
    """A body is read as JSON only when the caller says it is JSON (curl -d says form data)."""
    declared = headers.get("Content-Type") or ""  # the worker's headers are case-insensitive
    media_type, _, parameters = declared.partition(";")
    charset = _parameter(parameters, "charset")
    if media_type.strip().lower() != JSON_MEDIA_TYPE or charset not in (None, "utf-8"):
        shown = repr(declared[:100]) if declared else "none"
        raise ApiError(
            415, "UnsupportedMediaType", f"send the body as Content-Type: {JSON_MEDIA_TYPE} (UTF-8); got {shown}"
        )


def _parameter(parameters: str, name: str) -> str | None:
    for part in parameters.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"').lower()
    return None


def utf8_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "InvalidJson", f"the body is not valid JSON: not UTF-8 (byte {exc.start})") from None


def bounded_json(text: str) -> Any:
    """json.loads, refusing what is not interoperable JSON and what nests deeper than MAX_JSON_DEPTH."""
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over Python's digit limit
        raise ApiError(400, "InvalidJson", f"the body is not valid JSON: {_reason(exc)}") from None
    _check_nodes(value)
    return value


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _reason(exc: ValueError) -> str:
    # JSONDecodeError's message names the position, never the input; others are our own words.
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc).split(":")[0]


def _too_deep() -> ApiError:
    return ApiError(400, "TooDeeplyNested", f"the body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")


def _check_nodes(value: Any) -> None:
    """Depth and string checks in one pass, without recursion (the input chooses the depth)."""
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            if _LONE_SURROGATE.search(node):
                raise ApiError(400, "InvalidJson", "the body is not valid JSON: a string has an unpaired surrogate")
            continue
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise _too_deep()
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else node
        pending.extend((child, depth + 1) for child in children)
