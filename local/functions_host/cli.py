"""`python -m bluegreen serve`: the local Functions host for a function app, with the emulated Azure by default.

The emulated Azure is seeded from the environments file (`--config`, else BLUEGREEN_CONFIG, else
./environments.toml), validated first: for each environment its live cluster (the rehearsal's bundled cluster,
renamed into the environment's first slot) behind its Front Door, with its application, grants and wiring, and
its origins' host names resolvable. Without a file there, the rehearsal's bundled estate and its environment are
served (as `simulate` uses them). With a `--state` file the emulated Azure is kept beside it
(`<state>.emulator.json`, written every few seconds and on exit) and a restart resumes against the same world.

`--clock virtual`: the SDK's waits (pollers, Retry-After) move the shared virtual clock, so AKS operations end
while an activity waits for them; time jumps to the next durable timer when nothing is runnable, and stands
still while a run awaits a person's decision (`awaiting` in its custom status), as a real clock would until
its deadline.

Exit status: 0 stopped by SIGTERM, 130 stopped by Ctrl-C (SIGINT), 2 it could not start (bad input).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from local.clock import VirtualClock, make_clock
from local.functions_host.app_index import AppLoadError
from local.functions_host.host import LocalHost

SAVE_EVERY_SECONDS = 5.0
# The example callers of the walk-through: one starts the run, the other approves it (four-eyes).
INITIATOR = "alice@example.com"
APPROVER = "bob@example.com"


@dataclass
class World:
    """What serve seeds and prints: the environments and the estate each one is served with."""

    config: str | None = None  # the environments file the app reads (BLUEGREEN_CONFIG)
    environments: list[Any] = field(default_factory=list)  # bluegreen.config.Environment
    estates: list[Any] = field(default_factory=list)  # local.rehearsal.world.Estate, one per environment
    bundled: bool = False  # no environments file: the rehearsal's estate and environment
    resumed: bool = False  # the emulated Azure was restored from beside --state


class BadInput(Exception):
    pass


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if not verbose:  # the SDKs log every request and its headers at INFO
        for name in ("azure", "azure.core.pipeline.policies.http_logging_policy", "azure.identity", "urllib3"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _environments(args: argparse.Namespace, emulated: bool, workdir: Path | None = None) -> World:
    """The environments file, validated (BadInput names every problem); the bundled one when there is none."""
    from bluegreen.check_config import config_path, problems
    from bluegreen.config import DEFAULT_CONFIG_FILE, load_environments

    given = args.config or os.environ.get("BLUEGREEN_CONFIG")
    path = config_path(given)
    if given is None and not Path(path).is_file():
        if not emulated:
            return World()
        from local.rehearsal.world import build_estate, environment_config, load_blue

        estate = build_estate(load_blue(None), "standard")
        bundled = (workdir or Path(tempfile.mkdtemp(prefix="bluegreen-serve-"))) / "environments.json"
        bundled.write_text(json.dumps(environment_config(estate, "clone-then-upgrade"), indent=2), encoding="utf-8")
        print(
            f"No {DEFAULT_CONFIG_FILE} here: serving the rehearsal's bundled estate ({bundled})",
            flush=True,
        )
        return World(str(bundled), list(load_environments(bundled).environment), [estate], bundled=True)
    found = problems(path)
    if found:
        raise BadInput("\n".join(found))
    environments = list(load_environments(path).environment)
    world = World(str(Path(path).resolve()), environments)
    if emulated:
        from local.rehearsal.world import estate_for_environment

        world.estates = [estate_for_environment(env) for env in environments]
    return world


def _state_file(state: str) -> Path | None:
    return None if state == ":memory:" else Path(f"{state}.emulator.json")


def _start_emulator(clock: Any, world: World, args: argparse.Namespace) -> Any:
    """The emulated Azure in this process, sharing the clock: resumed from beside --state, else seeded."""
    from local.azure_emulator import AzureEmulator  # imported lazily: only `--azure emulated` needs it
    from local.azure_emulator.seed import SeedError, load_file
    from local.rehearsal.world import bind_hosts

    saved = _state_file(args.state)
    emulator = AzureEmulator(clock=clock)
    if saved is not None and saved.is_file():
        try:
            emulator.seed(json.loads(saved.read_text(encoding="utf-8"))["resources"])
        except (OSError, ValueError, KeyError, TypeError) as exc:  # SeedError is a ValueError
            raise BadInput(f"{saved}: cannot resume from it ({exc}); remove it to start afresh") from None
        world.resumed = True
        print(f"Emulated Azure: resumed from {saved}", flush=True)
    else:
        try:
            if not args.no_estate:
                for estate in world.estates:
                    emulator.seed(estate.resources)
            for path in args.seed or []:
                emulator.seed(load_file(path))
        except SeedError as exc:
            raise BadInput(f"bad seed: {exc}") from None
    for estate in world.estates:  # every origin group's host names resolve to the cluster behind each origin
        bind_hosts(emulator, estate)
    emulator.start(port=0)
    print(f"Emulated Azure: ARM {emulator.arm_endpoint}  metrics {emulator.metrics_endpoint}", flush=True)
    return emulator


def _clock(kind: str, state: str) -> Any:
    """A virtual clock resumes where the saved world was; a real one is the wall clock."""
    saved = _state_file(state)
    if kind == "virtual" and saved is not None and saved.is_file():
        try:
            return VirtualClock(datetime.fromisoformat(json.loads(saved.read_text(encoding="utf-8"))["clock"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{saved}: cannot resume from it ({exc}); remove it to start afresh") from None
    return make_clock(kind)


class _Saver:
    """Keeps the emulated Azure beside the host's state (atomically), when it changed."""

    def __init__(self, emulator: Any, file: Path | None) -> None:
        self.emulator, self.file, self._last = emulator, file, ""

    def save(self) -> None:
        if self.emulator is None or self.file is None:
            return
        text = json.dumps({"clock": self.emulator.clock.now().isoformat(), "resources": self.emulator.snapshot()})
        if text == self._last:
            return
        partial = self.file.with_name(self.file.name + ".tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(self.file)
        self._last = text


def _hold_for_decisions(host: LocalHost) -> Any:
    """Idle hook: while a run awaits a person (its custom status says `awaiting`), virtual time stands still."""

    def hook() -> bool:
        store = host.store
        if store is None:
            return False
        try:
            rows = store.instances()
        except Exception:  # the store is closing
            return False
        for row in rows:
            if row["status"] not in ("Running", "Pending") or not row["custom_status"]:
                continue
            try:
                custom = json.loads(row["custom_status"])
            except ValueError:
                continue
            if isinstance(custom, dict) and custom.get("awaiting"):
                time.sleep(0.2)
                return True
        return False

    return hook


def _walkthrough(host: LocalHost, world: World) -> list[str]:
    if not world.environments:
        return []
    base = host.base_url
    lines = [f"Environments ({world.config}):"]
    from bluegreen.check_config import describe

    estates = {e.environment: e for e in world.estates}
    for env in world.environments:
        lines.append(f"  {describe(env)}")
        estate = estates.get(env.name)
        if estate is not None and world.resumed:
            lines.append(
                f"    emulated: as the last serve left it; GET {base}/api/environments/{env.name} shows what is live"
            )
        elif estate is not None:
            lines.append(
                f"    emulated: {estate.blue_name} live behind origin {estate.origins['blue']} "
                f"({estate.hosts['blue']}); {estate.green_name or 'a cluster named by the run'} in the idle slot"
            )
            if not estate.green_name and env.front_door.green_address == "fixed":
                lines.append("    note: green's origin host resolves only with front_door.green_address = 'discover'")
    name = world.environments[0].name
    body = json.dumps({"environment": name, "reason": "walk-through"})
    lines += [
        "",
        "Try it, from another terminal (the X-MS-CLIENT-PRINCIPAL-NAME header is what Easy Auth would inject;",
        "only this local host trusts it from a caller):",
        f"  curl -s -X POST {base}/api/upgrades -H 'Content-Type: application/json' \\",
        f"       -H 'X-MS-CLIENT-PRINCIPAL-NAME: {INITIATOR}' -d '{body}'",
        f"  python -m bluegreen runs watch --app {base} --environment {name}",
        f"  python -m bluegreen runs approve --app {base} --environment {name} --as {APPROVER} --comment 'looks good'",
        f"  python -m bluegreen runs list --app {base}",
    ]
    return lines


def run(args: argparse.Namespace) -> int:
    _logging(bool(getattr(args, "verbose", False)))
    args.config = getattr(args, "config", None)
    args.no_estate = bool(getattr(args, "no_estate", False))
    app_path = Path(args.app)
    if not app_path.is_file():
        print(f"error: function app file not found: {app_path}", file=sys.stderr)
        return 2
    emulated = args.azure == "emulated"
    emulator: Any = None
    try:
        world = _environments(args, emulated)
        clock = _clock(args.clock, args.state)
        env = {"BLUEGREEN_AZURE_MODE": "azure"}
        if emulated:
            emulator = _start_emulator(clock, world, args)
            env = emulator.app_settings()
    except BadInput as exc:
        for line in str(exc).splitlines():
            print(f"serve: {line}", file=sys.stderr)
        return 2
    if world.config:
        env["BLUEGREEN_CONFIG"] = world.config
    if clock.virtual:
        from bluegreen import azure as azure_settings

        azure_settings.use_sleep(clock.sleep)  # SDK pollers and Retry-After waits move virtual time
    host = LocalHost(app=app_path, state=args.state, clock=clock, port=args.port, env=env)
    if clock.virtual:
        host.add_idle_hook(_hold_for_decisions(host))
    try:
        host.start()
    except (AppLoadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if emulator is not None:
            emulator.stop()
        return 2
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, _: Any) -> None:
        signals.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    print("\n".join(host.routes), flush=True)
    walkthrough = _walkthrough(host, world) if emulated else []
    if walkthrough:
        print("\n".join(["", *walkthrough]), flush=True)
    saver = _Saver(emulator, _state_file(args.state))
    next_save = time.monotonic() + SAVE_EVERY_SECONDS
    try:
        while not stop.wait(0.25):
            if time.monotonic() >= next_save:
                saver.save()
                next_save = time.monotonic() + SAVE_EVERY_SECONDS
    finally:
        host.stop()
        saver.save()
        if emulator is not None:
            emulator.stop()
    print("Functions host stopped.", flush=True)
    code = 130 if signals and signals[0] == signal.SIGINT else 0
    if any(t.is_alive() and t.name.startswith("functions-host") for t in threading.enumerate()):
        # An activity still waits in a worker thread (a real-time SDK poll) that the interpreter would join at exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
