"""The composition point: credential and Azure SDK clients, built from settings alone.

Real Azure uses DefaultAzureCredential (managed identity in the Function App). The emulated Azure
differs only by endpoint, CA bundle and a static token, so every adapter runs the same code on both.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from azure.core.credentials import AccessToken, TokenCredential
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.pipeline.transport import RequestsTransport

# SDK-level retries for throttling and transient 5xx (honours Retry-After). Kept short: the
# orchestrator's own retry policies add minutes-scale retries on top, on durable timers.
SDK_RETRY: dict[str, Any] = {"retry_total": 4, "retry_backoff_factor": 0.8, "retry_backoff_max": 60}

PUBLIC_ARM_ENDPOINT = "https://management.azure.com"
# Front Door is a global resource: its metrics live behind the 'global' regional endpoint.
PUBLIC_METRICS_ENDPOINT = "https://global.metrics.monitor.azure.com"


@dataclass(frozen=True)
class AzureSettings:
    mode: str = "azure"  # "azure" | "emulated"
    arm_endpoint: str = PUBLIC_ARM_ENDPOINT
    metrics_endpoint: str = PUBLIC_METRICS_ENDPOINT
    ca_bundle: str | None = None
    # Emulated only: the emulated Azure also answers smoke probes, at {probe_base}/{host}{path}.
    probe_base: str | None = None
    # Emulated only: Key Vault https://{vault}.vault.azure.net is served at {keyvault_base}/{vault}.
    keyvault_base: str | None = None
    # Where this Function App answers (Azure sets WEBSITE_HOSTNAME), for the callbacks it hands out.
    app_base_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AzureSettings:
        env = dict(os.environ) if env is None else env
        mode = env.get("BLUEGREEN_AZURE_MODE", "azure")
        if mode not in ("azure", "emulated"):
            raise ValueError(f"BLUEGREEN_AZURE_MODE must be 'azure' or 'emulated', not {mode!r}")
        return cls(
            mode=mode,
            arm_endpoint=env.get("BLUEGREEN_ARM_ENDPOINT", PUBLIC_ARM_ENDPOINT).rstrip("/"),
            metrics_endpoint=env.get("BLUEGREEN_METRICS_ENDPOINT", PUBLIC_METRICS_ENDPOINT).rstrip("/"),
            ca_bundle=env.get("BLUEGREEN_CA_BUNDLE") or None,
            probe_base=env.get("BLUEGREEN_PROBE_BASE") or None,
            keyvault_base=env.get("BLUEGREEN_KEYVAULT_BASE") or None,
            app_base_url=_app_base_url(env),
        )


def _app_base_url(env: dict[str, str]) -> str | None:
    host = env.get("WEBSITE_HOSTNAME")
    if not host:
        return None
    local = host.split(":", 1)[0] in ("localhost", "127.0.0.1")
    return f"{'http' if local else 'https'}://{host}"


class StaticTokenCredential:
    """A fixed bearer token: what the emulated Azure accepts (any token will do there)."""

    def __init__(self, token: str = "emulated") -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)


class _SleepHookTransport(RequestsTransport):
    """RequestsTransport whose waits (Retry-After, poller delays) go through a replaceable sleep.

    azure-core sleeps only through `transport.sleep`, so a virtual clock can make those waits free.
    """

    def __init__(self, sleep: Callable[[float], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sleep = sleep

    def sleep(self, duration: float) -> None:
        self._sleep(duration)


_sleep_override: Callable[[float], None] | None = None


def use_sleep(sleep: Callable[[float], None] | None) -> None:
    """Seam for the offline stack: route SDK waits through a (virtual) clock. None restores time.sleep."""
    global _sleep_override
    _sleep_override = sleep
    reset_clients()


class ReadOnly(SansIOHTTPPolicy):
    """Refuses every request that is not a read, before it leaves: how `plan` guarantees it never writes."""

    def on_request(self, request: Any) -> None:
        method = request.http_request.method.upper()
        if method not in ("GET", "HEAD"):
            url = request.http_request.url.split("?", 1)[0]
            raise WriteRefused(f"read-only clients refuse {method} {url}")


class WriteRefused(RuntimeError):
    pass


class AzureClients:
    """SDK clients per subscription, made once and reused across activity invocations (warm starts).

    `read_only`: every client refuses writes (ReadOnly), for the plan's reads of real Azure.
    """

    def __init__(
        self, settings: AzureSettings, credential: TokenCredential | None = None, *, read_only: bool = False
    ) -> None:
        self.settings = settings
        self.read_only = read_only
        self._credential = credential
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}

    @cached_property
    def credential(self) -> TokenCredential:
        if self._credential is not None:
            return self._credential
        if self.settings.mode == "emulated":
            return StaticTokenCredential()
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()

    def _client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(SDK_RETRY)
        if self.read_only:
            kwargs["per_call_policies"] = [ReadOnly()]
        transport_kwargs: dict[str, Any] = {}
        if self.settings.ca_bundle:
            transport_kwargs["connection_verify"] = self.settings.ca_bundle
        sleep = _sleep_override
        if sleep is not None:
            kwargs["transport"] = _SleepHookTransport(sleep, **transport_kwargs)
        elif transport_kwargs:
            kwargs["transport"] = RequestsTransport(**transport_kwargs)
        return kwargs

    def _cached(self, kind: str, key: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            client = self._cache.get((kind, key))
            if client is None:
                client = self._cache[(kind, key)] = build()
            return client

    def _arm(self, client_class: type, subscription: str) -> Any:
        """An ARM management client of that class for one subscription, made once."""
        return self._cached(
            client_class.__name__,
            subscription,
            lambda: client_class(
                self.credential, subscription, base_url=self.settings.arm_endpoint, **self._client_kwargs()
            ),
        )

    def containers(self, subscription: str) -> Any:
        from azure.mgmt.containerservice import ContainerServiceClient

        return self._arm(ContainerServiceClient, subscription)

    def cdn(self, subscription: str) -> Any:
        from azure.mgmt.cdn import CdnManagementClient

        return self._arm(CdnManagementClient, subscription)

    def frontdoor(self, subscription: str) -> Any:
        from azure.mgmt.frontdoor import FrontDoorManagementClient

        return self._arm(FrontDoorManagementClient, subscription)

    def kubernetes_configuration(self, subscription: str) -> Any:
        from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient

        return self._arm(SourceControlConfigurationClient, subscription)

    def authorization(self, subscription: str) -> Any:
        from azure.mgmt.authorization import AuthorizationManagementClient

        return self._arm(AuthorizationManagementClient, subscription)

    def identities(self, subscription: str) -> Any:
        from azure.mgmt.msi import ManagedServiceIdentityClient

        return self._arm(ManagedServiceIdentityClient, subscription)

    def eventgrid(self, subscription: str) -> Any:
        from azure.mgmt.eventgrid import EventGridManagementClient

        return self._arm(EventGridManagementClient, subscription)

    def monitor(self, subscription: str) -> Any:
        from azure.mgmt.monitor import MonitorManagementClient

        return self._arm(MonitorManagementClient, subscription)

    def network(self, subscription: str) -> Any:
        from azure.mgmt.network import NetworkManagementClient

        return self._arm(NetworkManagementClient, subscription)

    def compute(self, subscription: str) -> Any:
        from azure.mgmt.compute import ComputeManagementClient

        return self._arm(ComputeManagementClient, subscription)

    def secrets(self, vault_url: str) -> Any:
        """A Key Vault SecretClient for `https://{vault}.vault.azure.net` (or the emulated one)."""
        from azure.keyvault.secrets import SecretClient

        url, options = vault_url, {}
        if self.settings.keyvault_base:
            vault = vault_url.split("//", 1)[-1].split(".", 1)[0]
            url = f"{self.settings.keyvault_base.rstrip('/')}/{vault}"
            # The emulated vault is not at *.vault.azure.net: its challenge names a resource elsewhere.
            options["verify_challenge_resource"] = False
        return self._cached(
            "secrets", url, lambda: SecretClient(url, self.credential, **options, **self._client_kwargs())
        )

    def metrics(self) -> Any:
        from azure.monitor.querymetrics import MetricsClient

        return self._cached(
            "metrics",
            "",
            lambda: MetricsClient(self.settings.metrics_endpoint, self.credential, **self._client_kwargs()),
        )


_clients: AzureClients | None = None
_clients_lock = threading.Lock()


def clients() -> AzureClients:
    """The process-wide clients, from the app settings (environment) at first use."""
    global _clients
    with _clients_lock:
        if _clients is None:
            _clients = AzureClients(AzureSettings.from_env())
        return _clients


def reset_clients() -> None:
    """Forget cached clients (settings changed, e.g. a test pointed the app at another emulator)."""
    global _clients
    with _clients_lock:
        _clients = None
