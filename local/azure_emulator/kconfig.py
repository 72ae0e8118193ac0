"""Microsoft.KubernetesConfiguration on managed clusters: what its extensions and fluxConfigurations share.

Paths are `{clusterId}/providers/Microsoft.KubernetesConfiguration/{extensions|fluxConfigurations}/{name}` with
clusterRp Microsoft.ContainerService / clusterResourceName managedClusters (Arc's connectedClusters are not
emulated). PUT and DELETE are long-running: 201 (create) or 200 (update) with the body, or 202 for a delete, and
`Azure-AsyncOperation` pointing at `{resource}/operations/{operationId}` (final-state-via azure-async-operation,
SPEC …/extensions/stable/2023-05-01/extensions.json and …/fluxConfigurations/stable/2023-05-01/
fluxconfiguration.json; DeleteFluxConfiguration.json shows the headers). A DELETE of nothing is 204 ("No Content.
The request has been accepted but the configuration was not found."). Read-only properties in a PUT are ignored;
`configurationProtectedSettings` (x-ms-secret) is kept but never returned (SPEC; samples/arm/more: the GET and PUT
response bodies leave the key out).

Choices where Azure's behaviour is not documented: request validation answers 400 with code ValidationFailed
(the code this RP gives, e.g. "Invalid source kind match. ..." in Azure/ResourceModules#1302); an extension resource
of a cluster that does not exist is 404 ParentResourceNotFound (learn.microsoft.com/azure/azure-resource-manager/
troubleshooting/error-parent-resource); a missing extension is 404 ResourceNotFound "Extension instance with name
'<name>' not found." (as seen in Azure/AKS-Construction#291).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.azure_emulator.aks import MC
from local.azure_emulator.aks_model import Cluster, cluster_id
from local.azure_emulator.errors import ArmError, bad_request
from local.azure_emulator.k8s_system import FLUX_EXTENSION_TYPE
from local.azure_emulator.lro import Operation, iso
from local.azure_emulator.protocol import Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.KubernetesConfiguration"
API = "2023-05-01"
BASE = MC + "/providers/Microsoft.KubernetesConfiguration"
_TOP_READ_ONLY = ("id", "name", "type", "systemData")


def validation(message: str) -> ArmError:
    return bad_request("ValidationFailed", message)


class KubeConfigBase:
    """Lookups, long-running operations and the operation status endpoint of the provider."""

    def __init__(self, world: World) -> None:
        self.world = world

    def cluster(self, m: dict[str, str]) -> Cluster:
        cluster = self.world.clusters.get(cluster_id(m["sub"], m["rg"], m["name"]).lower())
        if cluster is None:
            raise ArmError(
                404,
                "ParentResourceNotFound",
                f"Can not perform requested operation on nested resource. Parent resource '{m['name']}' not found.",
            )
        return cluster

    def start(
        self,
        resource_id: str,
        kind: str,
        seconds: float,
        cluster: Cluster,
        done: Callable[[Operation], None],
        failed: Callable[[Operation], None],
    ) -> Operation:
        return self.world.ops.start(
            f"{resource_id}/{kind}",
            self.world.now(),
            seconds,
            done,
            failed,
            subscription=cluster.sub,
            namespace=NS,
            location=cluster.location,
            retry_after=self.world.timings.retry_after_kc,
        )

    @staticmethod
    def headers(op: Operation, req: Request, resource_id: str) -> dict[str, str]:
        api = req.query.get("api-version", API)
        return {
            "Azure-AsyncOperation": f"{req.base_url}{resource_id}/operations/{op.id}?api-version={api}",
            "Retry-After": str(op.retry_after),
        }

    @staticmethod
    def system_data(previous: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
        created = (previous or {}).get("createdAt") or iso(now)
        return {
            "createdBy": (previous or {}).get("createdBy", "emulator"),
            "createdByType": "Application",
            "createdAt": created,
            "lastModifiedBy": "emulator",
            "lastModifiedByType": "Application",
            "lastModifiedAt": iso(now),
        }

    def status_route(self) -> Route:
        return route(
            "GET", BASE + "/{collection}/{resource}/operations/{op}", self.operation_status, f"{NS}/operations/read"
        )

    def operation_status(self, req: Request, m: dict[str, str]) -> Response:
        if m["collection"].lower() not in ("extensions", "fluxconfigurations"):
            raise ArmError(404, "NotFound", f"No emulated API answers GET {req.path}.")
        with self.world.lock:
            self.world.settle()
            op = self.world.ops.get(m["op"])
            doc = self.world.ops.status_document(op)
            doc.update(id=req.path, properties={}, error=doc.get("error"))
            headers = {"Retry-After": str(op.retry_after)} if op.status == "InProgress" else {}
            return Response(200, doc, headers)


def flux_extension_ready(world: World, cluster: Cluster) -> bool:
    prefix = cluster.id.lower() + "/providers/microsoft.kubernetesconfiguration/extensions/"
    return any(
        key.startswith(prefix)
        and str(body["properties"].get("extensionType", "")).lower() == FLUX_EXTENSION_TYPE
        and body["properties"].get("provisioningState") == "Succeeded"
        for key, body in world.extensions.items()
    )


def release_namespace(props: dict[str, Any]) -> str:
    scope = props.get("scope") or {}
    return str((scope.get("cluster") or {}).get("releaseNamespace") or "")


def strip(body: dict[str, Any], read_only: tuple[str, ...]) -> dict[str, Any]:
    """What the provider keeps of a PUT body: read-only fields are ignored, not refused."""
    clean = {k: copy.deepcopy(v) for k, v in body.items() if k not in _TOP_READ_ONLY and not k.startswith("_")}
    props = clean.get("properties")
    if isinstance(props, dict):
        for key in read_only:
            props.pop(key, None)
    else:
        clean["properties"] = {}
    return clean


def view(stored: dict[str, Any]) -> dict[str, Any]:
    """A GET body: never the protected settings."""
    return {k: copy.deepcopy(v) for k, v in stored.items() if not k.startswith("_")}
