"""`python -m bluegreen emulator`: serve the emulated Azure until SIGINT/SIGTERM.

`--state FILE`: start from the world saved there (AzureEmulator.snapshot(), as seed items), and save it there on
exit, so a restart serves the same world.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from local.azure_emulator.seed import SeedError, load_file
from local.clock import make_clock


def run(args: argparse.Namespace) -> int:
    from local.azure_emulator.emulator import AzureEmulator

    resources: list[dict[str, Any]] = []
    state = getattr(args, "state", None)
    try:
        if state and Path(state).is_file():
            resources += load_file(state)
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
        if state:
            Path(state).write_text(json.dumps(emulator.snapshot()), encoding="utf-8")
        emulator.stop()
    return 0
