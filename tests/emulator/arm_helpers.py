"""Helpers for the Event Grid / Insights / Network / Compute tests: clusters in a subnet, webhook receivers."""

from __future__ import annotations

import copy
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import trustme

from tests.emulator.conftest import RG, SUB, fixture

VNET_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet-nod"
SUBNET_ID = f"{VNET_ID}/subnets/snet-aks"
WORKSPACE_ID = (
    f"/subscriptions/{SUB}/resourceGroups/rg-nod-monitor/providers/Microsoft.OperationalInsights/workspaces/log-nod"
)
FUNCTION_ID = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Web/sites/func-bluegreen"
    "/functions/aks_lifecycle_events"
)


def cluster(
    name: str = "aks-nod-prod-blue",
    subnet: str | None = SUBNET_ID,
    plugin: str = "azure",
    mode: str | None = None,
    max_pods: int = 30,
) -> dict[str, Any]:
    """The fixture cluster renamed, its pools in `subnet` with this network plugin (flat Azure CNI by default)."""
    body = copy.deepcopy(fixture("managed-cluster-blue.json"))
    body["id"] = body["id"].replace("aks-nod-prod-blue", name)
    body["name"] = name
    props = body["properties"]
    props["nodeResourceGroup"] = f"MC_{RG}_{name}_eastus2"
    props["dnsPrefix"] = name
    network = props["networkProfile"]
    network["networkPlugin"] = plugin
    for key in ("networkPluginMode", "networkDataplane", "podCidr", "podCidrs"):
        network.pop(key, None)
    network["networkPolicy"] = "azure" if plugin == "azure" else "calico"
    if mode:
        network["networkPluginMode"] = mode
        network["podCidr"] = "10.244.0.0/16"
    network["loadBalancerProfile"] = {"managedOutboundIPs": {"count": 1}}
    props.pop("identityProfile", None)
    for pool in props["agentPoolProfiles"]:
        pool["maxPods"] = max_pods
        if subnet:
            pool["vnetSubnetID"] = subnet
    return body


def vnet(prefix: str = "10.240.0.0/16", subnet_prefix: str = "10.240.0.0/22") -> dict[str, Any]:
    return {
        "id": VNET_ID,
        "location": "eastus2",
        "properties": {
            "addressSpace": {"addressPrefixes": [prefix]},
            "subnets": [{"name": "snet-aks", "properties": {"addressPrefix": subnet_prefix}}],
        },
    }


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    ca_file: str = ""


@contextmanager
def webhook(answer: Callable[[Any], tuple[int, Any]] | None = None, tls: bool = False) -> Iterator[Receiver]:
    """An HTTP(S) receiver on 127.0.0.1 recording what is POSTed; `answer(body)` gives (status, JSON reply)."""
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
            receiver.received.append(body)
            receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            status, reply = answer(body) if answer else (200, None)
            payload = b"" if reply is None else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_OPTIONS(self) -> None:  # CloudEvents abuse protection: allow the origin that asks
            receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("WebHook-Allowed-Origin", self.headers.get("WebHook-Request-Origin", ""))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls:
        ca = trustme.CA()
        directory = Path(__import__("tempfile").mkdtemp(prefix="webhook-ca-"))
        receiver.ca_file = str(directory / "ca.pem")
        ca.cert_pem.write_to_path(receiver.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    receiver.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def echo_validation(body: Any) -> tuple[int, Any]:
    """What an endpoint that handles Event Grid's handshake answers."""
    event = body[0] if isinstance(body, list) and body else {}
    if event.get("eventType") == "Microsoft.EventGrid.SubscriptionValidationEvent":
        return 200, {"validationResponse": event["data"]["validationCode"]}
    return 200, None
