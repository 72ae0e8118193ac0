"""AzureEmulator: the emulated Azure as one object, usable in-process from tests and behind the CLI."""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from local.azure_emulator import gitrepos, kube, workload_access
from local.azure_emulator.aks import Aks
from local.azure_emulator.aks_actions import AksActions
from local.azure_emulator.aks_profiles import AksProfiles
from local.azure_emulator.alerts import Alerts
from local.azure_emulator.arm_providers import ArmProviders
from local.azure_emulator.arm_seed import QUOTA_TYPE, RESOURCE_TYPE, ArmSeeder
from local.azure_emulator.authorization import Authorization
from local.azure_emulator.catalogue import Catalogue
from local.azure_emulator.control import ControlApi
from local.azure_emulator.extensions import Extensions
from local.azure_emulator.faults import RequestFault, compile_pattern, default_error
from local.azure_emulator.flux_api import FluxConfigurations
from local.azure_emulator.flux_state import view as flux_view
from local.azure_emulator.frontdoor_classic import FrontDoorClassic
from local.azure_emulator.frontdoor_std import FrontDoorStd
from local.azure_emulator.grant_targets import GrantTargets
from local.azure_emulator.hooks import RequestHook
from local.azure_emulator.identity_seed import PRINCIPAL_TYPE
from local.azure_emulator.kconfig import view as extension_view
from local.azure_emulator.kubectl_render import object_json
from local.azure_emulator.managed_identity import ManagedIdentity
from local.azure_emulator.metrics import Metrics
from local.azure_emulator.ops_api import OperationsApi
from local.azure_emulator.seed import OBJECTS_TYPE, Seeder
from local.azure_emulator.server import Dispatcher, HttpsServer
from local.azure_emulator.timings import Timings
from local.azure_emulator.traffic import Traffic
from local.azure_emulator.world import World, ingress_ip
from local.clock import Clock, RealClock

# The operation paths Front Door writes start (an origin's id, a classic Front Door's id).
FRONT_DOOR_WRITE_PATH = (
    r"/providers/microsoft\.(cdn/profiles/[^/]+/origingroups/[^/]+/origins|network/frontdoors)/[^/]+$"
)


class AzureEmulator:
    def __init__(
        self,
        clock: Clock | None = None,
        timings: Timings | None = None,
        seed: list[dict[str, Any]] | None = None,
        request_rate: float = 100.0,
        catalogue: Catalogue | None = None,
    ) -> None:
        clock = clock or RealClock()
        timings = timings or (Timings.realistic() if clock.virtual else Timings.fast())
        self.clock = clock
        self.world = World(clock, timings, catalogue or Catalogue.default(), request_rate)
        aks = Aks(self.world)
        self._std = FrontDoorStd(self.world)
        self._classic = FrontDoorClassic(self.world)
        self._traffic = Traffic(self.world, self._std)
        self._alerts = Alerts(self._traffic)
        # Event Grid, Insights, Network, Compute usages (arm_providers).
        self.arm = ArmProviders(self.world, self._alerts)
        self._seeder = Seeder(self.world, self._std, self._classic, ArmSeeder(self.arm))
        routes = (
            aks.routes()
            + AksActions(aks).routes()
            + AksProfiles(aks).routes()
            + Extensions(self.world).routes()
            + FluxConfigurations(self.world).routes()
            + OperationsApi(self.world).routes()
            + self._std.routes()
            + self._classic.routes()
            + Metrics(self._traffic).routes()
            + Authorization(self.world).routes()
            + ManagedIdentity(self.world).routes()
            + GrantTargets(self.world).routes()
            + self.arm.routes()
        )
        self._dispatcher = Dispatcher(self.world, routes, ControlApi(self))
        self._server = HttpsServer(self._dispatcher)
        self.ca_bundle = self._server.ca_bundle
        self.port = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        clock.add_wakeup_source(self.next_event_time)
        clock.add_advance_listener(self._alerts.evaluate)
        if seed:
            self.seed(seed)

    # -- lifecycle -------------------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> AzureEmulator:
        self.port = self._server.start(port)
        if not self.clock.virtual:
            # A real clock never calls listeners: a ticker evaluates alerts and delivers webhooks instead.
            self._ticker = threading.Thread(target=self._tick, name="azure-emulator-alerts", daemon=True)
            self._ticker.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.stop()

    def __enter__(self) -> AzureEmulator:
        return self if self.port else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            self._alerts.evaluate(self.clock.now())
            self._alerts.flush()

    @property
    def arm_endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def metrics_endpoint(self) -> str:
        return self.arm_endpoint

    def app_settings(self) -> dict[str, str]:
        """The app settings that point a Function App at this emulated Azure (see bluegreen/azure.py)."""
        return {
            "BLUEGREEN_AZURE_MODE": "emulated",
            "BLUEGREEN_ARM_ENDPOINT": self.arm_endpoint,
            "BLUEGREEN_METRICS_ENDPOINT": self.metrics_endpoint,
            "BLUEGREEN_CA_BUNDLE": str(self.ca_bundle),
            "BLUEGREEN_PROBE_BASE": f"{self.arm_endpoint}/_probe",
            "BLUEGREEN_KEYVAULT_BASE": f"{self.arm_endpoint}/_keyvault",
        }

    # -- resources -----------------------------------------------------------------------------------------------

    def seed(self, body_or_list: dict[str, Any] | list[dict[str, Any]]) -> None:
        self._seeder.seed(body_or_list)

    def resources(self) -> list[dict[str, Any]]:
        with self.world.lock:
            self.world.settle()
            now = self.world.now()
            bodies = [c.body for c in self.world.clusters.values()]
            bodies += [self._std._view(b) for b in self.world.afd.values()]
            bodies += list(self.world.classic.values())
            bodies += [extension_view(b) for b in self.world.extensions.values()]
            bodies += [flux_view(c, self.world, now) for c in self.world.flux.values()]
            bodies += self.world.directory.bodies()
            bodies += self.arm.views()
            return sorted((copy.deepcopy(b) for b in bodies), key=lambda b: str(b.get("id", "")).lower())

    def snapshot(self) -> list[dict[str, Any]]:
        """The world as seed items: seeding them into a new emulator rebuilds it (what `serve --state` keeps).

        resources() plus what no ARM GET shows: each cluster's applied Kubernetes objects, git repositories, Key
        Vault secrets (current versions), principals no resource owns, emulator/resource items and compute quotas.
        Not kept: operations in flight (found finished), Front Door propagation in progress (found deployed),
        metrics history, faults, hooks, alert rules and DNS bindings (bind_host again).
        """
        with self.world.lock:
            items = self.resources()
            world, directory = self.world, self.world.directory
            for cluster in world.clusters.values():
                applied = [o.manifest for o in cluster.kube.items.values() if o.owner is None]
                applied.sort(key=lambda m: m.get("kind") != "Namespace")  # namespaces before what is in them
                if applied:
                    items.append({"type": OBJECTS_TYPE, "id": f"{cluster.id}/kubernetesObjects", "items": applied})
            for repo in world.git.values():
                refs = {
                    what: {n: {"paths": p} for n, p in getattr(repo, what).items()} for what in ("branches", "tags")
                }
                items.append({"type": gitrepos.PSEUDO_TYPE, "url": repo.url, **refs, "private": repo.private})
                items[-1]["credentials"] = dict(repo.credentials)
            vaults = {b["name"].lower(): b["id"] for b in directory.resources.values() if "/vaults/" in b["id"].lower()}
            for versions in world.secrets.values():
                latest = versions[-1]
                if latest.vault in vaults:
                    items.append(
                        {
                            "id": f"{vaults[latest.vault]}/secrets/{latest.name}",
                            "type": "Microsoft.KeyVault/vaults/secrets",
                            "properties": {
                                "value": latest.value,
                                "contentType": latest.content_type,
                                "tags": dict(latest.tags),
                                "attributes": {"enabled": latest.enabled},
                            },
                        }
                    )
            owned = {i.principal_id.lower() for i in directory.identities.values()}
            for principal in directory.principals.values():
                if principal.until is None and principal.object_id not in owned:
                    items.append(
                        {
                            "type": PRINCIPAL_TYPE,
                            "id": principal.object_id,
                            "principalType": principal.kind,
                            "displayName": principal.name,
                            "appId": principal.app_id,
                        }
                    )
            items += [{**copy.deepcopy(b), "type": RESOURCE_TYPE} for b in world.arm.declared.values()]
            for (sub, location), limits in world.arm.compute_limits.items():
                other = world.arm.compute_other.get((sub, location), {})
                items.append(
                    {
                        "type": QUOTA_TYPE,
                        "subscription": sub,
                        "location": location,
                        "limits": limits,
                        "otherUsage": other,
                    }
                )
            return copy.deepcopy(items)

    # -- Kubernetes objects --------------------------------------------------------------------------------------

    def apply_objects(self, cluster_name: str, objects: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
        """What `kubectl apply -f` of these objects does on the cluster (a deployment pipeline's step).

        In order; a namespaced object needs its namespace (earlier in the list, or already there). Workloads
        are available Timings.rollout later, while the cluster runs and its workloads are ready. Returns
        {"exitCode", "output": ["deployment.apps/web created", ...], "errors": [...]}. A cluster that is not
        running refuses the connection (ValueError), as the API server of a stopped cluster does.
        """
        if isinstance(objects, dict) and "kind" not in objects and isinstance(objects.get("items"), list):
            objects = objects["items"]
        items = objects if isinstance(objects, list) else [objects]
        with self.world.lock:
            now = self.world.settle()
            cluster = self._cluster(cluster_name)
            if not self.world.signals_for(cluster.name).serving.at(now):
                fqdn = cluster.props.get("fqdn", cluster.name)
                raise ValueError(f"Unable to connect to the server: dial tcp: lookup {fqdn}: no such host")
            return kube.apply(self.world, cluster, items, now).as_dict()

    def kubernetes_objects(self, cluster_name: str) -> list[dict[str, Any]]:
        """Every object the cluster holds, as `kubectl get -o json` prints it now (with status)."""
        with self.world.lock:
            now = self.world.settle()
            cluster = self._cluster(cluster_name)
            signals = self.world.signals_for(cluster.name)
            return [object_json(o, cluster, signals, now) for o in cluster.kube.select()]

    def _cluster(self, cluster_name: str) -> Any:
        cluster = self.world.cluster_named(cluster_name)
        if cluster is None:
            raise KeyError(f"no managed cluster named {cluster_name}")
        return cluster

    # -- identities and access ----------------------------------------------------------------------------------

    def has_role(self, principal_id: str, role: str, scope: str) -> bool:
        """Effective access now: does the principal hold the role (its GUID, or a role definition id) at `scope`
        or an ancestor of it (after Timings.rbac_propagation)?"""
        with self.world.lock:
            return self.world.directory.holds(principal_id, role, scope, self.world.settle())

    def blocked_workloads(self, cluster_name: str) -> list[dict[str, Any]]:
        """The cluster's workloads Azure keeps from running now, and why: [{namespace, kind, name, reasons}]
        (images the kubelet may not pull, tokens the workload may not get; workload_access)."""
        with self.world.lock:
            return workload_access.report(self.world, self._cluster(cluster_name), self.world.settle())

    def requests(self) -> list[dict[str, Any]]:
        return self._dispatcher.requests()

    def clear_requests(self) -> None:
        self._dispatcher.clear_requests()

    # -- faults and conditions -----------------------------------------------------------------------------------

    def inject_fault(
        self,
        status: int = 429,
        count: int = 1,
        method: str | None = None,
        path_pattern: str | None = None,
        retry_after: int = 1,
        exclude_pattern: str | None = None,
    ) -> None:
        """The next `count` ARM requests that match answer `status` (429 or 500, with Retry-After), one each.

        `path_pattern` / `exclude_pattern` are regexes searched in the path, e.g. "metrics:getBatch" to
        target the metrics data plane, or exclude_pattern="metrics:getBatch" for everything but it.
        """
        if status not in (429, 500):
            raise ValueError("status must be 429 or 500")
        code, message = default_error(status)
        fault = RequestFault(
            status,
            count,
            code,
            message,
            method=method,
            pattern=compile_pattern(path_pattern),
            exclude=compile_pattern(exclude_pattern),
            retry_after=retry_after,
        )
        self._dispatcher.faults.add(fault)

    def fail_front_door_writes(
        self,
        count: int = 1,
        status: int = 500,
        code: str | None = None,
        message: str | None = None,
        kind: str = "response",
        retry_after: int | None = None,
    ) -> None:
        """The next `count` Front Door writes (origin PUT/PATCH, classic frontDoors PUT) fail, changing nothing.

        kind "response": answered with `status` and an ARM error body (code from the status unless given).
        kind "operation": accepted as ARM accepts an async write (201/202 with Azure-AsyncOperation); the
        operation ends Failed with `code` / `message` and the change is never applied, propagated or routed to.
        """
        if kind not in ("response", "operation"):
            raise ValueError("kind must be 'response' or 'operation'")
        default_code, default_message = default_error(status)
        code, message = code or default_code, message or default_message
        if kind == "operation":
            if count < 1:
                raise ValueError("count must be at least 1")
            with self.world.lock:
                self.world.ops.fail_next(FRONT_DOOR_WRITE_PATH, code, message, count)
            return
        if retry_after is None and status in (429, 503):
            retry_after = 1  # ARM sends Retry-After with throttling; the SDK waits it out
        fault = RequestFault(status, count, code, message, retry_after=retry_after, front_door_only=True)
        self._dispatcher.faults.add(fault)

    def fail_next_operation(
        self,
        path_pattern: str | None = None,
        code: str = "UpgradeFailed",
        message: str = "The operation failed (injected by the emulated Azure).",
    ) -> None:
        with self.world.lock:
            self.world.ops.fail_next(path_pattern, code, message)

    def fail_probes(self, host: str | None = None, status: int | None = 503, count: int | None = None) -> None:
        """Smoke probes of `host` (every host when None) answer `status`; None drops the connection, so the
        probe gets no answer at all. `count` probes, or every one until clear_probe_faults() when None."""
        self._dispatcher.faults.add_probe(host, status, count)

    def clear_probe_faults(self) -> None:
        self._dispatcher.faults.clear_probes()

    def clear_faults(self) -> None:
        """Forget every pending fault: request faults, Front Door write faults, probe faults, failing operations."""
        self._dispatcher.faults.clear()
        with self.world.lock:
            self.world.ops.clear_fail_rules()

    def on_request(
        self,
        callback: Callable[[dict[str, Any]], Any],
        *,
        method: str | None = None,
        path_pattern: str | None = None,
        once: bool = True,
        drop_response: bool = False,
    ) -> RequestHook:
        """Call `callback(entry)` in the request's thread after an ARM request matching `method` /
        `path_pattern` (a regex searched in the path) was applied and logged, before its response is sent.

        `entry` is (a copy of) its request-log entry. With `once`, only the first matching request. With
        `drop_response`, the connection is then closed without an answer, as when the caller died in flight.
        A callback that raises is reported (stderr, `hook_error` in the log entry) and the request is answered.
        Returns the hook: `.calls`, `.errors`, `.remove()`.
        """
        hook = RequestHook(callback, method, compile_pattern(path_pattern), once, drop_response)
        return self._dispatcher.hooks.add(hook)

    def clear_request_hooks(self) -> None:
        self._dispatcher.hooks.clear()

    def set_error_fraction(self, cluster_name: str, fraction: float) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        with self.world.lock:
            self.world.signals_for(cluster_name).error_fraction.set(self.world.now(), float(fraction))

    def set_latency(self, cluster_name: str, milliseconds: float, at: datetime | None = None) -> None:
        """The cluster's origin latency (ms) from `at` (now when None; never in the past, which metrics already
        saw) on: what Front Door's latency window compares (traffic) and OriginLatency / BackendRequestLatency
        report. Until set, each cluster has a fixed 20-40 ms of its own (world.default_latency)."""
        if not math.isfinite(milliseconds) or milliseconds < 0:
            raise ValueError("milliseconds must be a non-negative number")
        with self.world.lock:
            now = self.world.now()
            moment = now if at is None else at
            if moment.tzinfo is None:
                raise ValueError("at must be an aware datetime")
            if moment < now:
                raise ValueError("at must not be in the past")
            self.world.signals_for(cluster_name).latency.set(moment, float(milliseconds))

    def set_workloads_ready(self, cluster_name: str, ready: bool) -> None:
        with self.world.lock:
            self.world.signals_for(cluster_name).ready.set(self.world.now(), bool(ready))

    def set_propagation_delay(self, seconds: float) -> None:
        with self.world.lock:
            self.world.propagation = float(seconds)

    def bind_host(self, host_name: str, cluster_name: str) -> None:
        with self.world.lock:
            self.world.dns[host_name.lower()] = cluster_name.lower()
            self.world.signals_for(cluster_name)

    def cluster_ingress_ip(self, cluster_name: str) -> str:
        with self.world.lock:
            self.world.signals_for(cluster_name)  # makes the IP resolvable to this cluster
        return ingress_ip(cluster_name)

    # -- alerts --------------------------------------------------------------------------------------------------

    def add_alert_rule(
        self,
        name: str,
        scope_id: str,
        threshold_percent: float,
        window_minutes: int = 5,
        webhook_url: str = "",
        frequency_minutes: int = 1,
    ) -> None:
        if not webhook_url:
            raise ValueError("webhook_url is required")
        self._alerts.add_rule(name, scope_id, threshold_percent, webhook_url, window_minutes, frequency_minutes)

    def free_addresses(self, subnet_id: str) -> int:
        """Usable addresses of a subnet nobody holds now (AKS node pools, with surge nodes while upgrading)."""
        return self.arm.free_addresses(subnet_id)

    def trust_webhook_ca(self, ca_file: str) -> None:
        """Let Event Grid's validation handshake verify HTTPS endpoints whose certificates this CA issued."""
        self.arm.handshake.trust_ca(ca_file)

    def flush_webhooks(self) -> int:
        return self._alerts.flush()

    def pending_webhooks(self) -> int:
        return self._alerts.pending()

    def next_event_time(self) -> datetime | None:
        """The next moment something changes by itself: an operation ends, a timer (Flux) is due, or a Front
        Door change reaches another edge (world.next_propagation). What is due by now is applied first, so an
        ended operation nobody has looked at yet does not hide the events after it."""
        with self.world.lock:
            self.world.settle()
            return self.world.next_event()
