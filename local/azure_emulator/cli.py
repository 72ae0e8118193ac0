"""`python -m bluegreen emulator`: serve the emulated Azure until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from local.azure_emulator.seed import SeedError, load_file
from local.clock import make_clock


def run(args: argparse.Namespace) -> int:
    from local.azure_emulator.emulator import AzureEmulator

    resources: list[dict[str, Any]] = []
    try:
        for path in getattr(args, "seed", None) or []:
            resources += load_file(path)
    except SeedError as exc:
        print(f"emulator: bad seed file {exc}", file=sys.stderr)
        return 2
    emulator = AzureEmulator(clock=make_clock(getattr(args, "clock", "real") or "real"), seed=resources)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator.start(port=int(getattr(args, "port", 0) or 0))
    line = {
        "arm_endpoint": emulator.arm_endpoint,
        "metrics_endpoint": emulator.metrics_endpoint,
        "ca_bundle": emulator.ca_bundle,
    }
    print(json.dumps(line), flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0
