"""The state of the Event Grid, Insights, Network and Compute providers: ARM bodies by lowercased id.

One store for these providers (eventgrid_*, insights_*, network_*, compute_usages), so an existence check
(arm_exists) or a resources dump sees all of them alike. A stored body is what a GET returns, plus private keys
that start with "_" (a WebHook's full URL, a subscription's validation outcome): `view()` leaves those out.

Also kept here: resources the emulator does not model but that exist (`declare`: a Log Analytics workspace, a
storage account, a Function App's function ...; seeded as {"type": "emulator/resource", "id": ...}), and the
regional vCPU quota of each subscription (compute_usages).
"""

from __future__ import annotations

import copy
import re
from typing import Any

_PROVIDER = re.compile(r"/providers/([^/]+)/(.+)$", re.IGNORECASE)


def key(resource_id: str) -> str:
    return resource_id.rstrip("/").lower()


def view(stored: dict[str, Any]) -> dict[str, Any]:
    """A GET body: never the private "_" keys."""
    return {k: copy.deepcopy(v) for k, v in stored.items() if not k.startswith("_")}


def resource_type(resource_id: str) -> str:
    """`Microsoft.Network/virtualNetworks/subnets` for a subnet's id; the innermost provider for an extension
    resource; `Microsoft.Resources/subscriptions` / `.../resourceGroups` for those scopes."""
    tail, match = resource_id, None
    while (found := _PROVIDER.search(tail)) is not None:
        match, tail = found, found.group(2)
    if match is None:
        parts = [p for p in resource_id.split("/") if p]
        if len(parts) == 2 and parts[0].lower() == "subscriptions":
            return "Microsoft.Resources/subscriptions"
        if len(parts) == 4 and parts[2].lower() == "resourcegroups":
            return "Microsoft.Resources/resourceGroups"
        return ""
    namespace, rest = match.group(1), match.group(2).split("/")
    return "/".join([namespace, *rest[0::2]])


def segment(resource_id: str, name: str) -> str:
    """The value after `/{name}/` in an id ("" when absent), e.g. segment(id, "resourceGroups")."""
    found = re.search(rf"/{name}/([^/]+)", resource_id, re.IGNORECASE)
    return found.group(1) if found else ""


def last_name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


class ArmStore:
    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        # Resources that exist without an emulated API (emulator/resource seed items), by lowercased id.
        self.declared: dict[str, dict[str, Any]] = {}
        # Regional vCPU quota: (subscription, location) -> usage name -> limit; and what other compute (VMs the
        # emulator does not model) already uses: (subscription, location) -> usage name -> currentValue.
        self.compute_limits: dict[tuple[str, str], dict[str, int]] = {}
        self.compute_other: dict[tuple[str, str], dict[str, int]] = {}

    def get(self, resource_id: str) -> dict[str, Any] | None:
        return self.bodies.get(key(resource_id))

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies[key(body["id"])] = body
        return body

    def pop(self, resource_id: str) -> dict[str, Any] | None:
        return self.bodies.pop(key(resource_id), None)

    def children(self, parent_id: str, collection: str) -> list[dict[str, Any]]:
        """Direct children `{parent}/{collection}/{name}`, in id order."""
        prefix = f"{key(parent_id)}/{collection.lower()}/"
        return [body for k, body in sorted(self.bodies.items()) if k.startswith(prefix) and "/" not in k[len(prefix) :]]

    def under(self, prefix_id: str) -> list[dict[str, Any]]:
        """Every body whose id starts with `{prefix_id}/` (descendants and extension resources)."""
        prefix = key(prefix_id) + "/"
        return [body for k, body in sorted(self.bodies.items()) if k.startswith(prefix)]

    def of_type(self, rtype: str, sub: str | None = None, rg: str | None = None) -> list[dict[str, Any]]:
        """Bodies of one type (case-insensitive), optionally in one subscription / resource group."""
        found = []
        for k, body in sorted(self.bodies.items()):
            if str(body.get("type", "")).lower() != rtype.lower():
                continue
            if sub is not None and segment(k, "subscriptions") != sub.lower():
                continue
            if rg is not None and segment(k, "resourcegroups") != rg.lower():
                continue
            found.append(body)
        return found

    def declare(self, resource_id: str, body: dict[str, Any] | None = None) -> None:
        item = dict(body or {})
        item["id"] = resource_id
        item.setdefault("type", resource_type(resource_id))
        self.declared[key(resource_id)] = item
