"""Alert webhooks, seeding from `az aks show` output, and the /_emulator/ control API over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
from azure.mgmt.containerservice import ContainerServiceClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, SUB, app_seed, fixture

PROFILE_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Cdn/profiles/afd-nod-prod"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/alerts", received
    server.shutdown()


def test_alert_rule_fires_then_resolves_through_the_webhook(
    emu: AzureEmulator, clock: VirtualClock, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = receiver
    blue = fixture("managed-cluster-blue.json")
    emu.seed([fixture("afd-origin-group.json"), fixture("afd-origin-blue.json"), blue, app_seed(blue["id"])])
    emu.bind_host("blue.web.nodpublishers.example", "aks-nod-prod-blue")
    emu.add_alert_rule("afd-nod-prod-5xx", PROFILE_ID, threshold_percent=5, window_minutes=5, webhook_url=url)
    clock.advance(180)
    assert emu.pending_webhooks() == 0  # healthy traffic: nothing to say
    emu.set_error_fraction("aks-nod-prod-blue", 0.5)
    clock.advance(120)
    assert emu.flush_webhooks() == 1
    emu.set_error_fraction("aks-nod-prod-blue", 0.0)
    clock.advance(600)
    assert emu.flush_webhooks() == 1
    fired, resolved = (payload["data"]["essentials"] for payload in received)
    assert (fired["monitorCondition"], resolved["monitorCondition"]) == ("Fired", "Resolved")
    assert fired["alertTargetIDs"] == [PROFILE_ID.lower()]
    assert fired["alertRule"] == "afd-nod-prod-5xx"
    assert fired["alertId"] == resolved["alertId"]
    assert fired["firedDateTime"].startswith("2026-11-20T06:0")
    assert received[0]["data"]["alertContext"]["condition"]["allOf"][0]["metricValue"] > 5


def test_seeding_az_aks_show_output(emu: AzureEmulator, aks: ContainerServiceClient) -> None:
    arm = fixture("managed-cluster-blue.json")
    flattened = {k: v for k, v in arm.items() if k != "properties"} | arm["properties"] | {"resourceGroup": RG}
    flattened["kubernetesVersion"] = "1.30.14"
    flattened.pop("currentKubernetesVersion")
    emu.seed(flattened)
    cluster = aks.managed_clusters.get(RG, "aks-nod-prod-blue")
    assert cluster.current_kubernetes_version == "1.30.14"
    assert cluster.agent_pool_profiles[1].name == "userpool1"
    assert cluster.power_state.code == "Running"
    clusters = [r["id"] for r in emu.resources() if r["type"].lower().endswith("/managedclusters")]
    assert clusters == [arm["id"].replace("resourcegroups", "resourceGroups")]
    # With it, the identities AKS made for it: the kubelet's and the add-ons' (in its node resource group).
    identities = {r["name"] for r in emu.resources() if r["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"}
    assert identities == {
        "aks-nod-prod-blue-agentpool",
        "omsagent-aks-nod-prod-blue",
        "azurekeyvaultsecretsprovider-aks-nod-prod-blue",
    }


def test_control_api_over_http(emu: AzureEmulator) -> None:
    base = emu.arm_endpoint + "/_emulator"
    verify = emu.ca_bundle
    assert requests.post(base + "/seed", json=[fixture("managed-cluster-blue.json")], verify=verify).status_code == 200
    listed = requests.get(base + "/resources", verify=verify).json()
    assert [r["name"] for r in listed if r["type"].lower().endswith("/managedclusters")] == ["aks-nod-prod-blue"]
    assert requests.post(base + "/faults", json={"status": 429, "count": 1}, verify=verify).status_code == 200
    path = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/"
    path += "aks-nod-prod-blue"
    throttled = requests.get(emu.arm_endpoint + path, headers={"Authorization": "Bearer t"}, verify=verify)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    log = requests.get(base + "/requests", verify=verify).json()
    assert [(r["method"], r["status"]) for r in log] == [("GET", 429)]
    requests.post(base + "/requests/clear", verify=verify)
    assert requests.get(base + "/requests", verify=verify).json() == []
    for call, body in [
        ("/clusters/aks-nod-prod-blue/error-fraction", {"fraction": 0.2}),
        ("/clusters/aks-nod-prod-blue/workloads", {"ready": False}),
        ("/propagation-delay", {"seconds": 30}),
        ("/dns", {"host": "blue.example", "cluster": "aks-nod-prod-blue"}),
        ("/operations/fail-next", {"code": "Boom"}),
    ]:
        assert requests.post(base + call, json=body, verify=verify).status_code == 200, call
    assert emu.world.propagation == 30
    assert emu.world.cluster_for_host("blue.example") == "aks-nod-prod-blue"
    bad = requests.post(base + "/seed", json={"id": "/nope"}, verify=verify)
    assert bad.status_code == 400
