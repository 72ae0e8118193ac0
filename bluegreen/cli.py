"""Command line: `emulator`, `serve`, `plan`, `simulate`. The offline stack is imported only when asked for."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _emulator(args: argparse.Namespace) -> int:
    from local.azure_emulator.cli import run

    return run(args)


def _serve(args: argparse.Namespace) -> int:
    from local.functions_host.cli import run

    return run(args)


def _simulate(args: argparse.Namespace) -> int:
    from local.rehearsal.cli import run

    return run(args)


def _plan(args: argparse.Namespace) -> int:
    from bluegreen.plan_command import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bluegreen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="serve the emulated Azure over HTTPS")
    emulator.add_argument("--port", type=int, default=0, help="0 picks a free port")
    emulator.add_argument(
        "--seed", action="append", default=[], metavar="FILE", help="ARM JSON (one resource or a list)"
    )
    emulator.add_argument("--clock", choices=["real", "virtual"], default="real")
    emulator.set_defaults(handler=_emulator)

    serve = commands.add_parser("serve", help="run the Function App on the local Functions host")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--app", default="function_app.py", metavar="PATH", help="function app file")
    serve.add_argument("--azure", choices=["emulated", "real"], default="emulated")
    serve.add_argument("--state", default=":memory:", metavar="FILE", help="SQLite file for instance state")
    serve.add_argument("--clock", choices=["real", "virtual"], default="real")
    serve.add_argument("--seed", action="append", default=[], metavar="FILE", help="seed the emulated Azure")
    serve.set_defaults(handler=_serve)

    plan = commands.add_parser("plan", help="show what a run would do, without writing anything")
    from bluegreen.plan_command import add_arguments

    add_arguments(plan)
    plan.set_defaults(handler=_plan)

    simulate = commands.add_parser("simulate", help="rehearse a blue/green upgrade on the emulated Azure")
    simulate.set_defaults(handler=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if args.command == "simulate":
        # The rehearsal owns its options; they are parsed by local.rehearsal.cli.
        args.argv = list(extra)
    elif extra:
        print(f"unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    result: int = args.handler(args)
    return result
