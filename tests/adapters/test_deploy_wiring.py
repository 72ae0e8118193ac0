"""The azd postdeploy hook (bluegreen/deploy_wiring.py, infra/hooks/postdeploy.py) against the emulated Azure.

The real SDK clients talk to the emulator seeded with the rehearsal's estate (whose blue already has a system topic
and an AzureFunction subscription `bluegreen`); the app runs on the local Functions host, behind a small HTTPS
front (the emulated Event Grid only calls HTTPS webhooks), so the validation handshake is the host's own answer.
The emulator has no Microsoft.Web: the keys the hook reads with azure-mgmt-web are given here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from bluegreen import deploy_wiring as dw
from bluegreen.azure import AzureClients, AzureSettings
from bluegreen.config import Environment, load_environments, parse_environments
from tests.triggers.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "infra" / "hooks" / "postdeploy.py"
EVENTGRID_KEY = "eg-SYSTEM-key-0123456789abcdef=="
ALERTS_KEY = "alerts-FUNCTION-key-fedcba9876543210"
WRITES = ("PUT", "PATCH", "DELETE")


@dataclass
class HttpsFront:
    """HTTPS on 127.0.0.1 in front of the local host's HTTP: what the app's HTTPS endpoint is on Azure."""

    backend: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    ca_file: str = ""
    base: str = ""

    def __post_init__(self) -> None:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(front.backend + self.path, data, headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, body, answer_headers = answer.status, answer.read(), dict(answer.headers)
                except urllib.error.HTTPError as error:
                    status, body, answer_headers = error.code, error.read(), dict(error.headers)
                lowered = {k.lower(): v for k, v in headers.items()}
                front.seen.append({"path": self.path, "headers": lowered, "status": status, "answer": body})
                self.send_response(status)
                for name, value in answer_headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_OPTIONS = do_GET = _forward

            def log_message(self, *args: Any) -> None:
                return

        ca = trustme.CA()
        self.ca_file = str(Path(tempfile.mkdtemp(prefix="front-ca-")) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class World:
    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.stack = Stack(tmp_path, **overrides)
        self.emulator = self.stack.emulator
        self.front = HttpsFront(self.stack.host.base_url)
        self.emulator.trust_webhook_ca(self.front.ca_file)
        self.settings = self.emulator.app_settings()
        self.clients = AzureClients(AzureSettings.from_env(self.settings))
        self.environments = load_environments(self.stack.config_file).environment
        self.webhooks = dw.webhook_urls(self.front.base, EVENTGRID_KEY, ALERTS_KEY)
        self.target = dw.Target(self.stack.estate.subscription, self.stack.estate.resource_group, "func-nod-test")
        estate = self.stack.estate
        self.blue_id = f"/subscriptions/{estate.subscription}/resourceGroups/{estate.resource_group}"
        self.blue_id += f"/providers/Microsoft.ContainerService/managedClusters/{estate.blue_name}"

    def wire(self, webhooks: dw.Webhooks | None = None, dry_run: bool = False) -> dict[str, dw.Result]:
        wiring = dw.DeployWiring(self.clients, webhooks or self.webhooks, self.target, dry_run=dry_run)
        return {r.kind: r for r in wiring.apply(self.environments)}

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.emulator.requests() if r["method"] in WRITES or r.get("kind") == "write"]

    def hook_env(self, **extra: str) -> dict[str, str]:
        return {
            **self.settings,
            "AZURE_SUBSCRIPTION_ID": self.target.subscription,
            "AZURE_RESOURCE_GROUP": self.target.resource_group,
            "AZURE_FUNCTION_APP_NAME": self.target.function_app,
            "BLUEGREEN_CONFIG": str(self.stack.config_file),
            **extra,
        }

    def close(self) -> None:
        self.front.close()
        self.stack.close()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Any]:
    saved = dict(os.environ)  # the local host puts the app settings in os.environ
    made: list[World] = []

    def build(**overrides: Any) -> World:
        made.append(World(tmp_path, **overrides))
        return made[-1]

    yield build
    for world in made:
        world.close()
    os.environ.clear()
    os.environ.update(saved)


def load_hook() -> Any:
    spec = importlib.util.spec_from_file_location("postdeploy_hook", HOOK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- the desired bodies


def _env(**changes: Any) -> Environment:
    sub, rg = "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23", "rg-nod-prod"
    fd = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Cdn/profiles/afd-nod-prod"
    body: dict[str, Any] = {
        "name": "nod-prod",
        "clusters": {"subscription": sub, "resource_group": rg, "names": ["aks-a", "aks-b"]},
        "front_door": {"id": fd, "origin_group": "og", "origins": ["a", "b"]},
        **changes,
    }
    return parse_environments({"environment": [body]}).environment[0]


def test_the_filter_is_the_events_the_policy_starts_runs_on_and_the_threshold_the_bake_s() -> None:
    assert dw.event_types(_env()) == [
        "Microsoft.ContainerService.ClusterSupportEnding",
        "Microsoft.ContainerService.ClusterSupportEnded",
    ]
    opted_in = _env(policy={"start_on": ["NewKubernetesVersionAvailable", "ClusterSupportEnded"]})
    assert dw.event_types(opted_in) == [
        "Microsoft.ContainerService.ClusterSupportEnded",
        "Microsoft.ContainerService.NewKubernetesVersionAvailable",
    ]
    body = dw.metric_alert_body(_env(bake={"max_error_rate": 0.07}), "/subscriptions/s/resourceGroups/r/x")
    assert body is not None
    props = body["properties"]
    [criterion] = props["criteria"]["allOf"]
    assert criterion["metricName"] == "Percentage5XX" and criterion["threshold"] == 7.0  # not 7.000000000000001
    assert (criterion["operator"], criterion["timeAggregation"]) == ("GreaterThan", "Average")
    assert (props["windowSize"], props["evaluationFrequency"], props["severity"]) == ("PT5M", "PT1M", 1)
    classic_id = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/frontDoors/fd"
    classic = {"kind": "classic", "id": classic_id, "origin_group": "web", "origins": ["a.example", "b.example"]}
    assert dw.metric_alert_body(_env(front_door=classic), "ag") is None
    assert len(dw.SHORT_NAME) <= 12
    urls = dw.webhook_urls("func.azurewebsites.net", "a/b+c==", "k")
    assert urls.eventgrid == (
        "https://func.azurewebsites.net/runtime/webhooks/eventgrid?functionName=aks_lifecycle_events&code=a%2Fb%2Bc%3D%3D"
    )
    assert urls.alerts == "https://func.azurewebsites.net/api/alerts?code=k"


# ---- against the emulated Azure


def test_the_first_run_reuses_blue_s_topic_subscribes_the_webhook_and_adds_the_rollback_alert(make_world) -> None:
    world = make_world()
    estate = world.stack.estate
    results = world.wire()
    assert {k: r.outcome for k, r in results.items()} == {
        "action_group": "created",
        "system_topic": "unchanged",  # the estate's `{blue}-events`: one system topic per source
        "event_subscription": "updated",  # was an AzureFunction destination, now the webhook
        "metric_alert": "created",
    }
    assert results["system_topic"].id.lower() == estate.system_topic_id.lower()
    eventgrid = world.clients.eventgrid(estate.subscription)
    topic_name = estate.system_topic_id.rsplit("/", 1)[-1]
    sub = eventgrid.system_topic_event_subscriptions.get(estate.resource_group, topic_name, "bluegreen")
    assert sub.provisioning_state == "Succeeded"
    assert sub.destination.endpoint_type == "WebHook"
    assert sub.destination.endpoint_base_url == f"https://{world.front.base}/runtime/webhooks/eventgrid"
    assert sub.filter.included_event_types == dw.event_types(world.environments[0])
    full = eventgrid.system_topic_event_subscriptions.get_full_url(estate.resource_group, topic_name, "bluegreen")
    assert full.endpoint_url == world.webhooks.eventgrid

    monitor = world.clients.monitor(estate.subscription)
    group = monitor.action_groups.get(estate.resource_group, world.target.action_group_name)
    [receiver] = group.webhook_receivers
    assert (group.group_short_name, group.enabled) == (dw.SHORT_NAME, True)
    assert (receiver.service_uri, receiver.use_common_alert_schema) == (world.webhooks.alerts, True)
    alert = monitor.metric_alerts.get(estate.resource_group, f"bluegreen-{estate.environment}-5xx")
    assert [s.lower() for s in alert.scopes] == [estate.front_door_id.lower()]  # what /api/alerts matches on
    [criterion] = alert.criteria.all_of
    assert (criterion.metric_name, criterion.threshold, criterion.time_aggregation) == ("Percentage5XX", 50, "Average")
    assert alert.actions[0].action_group_id.lower() == group.id.lower()
    assert (alert.severity, alert.window_size.total_seconds(), alert.auto_mitigate) == (1, 300, True)


def test_a_second_run_reports_everything_unchanged_and_writes_nothing(make_world) -> None:
    world = make_world()
    world.wire()
    world.emulator.clear_requests()
    again = world.wire()
    assert {r.outcome for r in again.values()} == {"unchanged"}
    assert world.writes() == []
    # A key the app rotated is a change: the subscription (and only it) is updated, the handshake runs again.
    rotated = dw.webhook_urls(world.front.base, "rotated-system-key", ALERTS_KEY)
    assert {k: r.outcome for k, r in world.wire(rotated).items()}["event_subscription"] == "updated"


def test_a_cluster_without_a_topic_gets_one_and_the_policy_s_opt_in_event(make_world) -> None:
    world = make_world(policy={"start_on": ["ClusterSupportEnding", "NewKubernetesVersionAvailable"]})
    estate = world.stack.estate
    topic_name = estate.system_topic_id.rsplit("/", 1)[-1]
    world.clients.eventgrid(estate.subscription).system_topics.begin_delete(estate.resource_group, topic_name).result()
    world.emulator.clear_requests()
    dry = world.wire(dry_run=True)
    assert {r.outcome for r in dry.values()} == {"created"} and world.writes() == []
    results = world.wire()
    assert results["system_topic"].outcome == results["event_subscription"].outcome == "created"
    topic = world.clients.eventgrid(estate.subscription).system_topics.get(estate.resource_group, topic_name)
    assert topic.source.lower() == world.blue_id.lower() and topic.location == "eastus2"
    sub = world.clients.eventgrid(estate.subscription).system_topic_event_subscriptions.get(
        estate.resource_group, topic_name, "bluegreen"
    )
    assert sub.filter.included_event_types == [
        "Microsoft.ContainerService.ClusterSupportEnding",
        "Microsoft.ContainerService.NewKubernetesVersionAvailable",
    ]


def test_the_handshake_is_answered_by_the_app_and_an_endpoint_that_cannot_answer_fails(make_world) -> None:
    world = make_world()
    world.wire()
    [validation] = [s for s in world.front.seen if s["path"].startswith("/runtime/webhooks/eventgrid")]
    assert validation["headers"].get("aeg-event-type") == "SubscriptionValidation"
    assert validation["status"] == 200 and "functionName=aks_lifecycle_events" in validation["path"]
    assert "validationResponse" in json.loads(validation["answer"])  # the host's answer, relayed

    nowhere = dw.Webhooks("https://127.0.0.1:9/runtime/webhooks/eventgrid?code=never-shown", world.webhooks.alerts)
    failed = world.wire(nowhere)["environment"]
    assert failed.outcome == "failed" and "validate the provided endpoint" in failed.note
    assert "never-shown" not in failed.note


def test_the_hook_prints_names_and_ids_never_a_key(make_world, monkeypatch, capsys) -> None:
    world = make_world()
    hook = load_hook()
    monkeypatch.setattr(dw, "function_app_webhooks", lambda clients, target: world.webhooks)
    outputs = {"ALERT_ACTION_GROUP_NAME": "ag-bluegreen-tok", "ALERT_ACTION_GROUP_SHORT_NAME": "bluegreen"}
    assert hook.main([], world.hook_env(**outputs)) == 0
    first = capsys.readouterr()
    assert hook.main([], world.hook_env(**outputs)) == 0
    second = capsys.readouterr()
    group = world.clients.monitor(world.target.subscription).action_groups.get(
        world.target.resource_group, "ag-bluegreen-tok"
    )
    assert group.group_short_name == "bluegreen"  # the Bicep outputs' names
    lines = second.out.strip().splitlines()
    assert len(lines) == 5 and all(line.startswith("unchanged") for line in lines[:-1])
    assert lines[-1] == "postdeploy: 1 environments; 4 unchanged"
    assert "created      metric_alert bluegreen-" in first.out
    printed = first.out + first.err + second.out + second.err
    for secret in (EVENTGRID_KEY, ALERTS_KEY, "code="):
        assert secret not in printed


def test_a_missing_setting_exits_1_naming_it_without_a_stack_trace(tmp_path: Path, capsys) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "BLUEGREEN_"))}
    env.update(AZURE_SUBSCRIPTION_ID="5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23", AZURE_RESOURCE_GROUP="rg")
    done = subprocess.run([sys.executable, str(HOOK)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "AZURE_FUNCTION_APP_NAME not set" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "environments.json"
    bad.write_text(json.dumps({"environment": [{"name": "Bad Name"}]}))
    env.update(AZURE_FUNCTION_APP_NAME="func", BLUEGREEN_CONFIG=str(bad))
    assert load_hook().main([], env) == 1
    err = capsys.readouterr().err
    assert "environment.0.name" in err and "Traceback" not in err


def test_unreadable_keys_or_live_cluster_exit_1_naming_what(make_world, monkeypatch, capsys) -> None:
    world = make_world()
    hook = load_hook()
    # The emulated Azure has no Microsoft.Web: the real key lookup (azure-mgmt-web) fails, naming the app.
    assert hook.main([], world.hook_env()) == 1
    err = capsys.readouterr().err
    assert "cannot read the keys of Function App func-nod-test" in err and "Traceback" not in err
    config = json.loads(world.stack.config_file.read_text())
    config["environment"][0]["front_door"]["id"] += "-gone"
    world.stack.config_file.write_text(json.dumps(config))
    monkeypatch.setattr(dw, "function_app_webhooks", lambda clients, target: world.webhooks)
    assert hook.main([], world.hook_env()) == 1
    out, err = capsys.readouterr()
    [line] = [line for line in out.splitlines() if line.startswith("failed") and "environment" in line]
    assert "nod-prod" in line and "its live cluster cannot be read from Front Door" in line
    assert "failed: see the lines marked failed above" in err and "Traceback" not in err
