"""VM sizes AKS node pools use: vCPUs and the quota family each counts against.

vCPUs per size from the size series pages (learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/
dv3-series, dsv3-series, dv5-series, dsv5-series, ddv5-series, ddsv5-series, dasv5-series, dadsv5-series,
dsv6-series, ddsv6-series, dv2-dsv2-series, b-series; memory-optimized/esv5-series, edsv5-series;
compute-optimized/fsv2-series): in these series the number after the letter is the vCPU count (D8ds_v5: 8),
except Dv2/DSv2 (D2_v2: 2, D3_v2: 4, D4_v2: 8, D5_v2: 16) and B (B2s, B2ms: 2; B4ms: 4; B8ms: 8).
The family names are the usage names the Compute usages API reports (`standardDDSv5Family` ...,
reference/azure-more.md §(b): "real name values" of the usage list). A size not in the table still counts its
vCPUs (the number in its name) in the regional `cores` total, against no family.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class VmSize:
    name: str
    vcpus: int
    family: str | None  # quota family usage name, e.g. standardDDSv5Family

    @property
    def family_label(self) -> str:
        """`Standard DDSv5 Family vCPUs`, as the usages API localizes it."""
        if not self.family:
            return ""
        return f"Standard {self.family[len('standard') : -len('Family')]} Family vCPUs"


# series (size name template, quota family, vCPU counts offered); the vCPU count is the number in the name
_D = (2, 4, 8, 16, 32, 48, 64)
_SERIES: list[tuple[str, str, tuple[int, ...]]] = [
    ("Standard_D{n}_v3", "standardDv3Family", _D),
    ("Standard_D{n}s_v3", "standardDSv3Family", _D),
    ("Standard_D{n}_v5", "standardDv5Family", (*_D, 96)),
    ("Standard_D{n}s_v5", "standardDSv5Family", (*_D, 96)),
    ("Standard_D{n}d_v5", "standardDDv5Family", (*_D, 96)),
    ("Standard_D{n}ds_v5", "standardDDSv5Family", (*_D, 96)),
    ("Standard_D{n}as_v5", "standardDASv5Family", (*_D, 96)),
    ("Standard_D{n}ads_v5", "standardDADSv5Family", (*_D, 96)),
    ("Standard_D{n}s_v6", "standardDSv6Family", (*_D, 96, 128)),
    ("Standard_D{n}ds_v6", "standardDDSv6Family", (*_D, 96, 128)),
    ("Standard_E{n}s_v5", "standardESv5Family", (*_D, 96)),
    ("Standard_E{n}ds_v5", "standardEDSv5Family", (*_D, 96)),
    ("Standard_F{n}s_v2", "standardFSv2Family", (2, 4, 8, 16, 32, 48, 64, 72)),
]
_EXPLICIT: dict[str, tuple[int, str]] = {
    "Standard_D2_v2": (2, "standardDv2Family"),
    "Standard_D3_v2": (4, "standardDv2Family"),
    "Standard_D4_v2": (8, "standardDv2Family"),
    "Standard_D5_v2": (16, "standardDv2Family"),
    "Standard_DS2_v2": (2, "standardDSv2Family"),
    "Standard_DS3_v2": (4, "standardDSv2Family"),
    "Standard_DS4_v2": (8, "standardDSv2Family"),
    "Standard_DS5_v2": (16, "standardDSv2Family"),
    "Standard_B2s": (2, "standardBSFamily"),
    "Standard_B2ms": (2, "standardBSFamily"),
    "Standard_B4ms": (4, "standardBSFamily"),
    "Standard_B8ms": (8, "standardBSFamily"),
}
CATALOG: dict[str, VmSize] = {
    name.lower(): VmSize(name, vcpus, family) for name, (vcpus, family) in _EXPLICIT.items()
} | {
    template.format(n=n).lower(): VmSize(template.format(n=n), n, family)
    for template, family, counts in _SERIES
    for n in counts
}
FAMILIES: tuple[str, ...] = tuple(sorted({size.family for size in CATALOG.values() if size.family}))
_NUMBER = re.compile(r"^standard_[a-z]+(\d+)", re.IGNORECASE)


def lookup(name: str) -> VmSize:
    known = CATALOG.get(name.lower())
    if known is not None:
        return known
    number = _NUMBER.match(name)
    return VmSize(name, int(number.group(1)) if number else 0, None)


def family_label(family: str) -> str:
    return VmSize("", 0, family).family_label
