"""ARM resource ids: parse once, strictly; compare case-insensitively (ARM ids are not case-sensitive).

A resource id is exactly `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}`,
then more `{type}/{name}` pairs for child resources. The keywords are matched without regard to case,
as ARM does; one trailing slash is tolerated. Anything else (a prefix before `/subscriptions`, an
empty segment, a type without a name, whitespace) is not a resource id: it raises ValueError with the
reason. The parse is strict because ids arrive from outside (Event Grid topics, alert targets): a
loose parse once normalised "/junk/subscriptions/.../managedClusters/x" into the live cluster's id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# The fixed head of every resource-group-scoped id: (position, keyword) after the leading slash.
_KEYWORDS = ((0, "subscriptions"), (2, "resourcegroups"), (4, "providers"))
_HEAD = 6  # subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _refuse(value: str, reason: str) -> ValueError:
    return ValueError(f"not an ARM resource id ({reason}): {value!r}")


def _segments(value: str) -> list[str]:
    """The id's segments after the leading slash, or ValueError naming what is malformed."""
    if not value.startswith("/"):
        raise _refuse(value, "must start with /subscriptions/")
    if _WHITESPACE_OR_CONTROL.search(value):
        raise _refuse(value, "contains whitespace or control characters")
    parts = value[1:].removesuffix("/").split("/")
    if "" in parts:
        raise _refuse(value, "has an empty segment")
    return parts


def _check_head(value: str, parts: list[str]) -> None:
    if len(parts) < _HEAD:
        raise _refuse(value, "expected /subscriptions/{id}/resourceGroups/{name}/providers/{namespace}/...")
    for position, keyword in _KEYWORDS:
        if parts[position].lower() != keyword:
            raise _refuse(value, f"segment {position + 1} must be {keyword!r}, not {parts[position]!r}")


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    provider: str
    # (type, name) pairs from the provider down, e.g. (("profiles", "afd"), ("originGroups", "og")).
    segments: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, value: str) -> ResourceId:
        if not isinstance(value, str):
            raise ValueError(f"not an ARM resource id (not a string): {value!r}")
        parts = _segments(value)
        _check_head(value, parts)
        rest = parts[_HEAD:]
        if not rest or len(rest) % 2:
            raise _refuse(value, "after the provider namespace, expected {type}/{name} pairs")
        segments = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
        return cls(parts[1], parts[3], parts[5], segments)

    @property
    def name(self) -> str:
        return self.segments[-1][1]

    @property
    def type(self) -> str:
        return "/".join([self.provider, *(t for t, _ in self.segments)])

    def __str__(self) -> str:
        tail = "/".join(f"{t}/{n}" for t, n in self.segments)
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{self.provider}/{tail}"
        )

    def sibling(self, name: str) -> ResourceId:
        """The resource of the same type and parent with another name (blue's id -> green's id)."""
        type_, _ = self.segments[-1]
        return ResourceId(self.subscription, self.resource_group, self.provider, (*self.segments[:-1], (type_, name)))


def same_resource(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def managed_cluster_id(subscription: str, resource_group: str, name: str) -> ResourceId:
    return ResourceId(subscription, resource_group, "Microsoft.ContainerService", (("managedClusters", name),))


def retarget(value: str, old_id: str, new_id: str) -> str:
    """`value` with `old_id` (the whole value, or its prefix) replaced by `new_id`; anything else unchanged.

    How a copy made for green points where blue's original pointed at blue: a scope, a source, an alert's scope.
    """
    lowered, old = value.rstrip("/").lower(), old_id.rstrip("/").lower()
    if lowered == old or lowered.startswith(old + "/"):
        return new_id.rstrip("/") + value.rstrip("/")[len(old) :]
    return value


def retarget_all(body: Any, old_id: str, new_id: str) -> Any:
    """`retarget` applied to every string in a JSON body."""
    if isinstance(body, str):
        return retarget(body, old_id, new_id)
    if isinstance(body, list):
        return [retarget_all(item, old_id, new_id) for item in body]
    if isinstance(body, dict):
        return {key: retarget_all(item, old_id, new_id) for key, item in body.items()}
    return body


def subscription_of(resource_id: str) -> str:
    """The subscription of any id under one, extension resources included (`{scope}/providers/...`)."""
    parts = resource_id.strip("/").split("/")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ValueError(f"{resource_id!r} is not under a subscription")
    return parts[1]


def twin_name(name: str, blue_name: str, green_name: str, limit: int = 64) -> str:
    """Blue's resource name with blue's cluster name swapped for green's (or green's appended): readable, unique."""
    lowered = name.lower()
    at = lowered.find(blue_name.lower())
    twin = name[:at] + green_name + name[at + len(blue_name) :] if at >= 0 else f"{name}-{green_name}"
    return twin[:limit].rstrip("-_.")
