"""`python -m bluegreen serve`: the local Functions host for a function app, with the emulated Azure by default."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from local.clock import make_clock
from local.functions_host.app_index import AppLoadError
from local.functions_host.host import LocalHost


def _start_emulator(clock: Any, seed: list[str]) -> tuple[Any, dict[str, str]]:
    """The emulated Azure in this process, sharing the clock; None if it cannot be started."""
    try:
        from local.azure_emulator import AzureEmulator  # imported lazily: only `--azure emulated` needs it
        from local.azure_emulator.seed import load_file
    except ImportError as exc:
        print(f"warning: emulated Azure unavailable ({exc}); serving without it", file=sys.stderr)
        return None, {}
    resources = [body for path in seed for body in load_file(path)]
    emulator = AzureEmulator(clock=clock, seed=resources).start(port=0)
    env = emulator.app_settings()
    print(f"Emulated Azure: ARM {emulator.arm_endpoint}  metrics {emulator.metrics_endpoint}", flush=True)
    return emulator, env


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app_path = Path(args.app)
    if not app_path.is_file():
        print(f"error: function app file not found: {app_path}", file=sys.stderr)
        return 2
    clock = make_clock(args.clock)
    emulator, env = None, {"BLUEGREEN_AZURE_MODE": "azure"}
    if args.azure == "emulated":
        try:
            emulator, env = _start_emulator(clock, getattr(args, "seed", []) or [])
        except ValueError as exc:  # SeedError: a seed file that is not ARM JSON
            print(f"error: bad seed file {exc}", file=sys.stderr)
            return 2
    host = LocalHost(app=app_path, state=args.state, clock=clock, port=args.port, env=env)
    try:
        host.start()
    except (AppLoadError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if emulator is not None:
            emulator.stop()
        return 2
    print("\n".join(host.routes), flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        host.stop()
        if emulator is not None:
            emulator.stop()
    print("Functions host stopped.", flush=True)
    return 0
