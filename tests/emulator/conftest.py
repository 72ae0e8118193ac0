"""Real Azure SDK clients wired to an in-process emulated Azure on a virtual clock (no sleeps, no mocks)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.frontdoor import FrontDoorManagementClient
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arm"
SUB = "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23"
RG = "rg-nod-prod"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return body


def create_body(name: str = "managed-cluster-blue.json") -> dict[str, Any]:
    """A cluster's GET body as a create sends it: without the kubelet identity AKS made for that cluster (sent
    back, it would name a pre-created kubelet identity, which AKS refuses on a system-assigned cluster)."""
    body = fixture(name)
    body["properties"].pop("identityProfile", None)
    return body


class StaticToken:
    """Any bearer token will do for the emulator."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("t", int(time.time()) + 86400)


class VirtualTransport(RequestsTransport):
    """Pollers and the retry policy wait through transport.sleep: here that moves the virtual clock."""

    def __init__(self, clock: VirtualClock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock

    def sleep(self, duration: float) -> None:
        self.clock.sleep(duration)


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def emu(clock: VirtualClock) -> Iterator[AzureEmulator]:
    emulator = AzureEmulator(clock=clock).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def client_kwargs(emu: AzureEmulator, clock: VirtualClock) -> dict[str, Any]:
    # A custom transport carries its own TLS settings; connection_verify also goes on each request.
    return {
        "transport": VirtualTransport(clock, connection_verify=emu.ca_bundle),
        "connection_verify": emu.ca_bundle,
    }


# -- long-running operations without a poller thread -------------------------------------------------------
# An SDK poller polls in a thread of its own and its waits move the virtual clock: an operation that a test
# needs in progress is started with polling=False, and the test moves the clock itself.


def begin(method: Callable[..., Any], *args: Any) -> str:
    """Start an operation without polling; return its status URL (Azure-AsyncOperation, else Location)."""
    urls: list[str] = []

    def keep(response: PipelineResponse[Any, Any]) -> None:
        headers = response.http_response.headers
        urls.append(headers.get("Azure-AsyncOperation") or headers.get("Location") or "")

    method(*args, polling=False, raw_response_hook=keep)
    return urls[0]


def status_document(emu: AzureEmulator, url: str) -> dict[str, Any]:
    answer = requests.get(url, headers={"Authorization": "Bearer t"}, verify=emu.ca_bundle, timeout=5)
    body: dict[str, Any] = answer.json()
    return body


def finish(emu: AzureEmulator, clock: VirtualClock) -> None:
    """Move the clock to the end of the pending operation."""
    moment = emu.next_event_time()
    assert moment is not None
    clock.advance_to(moment)


@pytest.fixture
def aks(emu: AzureEmulator, clock: VirtualClock) -> ContainerServiceClient:
    return ContainerServiceClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


@pytest.fixture
def cdn(emu: AzureEmulator, clock: VirtualClock) -> CdnManagementClient:
    return CdnManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


@pytest.fixture
def classic(emu: AzureEmulator, clock: VirtualClock) -> FrontDoorManagementClient:
    return FrontDoorManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


@pytest.fixture
def metrics(emu: AzureEmulator, clock: VirtualClock) -> MetricsClient:
    return MetricsClient(emu.metrics_endpoint, StaticToken(), **client_kwargs(emu, clock))


@pytest.fixture
def kc(emu: AzureEmulator, clock: VirtualClock) -> SourceControlConfigurationClient:
    """azure-mgmt-kubernetesconfiguration, at its default api-version."""
    return SourceControlConfigurationClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


# -- an application, as a team's pipeline deploys it ------------------------------------------------------

OBJECTS_TYPE = "Microsoft.ContainerService/managedClusters/kubernetesObjects"


def deployment(ns: str, name: str, replicas: int, kind: str = "Deployment") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"namespace": ns, "name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                # A public registry: pulling from an Azure Container Registry needs a grant (test_workload_access).
                "spec": {"containers": [{"name": name, "image": f"ghcr.io/nodpublishers/{name}:1.4.2"}]},
            },
        },
    }


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def load_balancer(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"namespace": ns, "name": name},
        "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"name": "https", "port": 443}]},
    }


def web_app() -> list[dict[str, Any]]:
    """The application: web (frontend, api, the cache StatefulSet) behind an ingress-nginx LoadBalancer."""
    return [
        namespace("web"),
        deployment("web", "frontend", 3),
        deployment("web", "api", 2),
        deployment("web", "cache", 1, kind="StatefulSet"),
        namespace("ingress-nginx"),
        deployment("ingress-nginx", "ingress-nginx-controller", 2),
        load_balancer("ingress-nginx", "ingress-nginx-controller"),
    ]


def app_seed(cluster_id: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The seed item of a cluster that already runs the application (applied and rolled out)."""
    return {"type": OBJECTS_TYPE, "id": f"{cluster_id}/kubernetesObjects", "items": items or web_app()}


# -- Front Door: blue live, green standing by -------------------------------------------------------------

PROFILE = "afd-nod-prod"
GROUP = "og-nod-web"
PROFILE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cdn/profiles/{PROFILE}"
CLASSIC_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/frontDoors/fd-nod-prod"
BLUE_HOST, GREEN_HOST = "blue.web.nodpublishers.example", "green.web.nodpublishers.example"


@pytest.fixture
def afd(emu: AzureEmulator) -> AzureEmulator:
    """Blue live (Enabled), green standing by (Disabled), both clusters running the application and bound to
    their hosts."""
    green = fixture("afd-origin-green.json")
    green["properties"]["enabledState"] = "Disabled"
    blue_cluster = fixture("managed-cluster-blue.json")
    green_cluster = fixture("managed-cluster-blue.json")
    green_cluster["id"] = green_cluster["id"].replace("blue", "green")
    green_cluster["properties"]["nodeResourceGroup"] = "MC_green"
    apps = [app_seed(blue_cluster["id"]), app_seed(green_cluster["id"])]
    emu.seed(
        [fixture("afd-origin-group.json"), fixture("afd-origin-blue.json"), green, blue_cluster, green_cluster, *apps]
    )
    emu.bind_host(BLUE_HOST, "aks-nod-prod-blue")
    emu.bind_host(GREEN_HOST, "aks-nod-prod-green")
    return emu


def per_origin(
    metrics: MetricsClient,
    clock: VirtualClock,
    minutes: int,
    resource: str = PROFILE_ID,
    metric: str = "OriginRequestCount",
    dim: str = "Origin",
) -> dict[tuple[str, str], float]:
    end = clock.now()
    result = metrics.query_resources(
        resource_ids=[resource],
        metric_namespace="Microsoft.Cdn/profiles",
        metric_names=[metric],
        timespan=(end - timedelta(minutes=minutes), end),
        granularity=timedelta(minutes=1),
        filter=f"{dim} eq '*' and HttpStatusGroup eq '*'",
        aggregations=["Total"],
    )
    totals: dict[tuple[str, str], float] = {}
    for series in result[0].metrics[0].timeseries:
        key = (series.metadata_values[dim], series.metadata_values["HttpStatusGroup"])
        totals[key] = sum(point.total or 0 for point in series.data)
    return totals
