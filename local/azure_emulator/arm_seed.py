"""Seeding the arm_providers resources: each ARM body is PUT through its provider (the same validation as a
request), then marked as settled (provisioningState Succeeded: it existed before the emulator started).

Accepted: virtual networks (subnets inline or separate), subnets, public IP addresses and prefixes, Event Grid
system topics and their event subscriptions (a seeded WebHook subscription was validated already: no handshake;
give `endpointUrl`, or `endpointBaseUrl` for one without a query string), action groups, metric and activity
log alerts, diagnostic settings. Two emulator pseudo items:
- {"type": "emulator/resource", "id": "<ARM id>", "location"?: ...}: a resource the emulator has no API for but
  that exists (a Log Analytics workspace, a storage account, a Function App function): existence checks find it.
- {"type": "emulator/computeQuota", "subscription", "location", "limits": {"cores": 200, ...},
  "otherUsage": {"cores": 16, ...}}: the regional vCPU limits and what compute outside the emulator already uses.
Items load in dependency order (rank): VNets before subnets, action groups before alerts, topics before their
subscriptions, targets before diagnostic settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from local.azure_emulator.arm_store import resource_type
from local.azure_emulator.compute_usages import region
from local.azure_emulator.errors import ArmError
from local.azure_emulator.protocol import Request

if TYPE_CHECKING:
    from local.azure_emulator.arm_providers import ArmProviders

RESOURCE_TYPE = "emulator/resource"
QUOTA_TYPE = "emulator/computeQuota"
_RANKS = {
    RESOURCE_TYPE.lower(): 0,
    QUOTA_TYPE.lower(): 0,
    "microsoft.network/virtualnetworks": 1,
    "microsoft.network/virtualnetworks/subnets": 2,
    "microsoft.network/publicipprefixes": 2,
    "microsoft.network/publicipaddresses": 3,
    "microsoft.insights/actiongroups": 4,
    "microsoft.eventgrid/systemtopics": 5,
    "microsoft.eventgrid/systemtopics/eventsubscriptions": 6,
    "microsoft.insights/metricalerts": 7,
    "microsoft.insights/activitylogalerts": 7,
    "microsoft.insights/diagnosticsettings": 8,
}
_ID = re.compile(r"^/subscriptions/[^/]+/", re.IGNORECASE)


def rank(body: Any) -> int | None:
    """The load rank of a seed item these providers take, or None when it is not theirs."""
    if not isinstance(body, dict):
        return None
    declared = str(body.get("type", "")).lower()
    if declared in (RESOURCE_TYPE.lower(), QUOTA_TYPE.lower()):
        return _RANKS[declared]
    rid = body.get("id")
    if not isinstance(rid, str) or not _ID.match(rid):
        return None
    return _RANKS.get(resource_type(rid).lower())


class SeedRefused(ValueError):
    pass


class ArmSeeder:
    def __init__(self, providers: ArmProviders) -> None:
        self.providers = providers
        self.world = providers.world

    def seed(self, body: dict[str, Any]) -> None:
        declared = str(body.get("type", "")).lower()
        if declared == RESOURCE_TYPE.lower():
            if not isinstance(body.get("id"), str):
                raise SeedRefused(f"an {RESOURCE_TYPE} item needs an 'id'")
            self.world.arm.declare(body["id"], {k: v for k, v in body.items() if k not in ("id", "type")})
            return
        if declared == QUOTA_TYPE.lower():
            self._quota(body)
            return
        self._put(body)

    def _quota(self, body: dict[str, Any]) -> None:
        sub, location = str(body.get("subscription") or ""), str(body.get("location") or "")
        if not sub or not location:
            raise SeedRefused(f"an {QUOTA_TYPE} item needs 'subscription' and 'location'")
        where = (sub.lower(), region(location))
        self.world.arm.compute_limits.setdefault(where, {}).update(
            {k: int(v) for k, v in (body.get("limits") or {}).items()}
        )
        other = {k: int(v) for k, v in (body.get("otherUsage") or {}).items()}
        self.world.arm.compute_other.setdefault(where, {}).update(other)

    def _put(self, body: dict[str, Any]) -> None:
        rid = str(body["id"])
        found = next(
            ((r, m.groupdict()) for r in self.providers.routes() if r.method == "PUT" and (m := r.pattern.match(rid))),
            None,
        )
        if found is None:
            raise SeedRefused(f"{rid}: no emulated API takes this resource")
        item = json.loads(json.dumps(body))
        destination = (item.get("properties") or {}).get("destination") or {}
        dest_props = destination.get("properties") or {}
        if str(destination.get("endpointType", "")).lower() == "webhook" and not dest_props.get("endpointUrl"):
            dest_props["endpointUrl"] = dest_props.get("endpointBaseUrl")
        request = Request("PUT", rid, {}, {}, json.dumps(item).encode(), "https://seed.invalid")
        try:
            with self._settled_at_once():
                found[0].handler(request, found[1])
        except ArmError as exc:
            raise SeedRefused(f"{rid}: {exc.code}: {exc.message}") from exc
        self.world.settle()
        for stored in [self.world.arm.get(rid), *self.world.arm.under(rid)]:
            props = (stored or {}).get("properties")
            if isinstance(props, dict) and "provisioningState" in props:
                props["provisioningState"] = "Succeeded"

    @contextlib.contextmanager
    def _settled_at_once(self) -> Iterator[None]:
        """The write's operation takes no time and a WebHook is not validated again: it all happened before."""
        subscriptions, timings = self.providers.subscriptions, self.world.timings
        subscriptions.seeding = True
        self.world.timings = dataclasses.replace(timings, network_write=0, eventgrid_write=0)
        try:
            yield
        finally:
            subscriptions.seeding = False
            self.world.timings = timings
