"""The applications' way onto green: blue's cluster extensions and Flux configurations, copied.

Both are ARM extension resources under the cluster (Microsoft.KubernetesConfiguration, through
azure-mgmt-kubernetesconfiguration). Order matters: the microsoft.flux extension first, then the Flux
configurations (Flux needs its extension). Protected settings never come back from ARM (they are
`x-ms-secret`), so the copy takes them from the environment's secret references. Extensions AKS
manages for its add-ons (`managedBy`, system extensions) are recreated by AKS itself: never copied.
"""

from __future__ import annotations

from typing import Any

from bluegreen import operations, secrets
from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients
from bluegreen.contract import ConfigurationState, OperationHandle
from bluegreen.errors import PermanentError, classify

CLUSTER_RP, CLUSTER_TYPE = "Microsoft.ContainerService", "managedClusters"
EXTENSIONS, FLUX = "extensions", "flux_configurations"


def required_protected_keys(flux: dict[str, Any]) -> list[str]:
    """The protected settings a Flux configuration of blue must have had, from what ARM does show.

    The CLI stores Flux credentials under `httpsKey` (with `httpsUser`), `sshPrivateKey` (an ssh URL)
    and `bucketSecretKey` (azure-cli-extensions k8s-configuration consts); keyless sources (provider
    Azure, a `localAuthRef` secret in the cluster) need none.
    """
    props = flux.get("properties") or {}
    keys: list[str] = []
    git = props.get("gitRepository") or {}
    if git and not git.get("localAuthRef") and str(git.get("provider") or "").lower() != "azure":
        url = str(git.get("url") or "")
        if git.get("httpsUser"):
            keys.append("httpsKey")
        elif url.startswith(("ssh://", "git@")):
            keys.append("sshPrivateKey")
    bucket = props.get("bucket") or {}
    if bucket.get("accessKey") and not bucket.get("localAuthRef"):
        keys.append("bucketSecretKey")
    return keys


def copyable_extensions(extensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Blue's extensions a team installed (AKS-managed ones come back with their add-on), Flux first."""
    mine = [
        e for e in extensions if not e.get("managedBy") and not (e.get("properties") or {}).get("isSystemExtension")
    ]
    return sorted(
        mine, key=lambda e: str((e.get("properties") or {}).get("extensionType", "")).lower() != "microsoft.flux"
    )


# The SDK's default API version; reads go through it raw, so fields its models predate (managedBy) survive.
API_VERSION = "2023-05-01"
PATHS = {EXTENSIONS: "extensions", FLUX: "fluxConfigurations"}


class Configurations:
    """Extensions and Flux configurations of managed clusters, addressed by the cluster's ARM id."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _client(self, cluster_id: str) -> tuple[Any, ResourceId]:
        rid = ResourceId.parse(cluster_id)
        return self._clients.kubernetes_configuration(rid.subscription), rid

    def _read(self, cluster_id: str, path: str) -> dict[str, Any] | None:
        from azure.core.rest import HttpRequest

        client, _ = self._client(cluster_id)
        base = self._clients.settings.arm_endpoint.rstrip("/")
        url = f"{base}{cluster_id}/providers/Microsoft.KubernetesConfiguration/{path}?api-version={API_VERSION}"
        try:
            response = client._client.send_request(HttpRequest("GET", url))
            if response.status_code == 404:
                return None
            response.raise_for_status()
        except Exception as exc:
            raise classify(exc) from exc
        body: dict[str, Any] = response.json()
        return body

    def list(self, cluster_id: str, kind: str) -> list[dict[str, Any]]:
        """ARM GET bodies (camelCase, `properties`), following nextLink."""
        items: list[dict[str, Any]] = []
        page = self._read(cluster_id, PATHS[kind]) or {}
        items += page.get("value") or []
        while page.get("nextLink"):
            page = self._next(cluster_id, str(page["nextLink"]))
            items += page.get("value") or []
        return items

    def _next(self, cluster_id: str, link: str) -> dict[str, Any]:
        from azure.core.rest import HttpRequest

        client, _ = self._client(cluster_id)
        try:
            response = client._client.send_request(HttpRequest("GET", link))
            response.raise_for_status()
        except Exception as exc:
            raise classify(exc) from exc
        page: dict[str, Any] = response.json()
        return page

    def get(self, cluster_id: str, kind: str, name: str) -> dict[str, Any] | None:
        return self._read(cluster_id, f"{PATHS[kind]}/{name}")

    def start_copy(
        self, cluster_id: str, kind: str, source: dict[str, Any], protected: dict[str, str]
    ) -> OperationHandle:
        """PUT blue's `source` (an ARM GET body) on green: writable fields only, protected settings added."""
        from azure.mgmt.kubernetesconfiguration.models import Extension, FluxConfiguration

        client, rid = self._client(cluster_id)
        # deserialize() then the SDK sends only what is writable: read-only state stays behind.
        model = (Extension if kind == EXTENSIONS else FluxConfiguration).deserialize(source)
        model.configuration_protected_settings = protected or None
        if kind == EXTENSIONS:
            begin = client.extensions.begin_create
        else:
            begin = client.flux_configurations.begin_create_or_update
        return operations.start(begin, rid.resource_group, CLUSTER_RP, CLUSTER_TYPE, rid.name, source["name"], model)

    def state(self, cluster_id: str, kind: str, name: str) -> ConfigurationState:
        body = self.get(cluster_id, kind, name)
        if body is None:
            return ConfigurationState(name=name, provisioning_state="NotFound", message="not on the cluster")
        return _state(name, body)


def resolve_protected(clients: AzureClients, references: dict[str, str]) -> dict[str, str]:
    """Setting key -> secret value, read now (never returned to the orchestrator)."""
    return {key: secrets.resolve(clients, reference) for key, reference in references.items()}


def check_protected_references(flux: list[dict[str, Any]], configured: dict[str, dict[str, str]]) -> None:
    """Before any write: every protected setting blue's Flux configurations need has a reference."""
    for body in flux:
        name = str(body.get("name"))
        missing = [key for key in required_protected_keys(body) if key not in configured.get(name, {})]
        if missing:
            raise PermanentError(
                "ProtectedSettingMissing",
                f"blue's Flux configuration {name!r} authenticates with {', '.join(missing)}, which ARM never returns: "
                f"set workloads.protected_settings.{name}.{missing[0]} to a Key Vault secret reference",
            )


def _state(name: str, body: dict[str, Any]) -> ConfigurationState:
    props = body.get("properties") or {}
    message = props.get("errorMessage") or ((props.get("errorInfo") or {}).get("message"))
    for status in props.get("statuses") or []:
        for condition in status.get("statusConditions") or []:
            if str(condition.get("status")).lower() == "false" and condition.get("message"):
                message = message or str(condition["message"])
    return ConfigurationState(
        name=name,
        provisioning_state=props.get("provisioningState"),
        compliance_state=props.get("complianceState"),
        message=str(message)[:300] if message else None,
    )
