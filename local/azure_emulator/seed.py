"""Loading resources as an ARM GET returns them, or as `az ... show -o json` prints them (flattened camelCase)."""

from __future__ import annotations

import contextlib
import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.azure_emulator.aks_model import Cluster, fill_read_only
from local.azure_emulator.errors import ArmError
from local.azure_emulator.frontdoor_classic import FrontDoorClassic
from local.azure_emulator.frontdoor_std import FrontDoorStd
from local.azure_emulator.world import World

_RG = r"^/subscriptions/(?P<sub>[^/]+)/resourcegroups/(?P<rg>[^/]+)/providers/"
KINDS = [
    ("cluster", re.compile(_RG + r"microsoft\.containerservice/managedclusters/(?P<name>[^/]+)$", re.IGNORECASE)),
    (
        "origin",
        re.compile(
            _RG + r"microsoft\.cdn/profiles/(?P<profile>[^/]+)/origingroups/(?P<group>[^/]+)/origins/(?P<name>[^/]+)$",
            re.IGNORECASE,
        ),
    ),
    (
        "origin_group",
        re.compile(_RG + r"microsoft\.cdn/profiles/(?P<profile>[^/]+)/origingroups/(?P<name>[^/]+)$", re.IGNORECASE),
    ),
    ("profile", re.compile(_RG + r"microsoft\.cdn/profiles/(?P<name>[^/]+)$", re.IGNORECASE)),
    ("classic", re.compile(_RG + r"microsoft\.network/frontdoors/(?P<name>[^/]+)$", re.IGNORECASE)),
]
# Keys that stay at the top level of an ARM body; az's flattened output puts everything else there too.
_TOP_LEVEL = {
    "id",
    "name",
    "type",
    "location",
    "tags",
    "sku",
    "identity",
    "extendedLocation",
    "kind",
    "zones",
    "etag",
    "systemData",
}
_AZ_ONLY = {"resourceGroup"}
_EPOCH = datetime.min.replace(tzinfo=UTC)


class SeedError(ValueError):
    """A seed resource the emulator cannot load; the message says what is wrong."""


def load_file(path: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SeedError(f"{path}: not valid JSON: {exc}") from exc
    items = data if isinstance(data, list) else [data]
    for index, item in enumerate(items):
        try:
            classify(item)
        except SeedError as exc:
            raise SeedError(f"{path}: item {index}: {exc}") from exc
    return items


def classify(body: Any) -> tuple[str, dict[str, str]]:
    if not isinstance(body, dict):
        raise SeedError("a resource must be a JSON object")
    resource_id = body.get("id")
    if not isinstance(resource_id, str):
        raise SeedError("a resource needs an 'id' (the ARM resource id)")
    for kind, pattern in KINDS:
        match = pattern.match(resource_id)
        if match:
            return kind, match.groupdict()
    raise SeedError(
        f"unsupported resource id {resource_id!r} "
        "(managed clusters, Front Door profiles, origin groups, origins, classic front doors)"
    )


def to_arm(body: dict[str, Any]) -> dict[str, Any]:
    """An ARM GET body: returned as is when it has `properties`, else unflattened from az output."""
    if isinstance(body.get("properties"), dict):
        return copy.deepcopy(body)
    arm = {k: copy.deepcopy(v) for k, v in body.items() if k in _TOP_LEVEL}
    arm["properties"] = {k: copy.deepcopy(v) for k, v in body.items() if k not in _TOP_LEVEL | _AZ_ONLY}
    return arm


class Seeder:
    def __init__(self, world: World, std: FrontDoorStd, classic: FrontDoorClassic) -> None:
        self.world, self.std, self.classic = world, std, classic

    def seed(self, body_or_list: dict[str, Any] | list[dict[str, Any]]) -> None:
        items = body_or_list if isinstance(body_or_list, list) else [body_or_list]
        parsed = [(classify(item), to_arm(item)) for item in items]  # validate all before changing anything
        with self.world.lock:
            for (kind, parts), body in parsed:
                getattr(self, f"_{kind}")(body, parts)

    def _cluster(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        props = body["properties"]
        version = str(
            props.get("currentKubernetesVersion")
            or props.get("kubernetesVersion")
            or self.world.catalogue.default_version()
        )
        # A seeded cluster may run a version AKS no longer offers: that is why it is being upgraded.
        with contextlib.suppress(ArmError):
            version = self.world.catalogue.resolve(version)
        props.setdefault("kubernetesVersion", version)
        props["currentKubernetesVersion"] = version
        stopped = props.get("powerState", {}).get("code") == "Stopped"
        props.update(provisioningState="Succeeded", powerState={"code": "Stopped" if stopped else "Running"})
        for pool in props.get("agentPoolProfiles") or []:
            pool.setdefault("orchestratorVersion", version)
            pool["currentOrchestratorVersion"] = pool.get("currentOrchestratorVersion") or pool["orchestratorVersion"]
            pool["provisioningState"] = "Succeeded"
        now = self.world.now()
        cluster = Cluster(parts["sub"], parts["rg"], parts["name"], body, now)
        fill_read_only(cluster)
        self.world.clusters[cluster.id.lower()] = cluster
        self.world.signals_for(cluster.name).serving.set(_EPOCH, not stopped)

    def _profile(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        body["properties"].setdefault("provisioningState", "Succeeded")
        self.world.afd[body["id"].lower()] = body

    def _origin_group(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.std.ensure_parents(parts["sub"], parts["rg"], parts["profile"], None)
        body["properties"].update(provisioningState="Succeeded", deploymentStatus="Succeeded")
        self.world.afd[body["id"].lower()] = body

    def _origin(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.std.ensure_parents(parts["sub"], parts["rg"], parts["profile"], parts["group"])
        body["properties"].update(provisioningState="Succeeded", deploymentStatus="Succeeded")
        body["properties"].setdefault("originGroupName", parts["group"])
        self.world.afd[body["id"].lower()] = body
        group = body["id"].lower().rsplit("/origins/", 1)[0]
        self.world.record_deployment(group, self.std.snapshot(group), seeded=True)

    def _classic(self, body: dict[str, Any], parts: dict[str, str]) -> None:
        self.classic.seed(body, parts["sub"], parts["rg"], parts["name"])
