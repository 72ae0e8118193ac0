"""Shared helpers: hosts that are always stopped, and a tiny urllib HTTP client."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from local.clock import VirtualClock
from local.functions_host import LocalHost

APPS = Path(__file__).resolve().parent.parent / "apps"
MGMT = "/runtime/webhooks/durabletask"


def call(method, url, body=None, headers=None, raw=None):
    """(status, headers, parsed JSON or text). `body` is sent as JSON, `raw` as-is."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None and "Content-Type" not in (headers or {}):
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, got, text = response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        status, got, text = error.code, dict(error.headers), error.read().decode()
    try:
        return status, got, json.loads(text) if text else None
    except ValueError:
        return status, got, text


def start(host, name, body=None, instance_id=None):
    path = f"{host.base_url}{MGMT}/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    status, _, payload = call("POST", path, body)
    assert status == 202, payload
    return payload["id"]


def event_types(host, instance_id):
    from local.functions_host.history import type_name

    return [type_name(e) for e in host.history(instance_id)]


@pytest.fixture
def make_host():
    hosts = []

    def factory(app="orchestrations.py", clock="virtual", **kwargs):
        chosen = VirtualClock() if clock == "virtual" else clock
        host = LocalHost(app=APPS / app if isinstance(app, str) else app, clock=chosen, **kwargs)
        hosts.append(host)
        return host.start()

    yield factory
    for host in hosts:
        host.stop()


@pytest.fixture
def durable_host(make_host):
    return make_host()
