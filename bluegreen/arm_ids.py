"""ARM resource ids: parse once, compare case-insensitively (ARM ids are not case-sensitive)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceId:
    subscription: str
    resource_group: str
    provider: str
    # (type, name) pairs from the provider down, e.g. (("profiles", "afd"), ("originGroups", "og")).
    segments: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, value: str) -> ResourceId:
        parts = [p for p in value.strip().split("/") if p]
        lowered = [p.lower() for p in parts]
        try:
            sub = parts[lowered.index("subscriptions") + 1]
            rg = parts[lowered.index("resourcegroups") + 1]
            provider_at = lowered.index("providers")
            provider = parts[provider_at + 1]
        except (ValueError, IndexError):
            raise ValueError(f"not an ARM resource id: {value!r}") from None
        rest = parts[provider_at + 2 :]
        if not rest or len(rest) % 2:
            raise ValueError(f"not an ARM resource id (type/name pairs): {value!r}")
        segments = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
        return cls(sub, rg, provider, segments)

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
