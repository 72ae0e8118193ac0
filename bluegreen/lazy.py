"""Modules that load on first use, so `import function_app` costs little more than the Functions SDKs.

A Function App pays for every import at cold start. The function modules (orchestrators/, activities/,
triggers/) therefore import the contract, the configuration and the Azure adapters from here: each name
is a module object at once, and Python executes the module when one of its attributes is first read
(importlib's LazyLoader). Type checkers see ordinary imports, so nothing is lost in `make lint`.
`tests/unit/test_cold_start.py` checks which modules `import function_app` loads.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


def lazy_import(name: str) -> ModuleType:
    """`name`, executed when an attribute is first read; the same object every time."""
    existing = sys.modules.get(name)
    if existing is not None:
        return existing
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"no module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as a real import does: the package names its submodule
        setattr(sys.modules[parent], child, module)
    return module


if TYPE_CHECKING:
    from bluegreen import (
        azure,
        clusters,
        config,
        contract,
        decisions,
        errors,
        gradual,
        green,
        inheritance,
        metrics,
        parity,
        pipeline,
        planning,
        retention,
        routing,
        secrets,
        slots,
        traffic,
        verification,
        versions,
        wiring,
        workloads,
    )
else:
    azure = lazy_import("bluegreen.azure")
    clusters = lazy_import("bluegreen.clusters")
    config = lazy_import("bluegreen.config")
    contract = lazy_import("bluegreen.contract")
    decisions = lazy_import("bluegreen.decisions")
    errors = lazy_import("bluegreen.errors")
    gradual = lazy_import("bluegreen.gradual")
    green = lazy_import("bluegreen.green")
    inheritance = lazy_import("bluegreen.inheritance")
    metrics = lazy_import("bluegreen.metrics")
    parity = lazy_import("bluegreen.parity")
    pipeline = lazy_import("bluegreen.pipeline")
    planning = lazy_import("bluegreen.planning")
    retention = lazy_import("bluegreen.retention")
    routing = lazy_import("bluegreen.routing")
    wiring = lazy_import("bluegreen.wiring")
    traffic = lazy_import("bluegreen.traffic")
    secrets = lazy_import("bluegreen.secrets")
    slots = lazy_import("bluegreen.slots")
    verification = lazy_import("bluegreen.verification")
    versions = lazy_import("bluegreen.versions")
    workloads = lazy_import("bluegreen.workloads")

__all__ = [
    "azure",
    "clusters",
    "config",
    "contract",
    "decisions",
    "errors",
    "gradual",
    "green",
    "inheritance",
    "lazy_import",
    "metrics",
    "parity",
    "pipeline",
    "planning",
    "retention",
    "routing",
    "secrets",
    "slots",
    "traffic",
    "verification",
    "versions",
    "wiring",
    "workloads",
]
