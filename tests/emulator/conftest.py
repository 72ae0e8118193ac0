"""Real Azure SDK clients wired to an in-process emulated Azure on a virtual clock (no sleeps, no mocks)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import RequestsTransport
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.frontdoor import FrontDoorManagementClient
from azure.monitor.querymetrics import MetricsClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arm"
SUB = "5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23"
RG = "rg-nod-prod"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / name).read_text())
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
