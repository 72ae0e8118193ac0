"""Drive one rehearsal: emulated Azure + local host on one virtual clock, through the app's own doors.

The driver plays the operator: it starts the run, approves (or not) when the run waits for
approval, injects the scenario's fault at the right phase, and, for `crash-resume`, kills the
host after the switch and starts a new one on the same SQLite state.

A rehearsal may be several runs one after another on the same environment (`Options.sequence`; the
`revert` scenario is an upgrade, then a revert to the cluster it retired): each step's faults target
that run's green, which alternates between the two slots.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluegreen import azure as azure_settings
from bluegreen.config import DEFAULT_START_ON
from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.functions_host import LocalHost
from local.rehearsal.faults import FaultPlan
from local.rehearsal.notifications import NotificationReceiver
from local.rehearsal.pipeline import IDENTITY, KEY_SETTING, PipelineReceiver
from local.rehearsal.report import live_cluster
from local.rehearsal.world import (
    Estate,
    application_objects,
    bind_hosts,
    build_estate,
    environment_config,
    load_blue,
    repository_item,
)
from triggers.alerts import forget_raised
from triggers.decisions import EventAction, event_action

SCENARIOS = (
    "happy",
    "reject",
    "approval-timeout",
    "upgrade-fails",
    "verify-fails",
    "populate-fails",
    "pipeline",
    "error-spike",
    "gradual",
    "gradual-spike",
    "crash-resume",
    "revert",
)
# Scenarios that are several runs: each step is a scenario of one run (`revert`: go back to the retained cluster).
SEQUENCES = {"revert": ("happy", "revert")}
STEPS = (*(s for s in SCENARIOS if s not in SEQUENCES and s != "crash-resume"), "revert")
ORCHESTRATOR = "bluegreen_upgrade"
# The switch of the gradual scenarios: 10%, 50%, then all of the traffic, each step analysed for 10 minutes, on
# 5xx share and on origin latency against blue's (the clusters' latencies differ by less than 20 ms).
GRADUAL_SWITCH = {"mode": "gradual", "steps": [10, 50, 100], "step_minutes": 10, "analysis": {"max_latency_ratio": 3}}
# Green's 5xx share once the gradual-spike scenario's errors rise (at the 50% step).
SPIKE_ERROR_FRACTION = 0.3
# Operators' identities as App Service Authentication would pass them (the rehearsal's caller).
INITIATOR = "rehearsal-initiator@example.com"
APPROVER = "rehearsal-approver@example.com"


@dataclass
class Options:
    scenario: str = "happy"
    blue_cluster: str | None = None
    target_version: str | None = None
    strategy: str = "clone-then-upgrade"
    front_door: str = "standard"
    origin_groups: int = 1  # origin groups (classic: backend pools) the environment switches together
    event_file: str | None = None  # start through the Event Grid webhook with this file
    alert_file: str | None = None  # deliver this alert to /api/alerts once the run bakes
    fault: str | None = None  # PHASE:FAULT (local/rehearsal/faults.py), injected when the run enters PHASE
    wall_timeout: float = 120.0
    # Several runs on one environment, in order (each one of STEPS); None: the scenario's own (one run).
    sequence: tuple[str, ...] | None = None
    # Called with the rehearsal once the emulated Azure and the host are up, before the first run.
    before: Callable[[Any], None] | None = None
    # Called with the rehearsal and each run's result once it has ended, while the host still runs.
    after_each: Callable[[Any, dict[str, Any]], None] | None = None


@dataclass
class Observed:
    """What the driver saw, for the report."""

    instance_id: str | None = None
    not_started_reason: str | None = None
    printed: int = 0
    crashed: bool = False
    injected: bool = False
    spiked: bool = False  # the scenario's fault (error spike, unready workloads) was injected
    alert_sent_wall: float | None = None
    fault_injected_at: str | None = None  # virtual time the --fault was injected
    restarts: int = 0  # hosts started after a kill


class Rehearsal:
    def __init__(self, options: Options, on_timeline: Callable[[dict[str, Any]], None] | None = None) -> None:
        if options.scenario not in SCENARIOS:
            raise ValueError(f"--scenario must be one of {', '.join(SCENARIOS)}")
        self.steps: tuple[str, ...] = options.sequence or SEQUENCES.get(options.scenario) or (options.scenario,)
        bases = [step.partition("@")[0] for step in self.steps]  # "happy@1.33": that scenario, to that target
        unknown = [s for s in bases if s not in STEPS and not (len(bases) == 1 and s in SCENARIOS)]
        if unknown:
            raise ValueError(f"sequence steps must be among {', '.join(STEPS)}; not {', '.join(unknown)}")
        self.step = bases[0]  # the scenario of the run in progress
        self.step_target: str | None = None  # its target version, when the step names one
        self.fault = FaultPlan.parse(options.fault) if options.fault else None
        self.options = options
        self.on_timeline = on_timeline or (lambda entry: None)
        self.clock = VirtualClock()
        self.estate: Estate = build_estate(
            load_blue(options.blue_cluster), options.front_door, origin_groups=options.origin_groups
        )
        self.workdir = Path(tempfile.mkdtemp(prefix="bluegreen-rehearsal-"))
        self.state_file = str(self.workdir / "host.sqlite")
        self.observed = Observed()
        self.emulator: AzureEmulator | None = None
        self.host: LocalHost | None = None
        self.pipeline = PipelineReceiver().start() if "pipeline" in bases else None
        self.notifications = NotificationReceiver(now=self.clock.now).start()  # Teams, Slack and a signed webhook
        self.results: list[dict[str, Any]] = []  # each run's result, in order
        self.green = self.estate.green_name  # the cluster the run in progress creates (or reverts to)
        self._crash = threading.Event()
        self._restarted = threading.Event()  # set when a host was killed and a new one started
        self._injecting = threading.Lock()
        self._printing = threading.Lock()  # the idle hook (host thread) and the main thread both print

    # ---- set-up

    def _start_emulator(self) -> AzureEmulator:
        emulator = AzureEmulator(clock=self.clock, seed=self.estate.resources).start()
        if self.fault is not None:
            emulator.on_request(self._watch_requests, path_pattern="^/subscriptions/", once=False)
        bind_hosts(emulator, self.estate)  # every origin group's host names
        return emulator

    def green_of_next_run(self) -> str:
        """The slot the next run creates green in (or reverts to): the one Front Door does not send traffic to."""
        assert self.emulator is not None
        live = live_cluster(self.emulator, self.estate)
        live_name = live["cluster"] if live else self.estate.blue_name
        return self.estate.blue_name if live_name == self.estate.green_name else self.estate.green_name

    def _prepare_step(self) -> None:
        """The world as the step's scenario needs it, and nothing left over from the step before."""
        assert self.emulator is not None
        for name in (self.estate.blue_name, self.estate.green_name):
            self.emulator.set_error_fraction(name, 0.0)
            self.emulator.set_workloads_ready(name, True)
        self.observed = Observed(
            printed=0, restarts=self.observed.restarts, fault_injected_at=self.observed.fault_injected_at
        )
        self.green = self.green_of_next_run()
        if self.step == "upgrade-fails":
            # The first node-pool upgrade of green ends Failed (operation paths are "<cluster id>/<kind>").
            self.emulator.fail_next_operation(
                path_pattern=f"managedClusters/{self.green}/agentPools/",
                code="UpgradeFailed",
                message="node drain timed out after 30 minutes",
            )

    def _app_settings(self, emulator: AzureEmulator) -> dict[str, str]:
        config = self.workdir / "environments.json"
        settings = {**emulator.app_settings(), "BLUEGREEN_CONFIG": str(config)}
        workloads = None
        if self.pipeline is not None:
            # The team's pipeline deploys to green; the app signs its notice with a key from an app setting.
            workloads = {
                "mode": "pipeline",
                "pipeline": {"url": self.pipeline.url, "secret": f"appsetting:{KEY_SETTING}", "callers": [IDENTITY]},
            }
            settings[KEY_SETTING] = self.pipeline.key
        environments = environment_config(self.estate, self.options.strategy, workloads=workloads)
        if any(step.startswith("gradual") for step in self.steps):
            environments["environment"][0]["switch"] = dict(GRADUAL_SWITCH)
        # Every rehearsal's environment notifies all three channels of local/rehearsal/notifications.py.
        environments["environment"][0]["notifications"] = self.notifications.targets()
        settings.update(self.notifications.app_settings())
        config.write_text(json.dumps(environments))
        return settings

    def _start_host(self, settings: dict[str, str]) -> LocalHost:
        host = LocalHost(app=str(Path.cwd() / "function_app.py"), state=self.state_file, clock=self.clock, env=settings)
        host.add_idle_hook(self._on_idle)
        return host.start()

    # ---- the operator

    def _request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None, raw: bytes | None = None
    ) -> tuple[int, Any]:
        assert self.host is not None
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.host.base_url + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                return error.code, json.loads(raw) if raw else None
            except ValueError:
                return error.code, raw.decode(errors="replace")

    def _status(self) -> dict[str, Any] | None:
        if self.host is None or self.observed.instance_id is None:
            return None
        return self.host.get_status(self.observed.instance_id)

    def _on_idle(self) -> bool:
        """Called by the host before it moves virtual time: act like the operator would, now."""
        if self._crash.is_set():
            # This host is about to be killed: hold virtual time (True) until the driver has done it;
            # the operator acts on the next host.
            self._restarted.wait(0.05)
            return True
        status = self._status()
        if not status:
            return False
        custom = status.get("customStatus") or {}
        self._print_new_timeline(custom.get("timeline") or [])
        if status.get("runtimeStatus") != "Running":
            return False
        phase = custom.get("phase")
        scenario = self.step
        if self._inject_fault_in(phase):
            return True
        if scenario == "populate-fails" and phase == "clone" and not self.observed.spiked:
            self.observed.spiked = True  # the team's repository went private: green's Flux cannot fetch it
            self._make_repository_private()
            return True
        if self.pipeline is not None and phase == "populate" and self._play_pipeline():
            return True
        if scenario == "verify-fails" and phase in ("clone", "upgrade") and not self.observed.spiked:
            assert self.emulator is not None
            self.observed.spiked = True  # green's workloads never become ready
            self.emulator.set_workloads_ready(self.green, False)
            return True
        if phase == "approval" and not self.observed.injected and scenario != "approval-timeout":
            # As an operator would: if the decision did not get through (the host was dying), try again.
            self.observed.injected = self._decide(approve=scenario != "reject")
            return True
        if phase == "bake" and scenario == "error-spike" and not self.observed.spiked:
            assert self.emulator is not None
            self.observed.spiked = True
            self.emulator.set_error_fraction(self.green, SPIKE_ERROR_FRACTION)
            return True
        step_percent = (custom.get("progress") or {}).get("percent")
        if phase == "switch" and scenario == "gradual-spike" and step_percent == 50 and not self.observed.spiked:
            assert self.emulator is not None
            self.observed.spiked = True  # green's errors rise as the 50% step begins
            self.emulator.set_error_fraction(self.green, SPIKE_ERROR_FRACTION)
            return True
        if phase == "bake" and self.options.alert_file and self.observed.alert_sent_wall is None:
            self._deliver_alert()
            return True
        if self.emulator is not None and self.emulator.pending_webhooks():
            self.emulator.flush_webhooks()  # the emulated Azure Monitor posts its alerts to /api/alerts
            return True
        if phase == "bake" and scenario == "crash-resume" and not self.observed.crashed:
            self.observed.crashed = True
            self._crash.set()
            return True
        return False

    # ---- the scenarios' world: a repository that goes private, a pipeline that deploys

    def _make_repository_private(self) -> None:
        assert self.emulator is not None
        repository = repository_item(self.estate)
        if repository is not None:
            self.emulator.seed({**repository, "private": True, "credentials": {"httpsUser": "git", "httpsKey": "x"}})

    def _play_pipeline(self) -> bool:
        """The pipeline's job for a notice it received: deploy blue's application to green, then call back."""
        assert self.pipeline is not None and self.emulator is not None
        notice = self.pipeline.take()
        if notice is None:
            return False
        green = notice["green"]["name"]
        objects = application_objects(self.emulator.kubernetes_objects(self.estate.blue_name), self.estate)
        self.emulator.apply_objects(green, objects)
        status, body = self._request(
            "POST",
            f"/api/upgrades/{notice['runId']}/green-ready",
            {"ok": True, "detail": f"deployed {len(objects)} objects to {green}"},
            _as(IDENTITY),
        )
        if status != 202:
            print(f"warning: green-ready was refused: {status} {body}", file=sys.stderr)
        return True

    # ---- the --fault, injected when the run is seen in its phase: idle, or making an ARM request

    def _inject_fault_in(self, phase: str | None) -> bool:
        with self._injecting:
            if self.fault is None or phase != self.fault.run_phase or self.observed.fault_injected_at is not None:
                return False
            self.observed.fault_injected_at = self.clock.now().isoformat()
        self.fault.fault.inject(self)
        return True

    def _watch_requests(self, entry: dict[str, Any]) -> None:
        """Every ARM request: a phase the run passes through without ever waiting still gets its fault."""
        if self.fault is None or self.observed.fault_injected_at is not None or self.host is None:
            return
        try:
            status = self._status()
        except Exception:  # a killed store: the next host will be watched again
            return
        self._inject_fault_in(((status or {}).get("customStatus") or {}).get("phase"))

    # ---- crashes (the crash-resume scenario, and the kill faults)

    def request_crash(self) -> None:
        """Kill the host at the next chance the driver gets (it waits idle: nothing is in flight)."""
        self._crash.set()

    def crash_now(self) -> None:
        """Kill the host here and now, from any thread: from this instant nothing more is persisted."""
        if self.host is not None and self.host.store is not None:
            self.host.store.kill()
        self._crash.set()

    def _decide(self, approve: bool) -> bool:
        """Approve or reject through the operator API, as a second person (four-eyes); True if taken."""
        assert self.observed.instance_id is not None
        verb = "approve" if approve else "reject"
        comment = "rehearsal: looks good" if approve else "rehearsal says no"
        try:
            status, body = self._request(
                "POST", f"/api/upgrades/{self.observed.instance_id}/{verb}", {"comment": comment}, _as(APPROVER)
            )
        except OSError:  # the host went away under the request
            return False
        if status == 202 and (body or {}).get("result") == "taken":
            return True
        if status in (202, 500, 503):  # accepted but not seen taken, or the host was dying: look again
            return False
        raise RuntimeError(f"{verb} was refused: {status} {body}")

    def _deliver_alert(self) -> None:
        assert self.options.alert_file is not None
        payload = Path(self.options.alert_file).read_bytes()
        self.observed.alert_sent_wall = time.time()
        status, body = self._request("POST", "/api/alerts", raw=payload)
        if status >= 400:  # the run goes on to its outcome; say why the alert changed nothing
            print(f"warning: /api/alerts refused {self.options.alert_file}: {status} {body}", file=sys.stderr)

    def _start_run(self) -> None:
        if self.step == "revert":
            status, body = self._request(
                "POST",
                f"/api/environments/{self.estate.environment}/revert",
                {"reason": "rehearsal: revert"},
                _as(INITIATOR),
            )
            if status != 202:
                raise RuntimeError(f"could not start the revert: {status} {body}")
            self.observed.instance_id = body["runId"]
            return
        if self.options.event_file and not self.results:
            self._start_from_event()
            return
        request = {
            "environment": self.estate.environment,
            "targetVersion": self.step_target or self.options.target_version,
            "strategy": self.options.strategy,
            "reason": f"rehearsal: {self.step}",
        }
        status, body = self._request("POST", "/api/upgrades", {k: v for k, v in request.items() if v}, _as(INITIATOR))
        if status != 202:
            raise RuntimeError(f"could not start the run: {status} {body}")
        self.observed.instance_id = body["runId"]

    def _start_from_event(self) -> None:
        """Deliver the file through the Event Grid webhook, then see whether it started a run."""
        assert self.options.event_file is not None
        raw = Path(self.options.event_file).read_bytes()
        status, body = self._request(
            "POST",
            "/runtime/webhooks/eventgrid?functionName=aks_lifecycle_events",
            raw=raw,
            headers={"aeg-event-type": "Notification"},
        )
        if status >= 300:
            raise RuntimeError(f"the Event Grid delivery failed: {status} {body}")
        _, runs = self._request("GET", f"/api/upgrades?environment={self.estate.environment}")
        started = (runs or {}).get("runs") or []
        if started:
            self.observed.instance_id = started[0]["id"]
        else:
            self.observed.not_started_reason = why_not_started(raw, self.estate)

    def _print_new_timeline(self, timeline: list[dict[str, Any]]) -> None:
        with self._printing:
            for entry in timeline[self.observed.printed :]:
                self.on_timeline(entry)
            self.observed.printed = max(self.observed.printed, len(timeline))
            for received in self.notifications.take_new():  # after the entry of the moment it tells
                self.on_timeline(received.entry())

    # ---- the run

    def run(self) -> dict[str, Any]:
        """Every step's run, one after another; the result of the last (all of them in `self.results`)."""
        # A rehearsal is a fresh deployment: the alert door's memory of deliveries starts empty (runs of
        # earlier rehearsals in this process had the same ids at the same virtual instants).
        forget_raised()
        self.emulator = self._start_emulator()
        azure_settings.use_sleep(self.clock.sleep)
        settings = self._app_settings(self.emulator)
        try:
            self.host = self._start_host(settings)
            if any(step.startswith("error-spike") for step in self.steps):
                # Azure Monitor watches the Front Door too; its rule (10% over 5 min) fires after the
                # bake's one-minute metric check has already rolled back, so the trigger is `metrics`.
                self.emulator.add_alert_rule(
                    "afd-5xx", self.estate.front_door_id, 10.0, webhook_url=f"{self.host.base_url}/api/alerts"
                )
            if self.options.before is not None:
                self.options.before(self)
            result: dict[str, Any] = {}
            for step in self.steps:
                scenario, _, target = step.partition("@")
                self.step, self.step_target = scenario, target or None
                self._prepare_step()
                result = self._run_one(settings)
                self.results.append(result)
                if self.options.after_each is not None:
                    self.options.after_each(self, result)
            return result
        finally:
            if self.host is not None:
                self.host.stop()
            if self.pipeline is not None:
                self.pipeline.stop()
            self.notifications.stop()
            azure_settings.use_sleep(None)

    def _run_one(self, settings: dict[str, str]) -> dict[str, Any]:
        assert self.host is not None and self.emulator is not None
        started_wall = time.monotonic()
        started_virtual = self.clock.now()
        self._start_run()
        if self.observed.instance_id is None:
            return {
                "step": self.step,
                "outcome": "not_started",
                "reason": self.observed.not_started_reason,
                "final": None,
                "history_events": 0,
                "history_events_max_instance": 0,
                "virtual_seconds": 0.0,
                "wall_seconds": time.monotonic() - started_wall,
            }
        final = self._wait_for_outcome(settings)
        counts = self.host.history_counts(self.observed.instance_id)
        # What an operator sees of the finished run, through the app's own API.
        api_status, api = self._request("GET", f"/api/upgrades/{self.observed.instance_id}")
        output = (final or {}).get("output")
        self._print_new_timeline(output.get("timeline") or [] if isinstance(output, dict) else [])
        return {
            "step": self.step,
            "final": final,
            "history_events": counts["events"],
            "history_events_max_instance": counts["max_instance"],
            "instances": counts["instances"],
            "api": api if api_status == 200 else None,
            "virtual_seconds": (self.clock.now() - started_virtual).total_seconds(),
            "wall_seconds": time.monotonic() - started_wall,
            "alert_sent_wall": self.observed.alert_sent_wall,
        }

    def _wait_for_outcome(self, settings: dict[str, str]) -> dict[str, Any] | None:
        assert self.host is not None and self.observed.instance_id is not None
        deadline = time.monotonic() + self.options.wall_timeout
        while time.monotonic() < deadline:
            if self._crash.is_set():
                self.host.kill()
                self.host = self._start_host(settings)  # a new host on the same SQLite state
                self.observed.restarts += 1
                # Only now: until the new host is the driver's, its idle hook holds virtual time.
                self._crash.clear()
                self._restarted.set()
                continue
            try:
                return self.host.wait_for(self.observed.instance_id, timeout=0.2)
            except TimeoutError:
                continue
        raise TimeoutError(f"the run did not finish within {self.options.wall_timeout:.0f} s of wall time")


def _as(user: str) -> dict[str, str]:
    """The header App Service Authentication injects for a signed-in caller."""
    return {"X-MS-CLIENT-PRINCIPAL-NAME": user}


def why_not_started(raw: bytes, estate: Estate) -> str:
    """Explain, from the event itself, why the delivery started no run."""
    try:
        events = json.loads(raw)
    except ValueError:
        return "the event file is not JSON"
    event = (events[0] if isinstance(events, list) and events else events) or {}
    if not isinstance(event, dict):
        return "the event file holds no event"
    kind = str(event.get("eventType") or event.get("type") or "?")
    source = str(event.get("topic") or event.get("source") or "?")
    cluster = source.rstrip("/").rsplit("/", 1)[-1]
    if cluster.lower() != estate.blue_name.lower():
        return f"{kind} for cluster {cluster}, which is not the live cluster of any configured environment"
    short = kind.rsplit(".", 1)[-1]
    # The same rule the Event Grid trigger applies, with the rehearsal environment's (default) policy.
    action = event_action(short, DEFAULT_START_ON)
    if action == EventAction.NOT_A_STARTER:
        return f"{short} never starts a run"
    if action == EventAction.POLICY_SAYS_NO:
        return f"{short} does not start runs for {estate.environment} (policy.start_on)"
    return f"{short} for {cluster} started no run (a run was already in progress, or the event was seen before)"
