"""Transport-neutral request/response values and the route table entry the server dispatches on."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.azure_emulator.errors import ArmError


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_body: bytes
    base_url: str

    def json(self) -> Any:
        if not self.raw_body:
            raise ArmError(400, "InvalidRequestContent", "The request content was empty.")
        try:
            return json.loads(self.raw_body)
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent", f"The request content was invalid JSON: {exc}") from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a JSON object.")
        return body


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set by Front Door writes so the request log can show what the write left enabled.
    enabled_origins: int | None = None


Handler = Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    operation: str
    kind: str  # "read" | "write", as ARM throttling counts them


def route(method: str, path_regex: str, handler: Handler, operation: str, kind: str | None = None) -> Route:
    """ARM paths are case-insensitive; `{name}` in path_regex matches one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path_regex)
    pattern = re.compile(f"^{regex}$", re.IGNORECASE)
    return Route(method, pattern, handler, operation, kind or ("read" if method == "GET" else "write"))


SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
