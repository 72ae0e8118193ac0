"""The whole app over real HTTP: local Functions host + emulated Azure on one virtual clock.

A `Stack` is what an operator (or Azure) sees: /api routes, the Event Grid webhook, and the
run's status. Idle hooks act at a phase (the host calls them before it moves virtual time).
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bluegreen import azure as azure_settings
from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.functions_host import LocalHost
from local.rehearsal.world import Estate, build_estate, environment_config, load_blue
from triggers.alerts import forget_raised

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ALICE = "alice@example.com"  # starts runs
BOB = "bob@example.com"  # approves them


def fixture(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / name).read_text(encoding="utf-8"))


def principal_headers(name: str, *, with_blob: bool = False) -> dict[str, str]:
    headers = {"X-MS-CLIENT-PRINCIPAL-NAME": name, "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}
    if with_blob:
        claims = {"auth_typ": "aad", "name_typ": "name", "claims": [{"typ": "name", "val": name}]}
        headers["X-MS-CLIENT-PRINCIPAL"] = base64.b64encode(json.dumps(claims).encode()).decode()
    return headers


def http(url: str, method: str = "GET", body: Any = None, raw: bytes | None = None, headers: dict | None = None):
    """(status, parsed JSON or text)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text) if text else None
    except ValueError:
        return status, text


class Stack:
    def __init__(self, tmp_path: Path, **overrides: Any) -> None:
        self.clock = VirtualClock()
        self.estate: Estate = build_estate(load_blue(None), "standard")
        self.env = self.estate.environment
        self.app_insights_id = (
            f"/subscriptions/{self.estate.subscription}/resourceGroups/{self.estate.resource_group}"
            f"/providers/microsoft.insights/components/appi-{self.env}"
        )
        config = environment_config(self.estate, "create-at-target", approval=overrides.pop("approval", "auto"))
        environment = config["environment"][0]
        environment["approval"]["four_eyes"] = overrides.pop("four_eyes", False)
        extra_settings = overrides.pop("app_settings", {})
        # Changes to the seeded estate before the emulator starts: (resource type suffix, change) pairs.
        for suffix, change in overrides.pop("estate_changes", []):
            for resource in self.estate.resources:
                if str(resource.get("type", "")).lower().endswith(suffix.lower()):
                    change(resource)
        # Short runs: a 3-minute bake, blue kept (nothing to stop), frequent polls.
        environment.update(
            bake={"window_minutes": 3, "interval_minutes": 1, "max_error_rate": 0.5, "min_requests": 0},
            retire={"mode": "keep"},
            poll_seconds=10,
            app_insights_id=self.app_insights_id,
        )
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(environment.get(key), dict):
                environment[key] = {**environment[key], **value}
            else:
                environment[key] = value
        self.config_file = tmp_path / "environments.json"
        self.config_file.write_text(json.dumps(config))
        self.emulator = AzureEmulator(clock=self.clock, seed=self.estate.resources).start()
        self.emulator.bind_host(self.estate.hosts["blue"], self.estate.blue_name)
        self.emulator.bind_host(self.estate.hosts["green"], self.estate.green_name)
        azure_settings.use_sleep(self.clock.sleep)
        azure_settings.reset_clients()  # settings point at this test's emulator
        forget_raised()
        settings = {**self.emulator.app_settings(), "BLUEGREEN_CONFIG": str(self.config_file), **extra_settings}
        self.host = LocalHost(app=str(ROOT / "function_app.py"), clock=self.clock, env=settings).start()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.host.stop()
        self.emulator.stop()
        azure_settings.use_sleep(None)
        azure_settings.reset_clients()

    # ---- doors

    def api(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None, user: str | None = ALICE):
        headers = principal_headers(user) if user else {}
        return http(f"{self.host.base_url}/api/{path.lstrip('/')}", method, body, raw, headers)

    def start(self, user: str = ALICE, **body: Any) -> str:
        status, payload = self.api("POST", "upgrades", {"environment": self.env, **body}, user=user)
        assert status == 202, payload
        return payload["runId"]

    def eventgrid(self, body: Any, function: str = "aks_lifecycle_events", headers: dict | None = None):
        url = f"{self.host.base_url}/runtime/webhooks/eventgrid?functionName={function}"
        return http(url, "POST", body, headers=headers)

    # ---- observing

    def status(self, instance_id: str) -> dict[str, Any]:
        return self.host.get_status(instance_id) or {}

    def phase(self, instance_id: str) -> str | None:
        return (self.status(instance_id).get("customStatus") or {}).get("phase")

    def finish(self, instance_id: str, timeout: float = 60) -> dict[str, Any]:
        return self.host.wait_for(instance_id, timeout=timeout)

    def at_phase(self, phase: str, action: Callable[[str], Any], run: Callable[[], str | None]) -> dict[str, Any]:
        """Once, when run()'s instance reaches `phase`: action(instance_id); the result is kept in the dict."""
        done: dict[str, Any] = {}

        def hook() -> bool:
            instance_id = run()
            if "result" in done or not instance_id:
                return False
            status = self.status(instance_id)
            if status.get("runtimeStatus") != "Running" or self.phase(instance_id) != phase:
                return False
            done["result"] = action(instance_id)
            return True

        self.host.add_idle_hook(hook)
        return done

    def rewrite_ids(self, payload: Any) -> Any:
        """A sample from the shared estate, with its subscription, group and names made this estate's."""
        text = json.dumps(payload)
        replacements = {
            "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23": self.estate.subscription,
            "rg-nod-prod": self.estate.resource_group,
            "aks-nod-prod-blue": self.estate.blue_name,
            "aks-nod-prod-green": self.estate.green_name,
            "afd-nod-prod": self.estate.front_door_id.rsplit("/", 1)[-1],
            "appi-nod-prod": f"appi-{self.env}",
        }
        for old, new in replacements.items():
            text = text.replace(old, new)
        return json.loads(text)


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    stacks: list[Stack] = []

    def factory(**overrides: Any) -> Stack:
        stack = Stack(tmp_path, **overrides)
        stacks.append(stack)
        return stack

    yield factory
    for stack in stacks:
        stack.close()


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()
