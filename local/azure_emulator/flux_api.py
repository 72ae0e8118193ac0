"""fluxConfigurations on managed clusters: PUT, GET, list, DELETE (long-running, see kconfig), then Flux's work.

- The microsoft.flux extension must be installed (provisioningState Succeeded) before a fluxConfiguration is
  created: "The microsoft.flux extension must be installed in the cluster before one or more fluxConfigurations
  can be created" (DOCS azure-arc/kubernetes/conceptual-gitops-flux2.md; the CLI installs it first, and refuses while
  it is "currently installing" or "not in a succeeded state", azure-cli-extensions k8s-configuration consts.py).
  Without it the PUT is refused: 400 ValidationFailed (the RP's validation code, see kconfig; the wording is ours,
  after the CLI's).
- A source kind needs its body: "Invalid source kind match. Config with specified source kind 'GitRepository' must
  contain corresponding body specified in the properties." (Azure/ResourceModules#1302, gbaeke/quick-guides#2).
- `scope` and `namespace` can be set only at create (x-ms-mutability create/read, SPEC fluxconfiguration.json).
- Defaults as the spec gives them: scope cluster, namespace default, sourceKind GitRepository, suspend false,
  timeoutInSeconds / syncIntervalInSeconds 600, prune false, force false, wait true.
- Just after the write the configuration is Pending; Timings.flux_reconcile after the write has finished, Flux
  reconciles it (flux_reconcile), and the compliance follows (flux_state). `?forceDelete=true` removes the resource
  in Azure only ("not the normal asynchronous delete", SPEC): nothing is pruned from the cluster.

Not modelled: waitForReconciliation (the write does not wait), periodic re-sync (syncIntervalInSeconds): Flux
reconciles on each write and when a stopped cluster starts, not when the repository changes afterwards.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from local.azure_emulator import flux_reconcile
from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.errors import ArmError
from local.azure_emulator.flux_state import FluxConfig, view
from local.azure_emulator.kconfig import BASE, NS, KubeConfigBase, flux_extension_ready, strip, validation
from local.azure_emulator.lro import Operation
from local.azure_emulator.protocol import Request, Response, Route, route
from local.azure_emulator.world import World

FLUX = BASE + "/fluxConfigurations/{flux}"
_READ_ONLY = (
    "statuses",
    "repositoryPublicKey",
    "sourceSyncedCommitId",
    "sourceUpdatedAt",
    "statusUpdatedAt",
    "complianceState",
    "provisioningState",
    "errorMessage",
)
_SOURCES = {
    "GitRepository": "gitRepository",
    "Bucket": "bucket",
    "AzureBlob": "azureBlob",
    "OCIRepository": "ociRepository",
}


def apply_defaults(props: dict[str, Any]) -> None:
    props.setdefault("scope", "cluster")
    props.setdefault("namespace", "default")
    props.setdefault("sourceKind", "GitRepository")
    props.setdefault("suspend", False)
    git = props.get("gitRepository")
    if isinstance(git, dict):
        git.setdefault("timeoutInSeconds", 600)
        git.setdefault("syncIntervalInSeconds", 600)
    kustomizations = props.get("kustomizations") or {}
    for name, spec in kustomizations.items():
        spec["name"] = name  # read-only: the key in the map
        spec.setdefault("path", "")
        spec.setdefault("dependsOn", [])
        spec.setdefault("timeoutInSeconds", 600)
        spec.setdefault("syncIntervalInSeconds", 600)
        spec.setdefault("retryIntervalInSeconds", None)
        spec.setdefault("prune", False)
        spec.setdefault("force", False)
        spec.setdefault("wait", True)
    props["kustomizations"] = kustomizations


def check_source(props: dict[str, Any]) -> None:
    kind = str(props.get("sourceKind") or "GitRepository")
    if not props.get(_SOURCES.get(kind, "gitRepository")):
        raise validation(
            f"Invalid source kind match. Config with specified source kind '{kind}' must contain corresponding "
            "body specified in the properties."
        )


def schedule_reconcile(world: World, config: FluxConfig, after: datetime) -> None:
    due = after + timedelta(seconds=world.timings.flux_reconcile)
    world.schedule.at(due, lambda at: flux_reconcile.reconcile(world, config, at))


class FluxConfigurations(KubeConfigBase):
    def __init__(self, world: World) -> None:
        super().__init__(world)
        world.on_cluster_started.append(self._cluster_started)

    def routes(self) -> list[Route]:
        op = f"{NS}/fluxConfigurations"
        return [
            route("GET", BASE + "/fluxConfigurations", self.list, f"{op}/read"),
            route("GET", FLUX, self.get, f"{op}/read"),
            route("PUT", FLUX, self.put, f"{op}/write"),
            route("DELETE", FLUX, self.delete, f"{op}/delete"),
        ]

    def _id(self, cluster: Cluster, name: str) -> str:
        return f"{cluster.id}/providers/{NS}/fluxConfigurations/{name}"

    def _find(self, cluster: Cluster, m: dict[str, str]) -> FluxConfig:
        config = self.world.flux.get(self._id(cluster, m["flux"]).lower())
        if config is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{NS}/fluxConfigurations/{m['flux']}' under resource group '{m['rg']}' was not found.",
            )
        return config

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            return Response(200, view(self._find(self.cluster(m), m), self.world, now))

    def list(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            prefix = self.cluster(m).id.lower() + f"/providers/{NS.lower()}/fluxconfigurations/"
            items = [view(c, self.world, now) for k, c in sorted(self.world.flux.items()) if k.startswith(prefix)]
            return Response(200, {"value": items})

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = strip(req.json_object(), _READ_ONLY)
        props = body["properties"]
        protected = props.pop("configurationProtectedSettings", None) or {}
        with self.world.lock:
            now = self.world.settle()
            cluster = self.cluster(m)
            resource_id = self._id(cluster, m["flux"])
            existing = self.world.flux.get(resource_id.lower())
            if not flux_extension_ready(self.world, cluster):
                raise validation(
                    "The 'microsoft.flux' extension is not installed on the cluster, or not in a succeeded state. "
                    "Install the extension before creating Flux configurations."
                )
            check_source(props)
            apply_defaults(props)
            if existing and any(props.get(k) != existing.props.get(k) for k in ("scope", "namespace")):
                raise validation("The 'scope' and 'namespace' of a Flux configuration can be set only at create.")
            props.update(provisioningState="Updating" if existing else "Creating", complianceState="Pending")
            stored = {
                **body,
                "id": resource_id,
                "name": m["flux"],
                "type": f"{NS}/fluxConfigurations",
                "systemData": self.system_data(existing.body.get("systemData") if existing else None, now),
            }
            config = FluxConfig(resource_id, cluster.id.lower(), stored, dict(protected))
            if existing:  # what Flux last reported stays until it reconciles the new specification
                config.source, config.kustomizations = existing.source, existing.kustomizations
                config.applied_at, config.revision = existing.applied_at, existing.revision
                config.reconciled_at = existing.reconciled_at
            self.world.flux[resource_id.lower()] = config

            def done(op: Operation) -> None:
                props["provisioningState"] = "Succeeded"
                schedule_reconcile(self.world, config, op.end)

            def failed(op: Operation) -> None:
                props.update(provisioningState="Failed", errorMessage=(op.error or {}).get("message", ""))

            op = self.start(resource_id, "write", self.world.timings.flux_write, cluster, done, failed)
            return Response(200 if existing else 201, view(config, self.world, now), self.headers(op, req, resource_id))

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            cluster = self.cluster(m)
            resource_id = self._id(cluster, m["flux"])
            config = self.world.flux.get(resource_id.lower())
            if config is None:
                return Response(204)
            if req.query.get("forceDelete", "").lower() == "true":
                self.world.flux.pop(resource_id.lower(), None)
                return Response(200)
            config.props["provisioningState"] = "Deleting"

            def done(op: Operation) -> None:
                flux_reconcile.delete(self.world, config, op.end)

            def failed(op: Operation) -> None:
                config.props.update(provisioningState="Failed", errorMessage=(op.error or {}).get("message", ""))

            op = self.start(resource_id, "delete", self.world.timings.flux_write, cluster, done, failed)
            return Response(202, None, self.headers(op, req, resource_id))

    def _cluster_started(self, cluster: Cluster, at: datetime) -> None:
        for config in list(self.world.flux.values()):
            if config.cluster_key == cluster.id.lower() and config.awaiting_start:
                schedule_reconcile(self.world, config, at)
