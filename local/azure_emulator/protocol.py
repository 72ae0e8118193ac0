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
    # Close the connection instead of answering: the client gets no response at all.
    drop: bool = False


Handler = Callable[[Request, dict[str, str]], Response]
# For a Front Door write: the origins (or backends) enabled in the configuration in force now, from the
# route's path parameters; None when the target does not exist.
InForce = Callable[[dict[str, str]], int | None]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    operation: str
    kind: str  # "read" | "write", as ARM throttling counts them
    in_force: InForce | None = None

    @property
    def front_door_write(self) -> bool:
        return self.in_force is not None


def route(
    method: str,
    path_regex: str,
    handler: Handler,
    operation: str,
    kind: str | None = None,
    in_force: InForce | None = None,
) -> Route:
    """ARM paths are case-insensitive; `{name}` in path_regex matches one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path_regex)
    pattern = re.compile(f"^{regex}$", re.IGNORECASE)
    return Route(method, pattern, handler, operation, kind or ("read" if method == "GET" else "write"), in_force)


SUB = "/subscriptions/{sub}"
RG = SUB + "/resourceGroups/{rg}"
