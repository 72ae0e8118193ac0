"""What AKS itself puts into a cluster, and what enabled add-ons and extensions bring. Never the application.

Sources, per object set:
- The four namespaces every Kubernetes cluster starts with (default, kube-system, kube-public, kube-node-lease)
  and the `kubernetes` Service in default: kubernetes.io/docs/concepts/overview/working-with-objects/namespaces
  ("Initial namespaces").
- kube-system on AKS: Deployments coredns, coredns-autoscaler, konnectivity-agent, metrics-server and DaemonSets
  kube-proxy, azure-ip-masq-agent, cloud-node-manager, csi-azuredisk-node, csi-azurefile-node, as
  `kubectl get all -n kube-system` prints them on an AKS cluster (zenn.dev/skmkzyk/articles/kubectl-get-all);
  the kube-dns Service at networkProfile.dnsServiceIP ("An IP address assigned to the Kubernetes DNS service",
  AKS REST reference / azure-mgmt-containerservice ContainerServiceNetworkProfile). A small, realistic set: not
  every pod AKS runs.
- ingressProfile.webAppRouting.enabled: the application routing add-on creates managed NGINX ingress
  controllers in app-routing-system, resource names prefixed `nginx` by default, exposed by a LoadBalancer
  Service (learn.microsoft.com/azure/aks/app-routing; .../app-routing-nginx-configuration, controllerNamePrefix).
- addonProfiles.omsagent (Container insights' ama-logs DaemonSet and ama-logs-rs Deployment),
  addonProfiles.azureKeyvaultSecretsProvider (DaemonSets aks-secrets-store-csi-driver and
  aks-secrets-store-provider-azure) and workloadAutoScalerProfile.keda (keda-operator,
  keda-operator-metrics-apiserver, keda-admission-webhooks), all in kube-system: the add-ons are documented on
  learn.microsoft.com/azure/azure-monitor/containers/container-insights-troubleshoot,
  .../azure/aks/csi-secrets-store-driver and .../azure/aks/keda-deploy-add-on-cli; the object names are those an
  AKS cluster shows, not verified word for word in the stored docs.
- The microsoft.flux extension: "By default, the microsoft.flux extension installs the Flux controllers (Source,
  Kustomize, Helm, and Notification) and FluxConfig Custom Resource Definitions (CRD), fluxconfig-agent, and
  fluxconfig-controller" (learn.microsoft.com/azure/azure-arc/kubernetes/conceptual-gitops-flux2), in flux-system
  (the tutorial's `kubectl get pods -n flux-system`, DOCS tutorial-use-gitops-flux2.md).
"""

from __future__ import annotations

from typing import Any

from local.azure_emulator.aks_model import Cluster

# Namespaces whose workloads are never "the application": AKS's own, and those AKS add-ons and extensions own.
SYSTEM_NAMESPACES = frozenset(
    {"default", "kube-system", "kube-public", "kube-node-lease", "app-routing-system", "flux-system"}
)
ADDON_NAMESPACE = {"webAppRouting": "app-routing-system"}
FLUX_EXTENSION_TYPE = "microsoft.flux"
_MANAGED = {"kubernetes.azure.com/managedby": "aks"}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deployment(ns: str, name: str, replicas: int, image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"namespace": ns, "name": name, "labels": {"app": name, **(labels or {})}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            },
        },
    }


def daemonset(ns: str, name: str, image: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    body = deployment(ns, name, 0, image, labels)
    body["kind"] = "DaemonSet"
    body["spec"].pop("replicas")
    return body


def service(
    ns: str, name: str, kind: str, ports: list[tuple[str, int, str]], cluster_ip: str | None = None
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": kind,
        "selector": {"app": name},
        "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports],
    }
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec}


def _mcr(name: str) -> str:
    return f"mcr.microsoft.com/oss/kubernetes/{name}"


def base_objects(cluster: Cluster) -> list[dict[str, Any]]:
    """What every AKS cluster runs from the moment it exists."""
    dns_ip = str(cluster.props.get("networkProfile", {}).get("dnsServiceIP") or "10.0.0.10")
    ks = "kube-system"
    objects = [namespace(n) for n in ("default", "kube-system", "kube-public", "kube-node-lease")]
    objects.append(service("default", "kubernetes", "ClusterIP", [("https", 443, "TCP")], "10.0.0.1"))
    objects += [
        deployment(ks, "coredns", 2, _mcr("coredns:v1.11.3-1"), _MANAGED),
        deployment(ks, "coredns-autoscaler", 1, _mcr("autoscaler/cluster-proportional-autoscaler:v1.8.11"), _MANAGED),
        deployment(ks, "konnectivity-agent", 2, _mcr("apiserver-network-proxy/agent:v0.30.3"), _MANAGED),
        deployment(ks, "metrics-server", 2, _mcr("metrics-server:v0.7.2"), _MANAGED),
        service(ks, "kube-dns", "ClusterIP", [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")], dns_ip),
        service(ks, "metrics-server", "ClusterIP", [("https", 443, "TCP")]),
    ]
    for name in ("kube-proxy", "azure-ip-masq-agent", "cloud-node-manager", "csi-azuredisk-node", "csi-azurefile-node"):
        objects.append(daemonset(ks, name, _mcr(f"{name}:latest"), _MANAGED))
    return objects


def addon_objects(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """The objects of each enabled add-on, by add-on name."""
    props = cluster.props
    ks = "kube-system"
    enabled: dict[str, list[dict[str, Any]]] = {}
    if (props.get("ingressProfile") or {}).get("webAppRouting", {}).get("enabled"):
        ns = ADDON_NAMESPACE["webAppRouting"]
        enabled["webAppRouting"] = [
            namespace(ns),
            deployment(ns, "nginx", 2, "mcr.microsoft.com/oss/kubernetes/ingress/nginx-ingress-controller:v1.11.2"),
            service(ns, "nginx", "LoadBalancer", [("http", 80, "TCP"), ("https", 443, "TCP")]),
        ]
    addons = props.get("addonProfiles") or {}
    if (addons.get("omsagent") or {}).get("enabled"):
        enabled["omsagent"] = [
            daemonset(ks, "ama-logs", "mcr.microsoft.com/azuremonitor/containerinsights/ciprod:latest", _MANAGED),
            deployment(ks, "ama-logs-rs", 1, "mcr.microsoft.com/azuremonitor/containerinsights/ciprod:latest"),
        ]
    if (addons.get("azureKeyvaultSecretsProvider") or {}).get("enabled"):
        enabled["azureKeyvaultSecretsProvider"] = [
            daemonset(ks, "aks-secrets-store-csi-driver", _mcr("csi/secrets-store/driver:latest"), _MANAGED),
            daemonset(ks, "aks-secrets-store-provider-azure", _mcr("azure-keyvault-provider:latest"), _MANAGED),
        ]
    if (props.get("workloadAutoScalerProfile") or {}).get("keda", {}).get("enabled"):
        enabled["keda"] = [
            deployment(ks, name, replicas, _mcr("keda:latest"), _MANAGED)
            for name, replicas in (
                ("keda-operator", 2),
                ("keda-operator-metrics-apiserver", 2),
                ("keda-admission-webhooks", 2),
            )
        ]
    return enabled


def extension_objects(extension_type: str, release_namespace: str) -> list[dict[str, Any]]:
    """What installing a cluster extension puts into the cluster (only microsoft.flux is modelled)."""
    if extension_type.lower() != FLUX_EXTENSION_TYPE:
        return []
    ns = release_namespace or "flux-system"
    names = (
        "source-controller",
        "kustomize-controller",
        "helm-controller",
        "notification-controller",
        "fluxconfig-agent",
        "fluxconfig-controller",
    )
    return [namespace(ns)] + [deployment(ns, n, 1, f"mcr.microsoft.com/oss/fluxcd/{n}:latest") for n in names]
