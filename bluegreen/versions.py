"""Kubernetes versions as AKS offers them, and the upgrade path between two of them (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bluegreen.errors import PermanentError

# ASCII digits only: "\d" would also take fullwidth and other Unicode digits.
_VERSION = re.compile(r"v?([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int | None = None  # None: "1.32" as AKS accepts it, meaning the latest GA patch of that minor

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(str(text).strip())
        if not match:
            raise PermanentError("InvalidVersion", f"{text!r} is not a Kubernetes version like 1.32 or 1.32.9")
        major, minor, patch = match.groups()
        return cls(int(major), int(minor), int(patch) if patch is not None else None)

    @property
    def minor_key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}"
        return base if self.patch is None else f"{base}.{self.patch}"


@dataclass(frozen=True)
class OfferedVersion:
    version: Version
    preview: bool


class Catalogue:
    """The versions a region offers, from `locations/{location}/kubernetesVersions`."""

    def __init__(self, offered: Iterable[OfferedVersion]) -> None:
        self._offered = sorted(offered, key=lambda o: (o.version.major, o.version.minor, o.version.patch or 0))

    @classmethod
    def from_arm(cls, body: Mapping[str, Any]) -> Catalogue:
        offered = []
        for minor in body.get("values") or []:
            preview = bool(minor.get("isPreview"))
            for patch in minor.get("patchVersions") or {}:
                offered.append(OfferedVersion(Version.parse(patch), preview))
        return cls(offered)

    def patches(self, minor_key: tuple[int, int], *, allow_preview: bool) -> list[Version]:
        return [
            o.version for o in self._offered if o.version.minor_key == minor_key and (allow_preview or not o.preview)
        ]

    def latest_of_minor(self, minor_key: tuple[int, int], *, allow_preview: bool) -> Version | None:
        found = self.patches(minor_key, allow_preview=allow_preview)
        return found[-1] if found else None

    def newest(self, *, allow_preview: bool) -> Version:
        eligible = [o.version for o in self._offered if allow_preview or not o.preview]
        if not eligible:
            raise PermanentError("NoVersionAvailable", "the region offers no generally available version")
        return eligible[-1]

    def offers(self, version: Version, *, allow_preview: bool) -> bool:
        return version in self.patches(version.minor_key, allow_preview=allow_preview)

    def minors(self, *, allow_preview: bool) -> list[tuple[int, int]]:
        return sorted({o.version.minor_key for o in self._offered if allow_preview or not o.preview})

    def describe(self, *, allow_preview: bool) -> str:
        """What the region offers, one minor at a time: `1.32 (1.32.7, 1.32.9), 1.33 (...)`."""
        parts = []
        for minor in self.minors(allow_preview=allow_preview):
            patches = ", ".join(str(v) for v in self.patches(minor, allow_preview=allow_preview))
            parts.append(f"{minor[0]}.{minor[1]} ({patches})")
        return ", ".join(parts) or "nothing"


def choose_target(requested: str | None, catalogue: Catalogue, *, allow_preview: bool = False) -> Version:
    """`latest` (or nothing) = the newest GA minor's latest patch; `1.33` = that minor's latest patch."""
    if requested in (None, "", "latest"):
        return catalogue.newest(allow_preview=allow_preview)
    wanted = Version.parse(requested)
    offered = f"; it offers {catalogue.describe(allow_preview=allow_preview)}"
    if wanted.patch is None:
        found = catalogue.latest_of_minor(wanted.minor_key, allow_preview=allow_preview)
        if found is None:
            raise PermanentError(
                "VersionNotOffered", f"the region offers no {_ga(allow_preview)}version of {wanted}{offered}"
            )
        return found
    if not catalogue.offers(wanted, allow_preview=allow_preview):
        raise PermanentError(
            "VersionNotOffered", f"the region does not offer {_ga(allow_preview)}version {wanted}{offered}"
        )
    return wanted


@dataclass(frozen=True)
class VersionPlan:
    clone: Version  # what green is created at
    hops: list[Version]  # green's upgrades after the create, one minor each (empty: created at the target)
    path: list[Version]  # from blue to the target, as an operator reads it


def plan_versions(
    blue: Version, target: Version, catalogue: Catalogue, *, create_at_target: bool, allow_preview: bool = False
) -> VersionPlan:
    """Where green starts, and its hops to the target.

    AKS creates clusters at any version the region offers (not at an exact patch it no longer offers),
    and an upgrade moves one minor at a time (azure-more.md (a)). So green is created at the newest
    offered patch of blue's minor; when blue's minor is no longer offered (blue is out of support), at the
    lowest offered minor, from where it hops; with create-at-target, at the target in one create.
    """
    if blue.major != target.major:
        raise PermanentError("UnsupportedUpgrade", f"cannot upgrade across major versions ({blue} -> {target})")
    if (target.minor, target.patch or 0) < (blue.minor, blue.patch or 0):
        raise PermanentError(
            "DowngradeNotAllowed",
            f"target {target} is older than the live cluster's {blue}; the region offers "
            f"{catalogue.describe(allow_preview=allow_preview)}",
        )
    if target == blue:
        raise PermanentError("AlreadyAtTarget", f"the live cluster already runs {target}")
    if create_at_target:
        return VersionPlan(clone=target, hops=[], path=[target])
    clone = catalogue.latest_of_minor(blue.minor_key, allow_preview=allow_preview)
    if clone is None:
        lowest = next((m for m in catalogue.minors(allow_preview=allow_preview) if m >= blue.minor_key), None)
        if lowest is None or lowest > target.minor_key:
            clone = target
        else:
            clone = catalogue.latest_of_minor(lowest, allow_preview=allow_preview)
            assert clone is not None
    if (clone.minor, clone.patch or 0) > (target.minor, target.patch or 0):
        clone = target  # the newest patch of blue's minor is past the target patch: create at the target
    hops = upgrade_path(clone, target, catalogue, allow_preview=allow_preview)
    # The minors an operator sees passed: a create at a newer patch of blue's own minor is not one of them.
    path = hops if clone.minor_key == blue.minor_key else [clone, *hops] if clone != target else [target]
    return VersionPlan(clone=clone, hops=hops, path=path)


def upgrade_path(
    current: Version, target: Version, catalogue: Catalogue, *, allow_preview: bool = False
) -> list[Version]:
    """Hops from current to target: one minor per hop, each hop the latest patch of its minor, ending at target.

    AKS refuses to move the control plane more than one minor at a time, so 1.31 -> 1.34 is three hops.
    """
    if current.major != target.major:
        raise PermanentError("UnsupportedUpgrade", f"cannot upgrade across major versions ({current} -> {target})")
    if (target.minor, target.patch or 0) < (current.minor, current.patch or 0):
        raise PermanentError("DowngradeNotAllowed", f"target {target} is older than the current version {current}")
    if target == current:
        return []
    hops: list[Version] = []
    for minor in range(current.minor + 1, target.minor):
        hop = catalogue.latest_of_minor((current.major, minor), allow_preview=allow_preview)
        if hop is None:
            raise PermanentError(
                "NoUpgradePath", f"the region offers no {_ga(allow_preview)}version of {current.major}.{minor}"
            )
        hops.append(hop)
    hops.append(target)
    return hops


def _ga(allow_preview: bool) -> str:
    return "" if allow_preview else "generally available "
