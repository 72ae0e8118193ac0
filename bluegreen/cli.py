"""Command line: `emulator`, `serve`, `plan`, `simulate`, `runs`, `check-config`. The offline stack is imported only
when asked for."""

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
    # Parsed here, not in build_parser: the plan's imports (the Azure SDKs) are for `plan` alone.
    from bluegreen import plan_command
    from bluegreen.runs_command import CliError, normalize_version

    parser = argparse.ArgumentParser(prog="python -m bluegreen plan", description=plan_command.__doc__)
    plan_command.add_arguments(parser)
    options = parser.parse_args(args.argv)
    if options.target_version:  # `v1.33` is 1.33, as for `simulate` and `runs start`
        try:
            options.target_version = normalize_version(options.target_version, "--target-version")
        except CliError as exc:
            print(f"plan: {exc}", file=sys.stderr)
            return 2
    return plan_command.run(options)


def _runs(args: argparse.Namespace) -> int:
    from bluegreen.runs_command import run

    return run(args)


def _check_config(args: argparse.Namespace) -> int:
    from bluegreen.check_config import run

    return run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bluegreen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    emulator = commands.add_parser("emulator", help="serve the emulated Azure over HTTPS")
    emulator.add_argument("--port", type=int, default=0, help="0 picks a free port")
    emulator.add_argument(
        "--seed", action="append", default=[], metavar="FILE", help="ARM JSON (one resource or a list)"
    )
    emulator.add_argument("--clock", choices=["real", "virtual"], default="real", help="default: real")
    emulator.add_argument("--state", metavar="FILE", help="start from the world saved in FILE; save it there on exit")
    emulator.set_defaults(handler=_emulator)

    serve = commands.add_parser(
        "serve", help="run the Function App on the local Functions host", description=_SERVE_DESCRIPTION
    )
    serve.add_argument("--port", type=int, default=7071, help="default: 7071; 0 picks a free port")
    serve.add_argument("--app", default="function_app.py", metavar="PATH", help="function app file")
    serve.add_argument("--azure", choices=["emulated", "real"], default="emulated", help="default: emulated")
    serve.add_argument(
        "--config", metavar="FILE", help="environments file (default: BLUEGREEN_CONFIG, else ./environments.toml)"
    )
    serve.add_argument(
        "--state",
        default=":memory:",
        metavar="FILE",
        help="SQLite file for instance state; the emulated Azure is kept beside it (FILE.emulator.json)",
    )
    serve.add_argument("--clock", choices=["real", "virtual"], default="real", help="default: real")
    serve.add_argument("--seed", action="append", default=[], metavar="FILE", help="also seed the emulated Azure")
    serve.add_argument(
        "--no-estate", action="store_true", help="do not seed the environments' estate (only --seed files)"
    )
    serve.add_argument("--verbose", action="store_true", help="log the Azure SDKs' requests too")
    serve.set_defaults(handler=_serve)

    plan = commands.add_parser("plan", help="show what a run would do, without writing anything", add_help=False)
    plan.set_defaults(handler=_plan)  # its options (and --help) are parsed by _plan

    # The rehearsal owns its options (and its --help): local.rehearsal.cli parses them.
    simulate = commands.add_parser(
        "simulate", help="rehearse a blue/green upgrade on the emulated Azure", add_help=False
    )
    simulate.set_defaults(handler=_simulate)

    from bluegreen import runs_command

    runs = commands.add_parser(
        "runs",
        help="list, watch and decide on runs through the operator API",
        description=runs_command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    runs_command.add_arguments(runs)
    runs.set_defaults(handler=_runs)

    check = commands.add_parser("check-config", help="validate an environments file (exit 0 ok, 2 with every problem)")
    from bluegreen.check_config import add_arguments as add_check_arguments

    add_check_arguments(check)
    check.set_defaults(handler=_check_config)
    return parser


_SERVE_DESCRIPTION = (
    "Serve the Function App on the local Functions host, by default with the emulated Azure seeded from the "
    "environments file (validated first; without one, the rehearsal's bundled estate). Exit status: 0 stopped "
    "(SIGTERM), 130 interrupted (Ctrl-C), 2 bad input."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command in ("simulate", "plan"):
        # These own their options; they are parsed by the command (local.rehearsal.cli, _plan).
        args.argv = list(extra)
    elif extra:
        print(f"{parser.prog} {args.command}: error: unrecognized arguments: {' '.join(extra)}", file=sys.stderr)
        return 2
    try:
        result: int = args.handler(args)
    except KeyboardInterrupt:  # Ctrl-C before a command installed its own handling: no stack trace
        print("interrupted", file=sys.stderr)
        return 130
    return result
