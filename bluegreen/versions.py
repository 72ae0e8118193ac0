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


def choose_target(requested: str | None, catalogue: Catalogue, *, allow_preview: bool = False) -> Version:
    """`latest` (or nothing) = the newest GA minor's latest patch; `1.33` = that minor's latest patch."""
    if requested in (None, "", "latest"):
        return catalogue.newest(allow_preview=allow_preview)
    wanted = Version.parse(requested)
    if wanted.patch is None:
        found = catalogue.latest_of_minor(wanted.minor_key, allow_preview=allow_preview)
        if found is None:
            raise PermanentError("VersionNotOffered", f"the region offers no {_ga(allow_preview)}version of {wanted}")
        return found
    if not catalogue.offers(wanted, allow_preview=allow_preview):
        raise PermanentError("VersionNotOffered", f"the region does not offer {_ga(allow_preview)}version {wanted}")
    return wanted


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
