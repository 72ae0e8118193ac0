"""The Kubernetes versions AKS offers, and the upgrade hops ARM allows between them."""

from __future__ import annotations

from dataclasses import dataclass

from local.azure_emulator.errors import bad_request

DEFAULT_GA = {
    "1.30": ["1.30.10", "1.30.14"],
    "1.31": ["1.31.5", "1.31.8", "1.31.11"],
    "1.32": ["1.32.6", "1.32.9"],
    "1.33": ["1.33.3", "1.33.6"],
    "1.34": ["1.34.1", "1.34.2"],
}
DEFAULT_PREVIEW = {"1.35": ["1.35.0"]}


def parse(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def minor_of(version: str) -> str:
    return ".".join(version.split(".")[:2])


def minor_distance(older: str, newer: str) -> int:
    """How many minors `newer` is ahead of `older` (negative when behind); majors are all 1 here."""
    return parse(newer)[1] - parse(older)[1]


@dataclass
class Catalogue:
    ga: dict[str, list[str]]
    preview: dict[str, list[str]]

    @classmethod
    def default(cls) -> Catalogue:
        return cls({k: list(v) for k, v in DEFAULT_GA.items()}, {k: list(v) for k, v in DEFAULT_PREVIEW.items()})

    def minors(self) -> list[str]:
        return sorted({*self.ga, *self.preview}, key=parse)

    def patches(self, minor: str) -> list[str]:
        return sorted(self.ga.get(minor, []) + self.preview.get(minor, []), key=parse)

    def is_preview(self, version: str) -> bool:
        return minor_of(version) in self.preview

    def default_version(self) -> str:
        # AKS's default is the second-newest GA minor's latest patch.
        minors = sorted(self.ga, key=parse)
        chosen = minors[-2] if len(minors) > 1 else minors[-1]
        return self.patches(chosen)[-1]

    def resolve(self, requested: str, code: str = "K8sVersionNotSupported") -> str:
        """A full patch version for `requested` ("1.32" means the latest patch of 1.32); 400 if unknown."""
        text = requested.strip().lstrip("v")
        if text.count(".") == 1 and self.patches(text):
            return self.patches(text)[-1]
        if text.count(".") == 2 and text in self.patches(minor_of(text)):
            return text
        raise bad_request(code, f"Version {requested} is not supported in this region. {self._offer()}")

    def upgrades(self, current: str) -> list[str]:
        """Valid next hops: newer patches of the same minor, then the next minor's patches."""
        minor = minor_of(current)
        same = [v for v in self.patches(minor) if parse(v) > parse(current)]
        following = [m for m in self.minors() if minor_distance(minor, m) == 1]
        return same + [v for m in following for v in self.patches(m)]

    def _offer(self) -> str:
        return "Supported versions: " + ", ".join(v for m in self.minors() for v in self.patches(m))

    def versions_body(self) -> dict[str, object]:
        default_minor = minor_of(self.default_version())
        values = []
        for minor in self.minors():
            patches = {p: {"upgrades": self.upgrades(p)} for p in self.patches(minor)}
            values.append(
                {
                    "version": minor,
                    "isDefault": minor == default_minor,
                    "isPreview": minor in self.preview,
                    "capabilities": {"supportPlan": ["KubernetesOfficial"]},
                    "patchVersions": patches,
                }
            )
        return {"values": values}
