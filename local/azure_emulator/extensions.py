"""Cluster extensions on managed clusters (Microsoft.KubernetesConfiguration/extensions): PUT, GET, list, DELETE.

Long-running as kconfig describes. Extension properties: `autoUpgradeMinorVersion` defaults to true and
`releaseTrain` to Stable; pinning `version` needs `autoUpgradeMinorVersion: false`; currentVersion,
provisioningState, isSystemExtension and errorInfo are read-only (SPEC …/extensions/stable/2025-03-01/
extensions.json, …/extensions/models.tsp). Changing an extension's `extensionType` is refused (our choice: an
extension instance is of one type).
A microsoft.flux extension installs into `scope.cluster.releaseNamespace` flux-system unless told otherwise (what
`az k8s-extension create -n flux` gives, samples/arm/more/SOURCES.md), and, once Succeeded, its controllers run on
the cluster (k8s_system.extension_objects). Not modelled: PATCH, identities, plans, managedBy / AKS-managed
extensions, an install onto a stopped cluster failing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from local.azure_emulator import kube
from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.errors import ArmError
from local.azure_emulator.k8s_system import FLUX_EXTENSION_TYPE
from local.azure_emulator.kconfig import BASE, NS, KubeConfigBase, release_namespace, strip, validation, view
from local.azure_emulator.lro import Operation
from local.azure_emulator.protocol import Request, Response, Route, route

EXTENSION = BASE + "/extensions/{ext}"
_READ_ONLY = (
    "currentVersion",
    "provisioningState",
    "errorInfo",
    "customLocationSettings",
    "packageUri",
    "isSystemExtension",
    "statuses",
)


class Extensions(KubeConfigBase):
    def routes(self) -> list[Route]:
        op = f"{NS}/extensions"
        return [
            route("GET", BASE + "/extensions", self.list, f"{op}/read"),
            route("GET", EXTENSION, self.get, f"{op}/read"),
            route("PUT", EXTENSION, self.put, f"{op}/write"),
            route("DELETE", EXTENSION, self.delete, f"{op}/delete"),
            route(
                "GET", BASE + "/{collection}/{resource}/operations/{op}", self.operation_status, f"{NS}/operations/read"
            ),
        ]

    def _id(self, cluster: Cluster, name: str) -> str:
        return f"{cluster.id}/providers/{NS}/extensions/{name}"

    def _find(self, cluster: Cluster, name: str) -> dict[str, Any]:
        body = self.world.extensions.get(self._id(cluster, name).lower())
        if body is None:
            raise ArmError(404, "ResourceNotFound", f"Extension instance with name '{name}' not found.")
        return body

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, view(self._find(self.cluster(m), m["ext"])))

    def list(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            prefix = self.cluster(m).id.lower() + f"/providers/{NS.lower()}/extensions/"
            items = [view(b) for k, b in sorted(self.world.extensions.items()) if k.startswith(prefix)]
            return Response(200, {"value": items})

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = strip(req.json_object(), _READ_ONLY)
        with self.world.lock:
            now = self.world.settle()
            cluster = self.cluster(m)
            resource_id = self._id(cluster, m["ext"])
            existing = self.world.extensions.get(resource_id.lower())
            props = body.setdefault("properties", {})
            self._validate(props, existing)
            stored = self._defaults(body, existing, resource_id, now)
            self.world.extensions[resource_id.lower()] = stored

            def done(op: Operation) -> None:
                stored["properties"].update(
                    provisioningState="Succeeded", currentVersion=stored["properties"].get("version") or "1.0.0"
                )
                kube.install_extension(
                    self.world,
                    cluster,
                    resource_id,
                    str(stored["properties"]["extensionType"]),
                    release_namespace(stored["properties"]),
                    op.end,
                )

            def failed(op: Operation) -> None:
                stored["properties"].update(provisioningState="Failed", errorInfo=dict(op.error or {}))

            op = self.start(resource_id, "write", self.world.timings.extension_create, cluster, done, failed)
            return Response(200 if existing else 201, view(stored), self.headers(op, req, resource_id))

    @staticmethod
    def _validate(props: dict[str, Any], existing: dict[str, Any] | None) -> None:
        kind = props.get("extensionType") or (existing or {}).get("properties", {}).get("extensionType")
        if not kind:
            raise validation("The 'extensionType' property is required.")
        if existing and str(kind).lower() != str(existing["properties"]["extensionType"]).lower():
            raise validation("The 'extensionType' of an existing extension cannot be changed.")
        if props.get("version") and props.get("autoUpgradeMinorVersion", True):
            # "Pinning version needs autoUpgradeMinorVersion: false" (SPEC …/extensions/models.tsp).
            raise validation("A 'version' can be pinned only with 'autoUpgradeMinorVersion' set to false.")

    def _defaults(
        self, body: dict[str, Any], existing: dict[str, Any] | None, resource_id: str, now: datetime
    ) -> dict[str, Any]:
        props = body["properties"]
        previous = (existing or {}).get("properties", {})
        props.setdefault("extensionType", previous.get("extensionType"))
        props.setdefault("autoUpgradeMinorVersion", True)  # defaults per SPEC …/extensions/models.tsp
        props.setdefault("releaseTrain", "Stable")
        if str(props["extensionType"]).lower() == FLUX_EXTENSION_TYPE and not release_namespace(props):
            props["scope"] = {"cluster": {"releaseNamespace": "flux-system"}}
        props.update(
            provisioningState="Updating" if existing else "Creating",
            statuses=[],
            isSystemExtension=False,
            currentVersion=previous.get("currentVersion"),
        )
        protected = props.pop("configurationProtectedSettings", None)
        stored = {
            **body,
            "id": resource_id,
            "name": resource_id.rsplit("/", 1)[-1],
            "type": f"{NS}/extensions",
            "systemData": self.system_data((existing or {}).get("systemData"), now),
        }
        stored["_protected"] = protected or {}
        return stored

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            cluster = self.cluster(m)
            resource_id = self._id(cluster, m["ext"])
            stored = self.world.extensions.get(resource_id.lower())
            if stored is None:
                return Response(204)
            stored["properties"]["provisioningState"] = "Deleting"

            def done(op: Operation) -> None:
                self.world.extensions.pop(resource_id.lower(), None)
                kube.remove_extension(self.world, cluster, resource_id, op.end)

            def failed(op: Operation) -> None:
                stored["properties"].update(provisioningState="Failed", errorInfo=dict(op.error or {}))

            op = self.start(resource_id, "delete", self.world.timings.extension_delete, cluster, done, failed)
            return Response(202, None, self.headers(op, req, resource_id))
