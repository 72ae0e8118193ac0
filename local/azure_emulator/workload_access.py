"""What a workload needs from Azure before its pods run: images it may pull, tokens it may get.

A Deployment, StatefulSet or DaemonSet has no pod available (0 ready) while any of these holds, at that moment:

- An image from an Azure Container Registry (`{registry}.azurecr.io/...`) that the kubelet cannot pull. The kubelet
  authenticates as the cluster's kubelet identity (`identityProfile.kubeletidentity`; the service principal on a
  service-principal cluster), which needs AcrPull on the registry or an ancestor scope ("the kubelet identity
  ... needs AcrPull", learn.microsoft.com/azure/aks/cluster-container-registry-integration; any role granting
  Microsoft.ContainerRegistry/registries/pull/read will do, rbac_roles). Without it the pull answers
  "401 Unauthorized" and the pod stays in ImagePullBackOff (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/
  connectivity/cannot-pull-image-from-acr-to-aks-cluster). A registry the emulated Azure does not know resolves to
  nothing ("no such host"). A registry with `anonymousPullEnabled` needs no identity (learn.microsoft.com/azure/
  container-registry/anonymous-pull-access). A registry in ABAC mode (`roleAssignmentMode:
  AbacRepositoryPermissions`) ignores AcrPull; only a repository data action grants (reference/azure-more.md (d)).
  imagePullSecrets are not modelled: they never help here.
- A pod template labelled `azure.workload.identity/use: "true"` whose service account (annotated
  `azure.workload.identity/client-id`) has no token to exchange: the cluster must have workload identity and its
  OIDC issuer enabled, the client id must be a user-assigned identity Entra knows, and that identity needs a
  federated credential with issuer = the cluster's `oidcIssuerProfile.issuerURL` and subject =
  `system:serviceaccount:{namespace}:{serviceaccount}` (MicrosoftDocs/azure-docs articles/aks/
  workload-identity-deploy-cluster.md). Otherwise token requests fail with "AADSTS70021: No matching federated
  identity record found for presented assertion" (ENTRA workload-identity-federation-considerations.md) and the
  application never becomes ready.

Both follow grants and credentials made later: a status read after a grant (once Timings.rbac_propagation /
federation_propagation have passed) finds the pods available. Losing the grant makes them unavailable again (a
stricter reading than a running pod that pulled its image already).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local.azure_emulator.directory import EPOCH, Directory

if TYPE_CHECKING:
    from local.azure_emulator.aks_model import Cluster
    from local.azure_emulator.k8s_objects import KubeObject
    from local.azure_emulator.world import World

PULL = "Microsoft.ContainerRegistry/registries/pull/read"
REPOSITORY_READ = "Microsoft.ContainerRegistry/registries/repositories/content/read"
USE_LABEL = "azure.workload.identity/use"
CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"
AUDIENCE = "api://AzureADTokenExchange"
_FAR = datetime.max.replace(tzinfo=UTC)
_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")


def pod_spec(obj: KubeObject) -> dict[str, Any]:
    spec: dict[str, Any] = (obj.spec.get("template") or {}).get("spec") or {}
    return spec


def images(obj: KubeObject) -> list[str]:
    spec = pod_spec(obj)
    containers = list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
    return [str(c.get("image")) for c in containers if isinstance(c, dict) and c.get("image")]


def acr_host(image: str) -> str | None:
    host = image.split("/", 1)[0].lower() if "/" in image else ""
    host = host.split(":", 1)[0]
    return host if host.endswith(".azurecr.io") else None


def uses_workload_identity(obj: KubeObject) -> bool:
    labels = ((obj.spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    return str(labels.get(USE_LABEL, "")).lower() == "true"


class WorkloadGate:
    """Answers, for one cluster, whether a workload's pods can run at a moment, and why not."""

    def __init__(self, world: World, cluster: Cluster) -> None:
        self.world = world
        self.cluster = cluster

    @property
    def directory(self) -> Directory:
        directory: Directory = self.world.directory
        return directory

    def concerns(self, obj: KubeObject) -> bool:
        return obj.kind in _WORKLOADS and (uses_workload_identity(obj) or any(acr_host(i) for i in images(obj)))

    def blockers(self, obj: KubeObject, moment: datetime) -> list[str]:
        if not self.concerns(obj):
            return []
        found = [reason for image in images(obj) if (reason := self._pull(image, moment))]
        if uses_workload_identity(obj) and (reason := self._token(obj, moment)):
            found.append(reason)
        return found

    def allowed(self, obj: KubeObject, moment: datetime) -> bool:
        return not self.blockers(obj, moment)

    def ready_from(self, obj: KubeObject) -> datetime | None:
        """From when, as far as the directory knows now, the workload may run from then on; None if it may not
        (now or once pending grants take effect)."""
        if not self.concerns(obj):
            return EPOCH
        if not self.allowed(obj, _FAR):
            return None
        earliest = _FAR
        for point in sorted({EPOCH, *self.directory.change_points()}, reverse=True):
            if not self.allowed(obj, point):
                break
            earliest = point
        return earliest

    # -- the kubelet's pull ------------------------------------------------------------------------------------

    def kubelet_principal(self) -> str | None:
        props = self.cluster.props
        sp = props.get("servicePrincipalProfile") or {}
        client = str(sp.get("clientId") or "msi")
        if client.lower() != "msi":
            principal = self.directory.principal_by_app_id(client)
            return principal.object_id if principal else None
        kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
        return str(kubelet["objectId"]) if kubelet.get("objectId") else None

    def _pull(self, image: str, moment: datetime) -> str | None:
        host = acr_host(image)
        if host is None:
            return None
        registry = self.directory.registry_for(host)
        if registry is None:
            return f'ErrImagePull: failed to pull image "{image}": dial tcp: lookup {host}: no such host'
        props = registry.get("properties") or {}
        if props.get("anonymousPullEnabled"):
            return None
        principal = self.kubelet_principal()
        abac = str(props.get("roleAssignmentMode", "")).lower() == "abacrepositorypermissions"
        allowed = principal is not None and (
            self.directory.permits(principal, REPOSITORY_READ, registry["id"], moment, data=True)
            if abac
            else self.directory.permits(principal, PULL, registry["id"], moment)
        )
        if allowed:
            return None
        return (
            f'ImagePullBackOff: failed to pull image "{image}": failed to authorize: failed to fetch anonymous '
            f"token: unexpected status from GET request to https://{host}/oauth2/token: 401 Unauthorized "
            f"(kubelet identity {principal or '(none)'} cannot pull from {registry['id']})"
        )

    # -- the workload's token ----------------------------------------------------------------------------------

    def _token(self, obj: KubeObject, moment: datetime) -> str | None:
        spec = pod_spec(obj)
        account = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
        sa = self.cluster.kube.get("ServiceAccount", obj.namespace, account)
        if sa is None and account != "default":  # every namespace has its `default` service account
            return f'serviceaccount "{account}" not found in namespace "{obj.namespace}": no pod can be created'
        annotations = (sa.manifest["metadata"].get("annotations") or {}) if sa else {}
        client_id = str(annotations.get(CLIENT_ID_ANNOTATION) or "")
        props = self.cluster.props
        if not ((props.get("securityProfile") or {}).get("workloadIdentity") or {}).get("enabled"):
            return "workload identity is not enabled on the cluster (securityProfile.workloadIdentity.enabled)"
        oidc = props.get("oidcIssuerProfile") or {}
        issuer = str(oidc.get("issuerURL") or "")
        if not oidc.get("enabled") or not issuer:
            return "the cluster's OIDC issuer is not enabled (oidcIssuerProfile.enabled)"
        if not client_id:
            return f'service account "{obj.namespace}/{account}" has no {CLIENT_ID_ANNOTATION} annotation'
        identity = self.directory.identity_by_client_id(client_id)
        if identity is None or self.directory.principal(identity.principal_id, moment) is None:
            return f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory"
        subject = f"system:serviceaccount:{obj.namespace}:{account}"
        if self.directory.trusts(identity, issuer, subject, AUDIENCE, moment):
            return None
        return (
            "AADSTS70021: No matching federated identity record found for presented assertion. "
            f"Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{AUDIENCE}'."
        )


def attach(world: World, cluster: Cluster) -> None:
    cluster.gate = WorkloadGate(world, cluster)


def notify(world: World, at: datetime) -> None:
    """Grants, credentials or identities changed at `at`: every cluster's application signal is recorded again,
    so traffic and probes from `at` on see what the workloads can do now."""
    from local.azure_emulator import kube

    for cluster in list(world.clusters.values()):
        kube.refresh(world, cluster, at)


def report(world: World, cluster: Cluster, moment: datetime) -> list[dict[str, Any]]:
    """Workloads that cannot run now and why: [{namespace, kind, name, reasons}]."""
    gate = cluster.gate
    if gate is None:
        return []
    rows = []
    for obj in cluster.kube.select(_WORKLOADS):
        reasons = gate.blockers(obj, moment)
        if reasons:
            rows.append({"namespace": obj.namespace, "kind": obj.kind, "name": obj.name, "reasons": reasons})
    return rows
