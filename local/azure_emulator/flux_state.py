"""A fluxConfiguration as Microsoft.KubernetesConfiguration keeps it, and the compliance it reports.

`complianceState` is one of Compliant, Non-Compliant, Pending, Suspended, Unknown; each `statuses[]` item (the
GitRepository, each Kustomization) has its own complianceState and a Ready statusCondition (SPEC
…/fluxConfigurations/stable/2023-05-01/fluxconfiguration.json: FluxComplianceStateDefinition, ObjectStatusDefinition;
the statuses' shape, reasons and messages as `az k8s-configuration flux show` prints them in DOCS
azure-arc/kubernetes/tutorial-use-gitops-flux2.md). A Kustomization with `wait` (the default) is Ready only once
the workloads it applied are available; after its timeout it reports Flux's health-check failure.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.k8s_objects import WORKLOADS
from local.azure_emulator.k8s_status import available, desired
from local.azure_emulator.lro import iso
from local.azure_emulator.world import World

NAME_LABEL = "kustomize.toolkit.fluxcd.io/name"
NAMESPACE_LABEL = "kustomize.toolkit.fluxcd.io/namespace"


@dataclass
class Condition:
    state: str  # complianceState: Compliant | Non-Compliant | Pending
    reason: str
    message: str
    since: datetime


@dataclass
class FluxConfig:
    id: str
    cluster_key: str  # lowercased cluster id
    body: dict[str, Any]  # the ARM body, without protected settings
    protected: dict[str, str] = field(default_factory=dict)  # configurationProtectedSettings: never returned
    source: Condition | None = None
    kustomizations: dict[str, Condition] = field(default_factory=dict)
    applied_at: dict[str, datetime] = field(default_factory=dict)  # kustomization -> when it applied its objects
    revision: str | None = None  # "<branch>/<sha>"
    reconciled_at: datetime | None = None
    awaiting_start: bool = False  # due while the cluster was stopped: reconciles when it starts

    @property
    def name(self) -> str:
        return self.id.rsplit("/", 1)[-1]

    @property
    def props(self) -> dict[str, Any]:
        props: dict[str, Any] = self.body["properties"]
        return props

    @property
    def namespace(self) -> str:
        return str(self.props.get("namespace") or "default")

    def labels(self, kustomization: str) -> dict[str, str]:
        """The labels Flux puts on what a Kustomization applies (its inventory on the cluster)."""
        return {NAME_LABEL: f"{self.name}-{kustomization}", NAMESPACE_LABEL: self.namespace}


def _health(config: FluxConfig, name: str, cluster: Cluster | None, world: World, now: datetime) -> Condition:
    """A Kustomization that applied its objects, as Flux's health check sees them now."""
    applied = config.kustomizations[name]
    spec = (config.props.get("kustomizations") or {}).get(name) or {}
    if applied.state != "Compliant" or cluster is None or spec.get("wait", True) is False:
        return applied
    labels = config.labels(name)
    signals = world.signals_for(cluster.name)
    waiting = [
        o
        for o in cluster.kube.items.values()
        if o.kind in WORKLOADS
        and all(o.labels.get(k) == v for k, v in labels.items())
        and available(o, cluster, signals, now) < desired(o, cluster)
    ]
    if not waiting:
        return applied
    timeout = int(spec.get("timeoutInSeconds") or 600)
    started = config.applied_at.get(name, applied.since)
    if now < started + timedelta(seconds=timeout):
        return Condition("Pending", "Progressing", "Reconciliation in progress", started)
    items = ", ".join(f"{o.kind}/{o.namespace}/{o.name} status: 'InProgress'" for o in waiting)
    minutes, seconds = divmod(timeout, 60)
    message = f"Health check failed after {minutes}m{seconds}s: timeout waiting for: [{items}]"
    return Condition("Non-Compliant", "HealthCheckFailed", message, started + timedelta(seconds=timeout))


def _status(name: str, namespace: str, kind: str, condition: Condition, applied_by: str | None) -> dict[str, Any]:
    ready = {"Compliant": "True", "Non-Compliant": "False"}.get(condition.state, "Unknown")
    return {
        "name": name,
        "namespace": namespace,
        "kind": kind,
        "complianceState": condition.state,
        "appliedBy": {"name": applied_by, "namespace": namespace} if applied_by else None,
        "statusConditions": [
            {
                "lastTransitionTime": iso(condition.since),
                "message": condition.message,
                "reason": condition.reason,
                "status": ready,
                "type": "Ready",
            }
        ],
        "helmReleaseProperties": None,
    }


def view(config: FluxConfig, world: World, now: datetime) -> dict[str, Any]:
    """The ARM GET body now."""
    body = copy.deepcopy(config.body)
    props = body["properties"]
    cluster = world.clusters.get(config.cluster_key)
    statuses: list[dict[str, Any]] = []
    states: list[str] = []
    if config.source is not None:
        statuses.append(_status(config.name, config.namespace, "GitRepository", config.source, None))
        states.append(config.source.state)
    for name in config.kustomizations:
        condition = _health(config, name, cluster, world, now)
        statuses.append(_status(f"{config.name}-{name}", config.namespace, "Kustomization", condition, None))
        states.append(condition.state)
    if props.get("suspend"):
        compliance = "Suspended"
    elif config.reconciled_at is None or not states:
        compliance = "Pending"
    elif "Non-Compliant" in states:
        compliance = "Non-Compliant"
    elif "Pending" in states:
        compliance = "Pending"
    else:
        compliance = "Compliant"
    failing = [s["statusConditions"][0]["message"] for s in statuses if s["complianceState"] == "Non-Compliant"]
    error = props.get("errorMessage") if props.get("provisioningState") == "Failed" else None
    props.update(
        complianceState=compliance,
        statuses=statuses,
        errorMessage=error or (failing[0] if failing else ""),
        repositoryPublicKey=props.get("repositoryPublicKey", ""),
        sourceSyncedCommitId=config.revision,
        sourceUpdatedAt=iso(config.reconciled_at) if config.reconciled_at and config.revision else None,
        statusUpdatedAt=iso(config.reconciled_at) if config.reconciled_at else None,
    )
    return body
