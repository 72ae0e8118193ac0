"""`python -m bluegreen plan`: what a run would do, read from Azure, with nothing written.

`--azure real` reads the subscription with DefaultAzureCredential (az login, a managed identity, ...);
`--azure emulated` reads the emulated Azure: the one BLUEGREEN_ARM_ENDPOINT points at, or an in-process one
seeded with `--seed` files (default: the rehearsal's bundled estate and its environments file). Either way
the clients refuse every write before it leaves (bluegreen.azure.ReadOnly).

Exit status: 0 the run can start, 1 a check blocks it, 2 the environment cannot be planned (bad input,
unknown environment, Azure refused a read).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bluegreen.azure import AzureClients, AzureSettings
from bluegreen.config import ConfigError, load_environments
from bluegreen.contract import PlanReport, Strategy, wire
from bluegreen.errors import BlueGreenError, classify
from bluegreen.inheritance import role_label


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--environment", required=True, metavar="NAME", help="the environment to plan")
    parser.add_argument(
        "--config", metavar="FILE", help="environments file (default: BLUEGREEN_CONFIG, else ./environments.toml)"
    )
    parser.add_argument("--target-version", metavar="V", help="MAJOR.MINOR[.PATCH] or latest (default: the policy's)")
    parser.add_argument("--strategy", choices=[s.value for s in Strategy], help="default: the environment's")
    parser.add_argument("--azure", choices=["emulated", "real"], default="real", help="which Azure to read")
    parser.add_argument("--seed", action="append", default=[], metavar="FILE", help="emulated: ARM JSON to seed")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def run(args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        try:
            clients, config = _azure(args, stack)
            env = load_environments(config).get(args.environment)
            if env is None:
                raise ConfigError(
                    f"--environment: no environment named {args.environment!r} in {config or 'the configuration'}"
                )
            strategy = Strategy(args.strategy) if args.strategy else None
            from bluegreen.planning import plan_report

            report = plan_report(clients, env, args.target_version, strategy)
        except ConfigError as exc:
            print(f"plan: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # an Azure refusal or an unreachable target: named, never a stack trace
            error = exc if isinstance(exc, BlueGreenError) else classify(exc)
            print(f"plan: {error.code}: {error.message}", file=sys.stderr)
            return 2
    print(json.dumps(wire(report), indent=2) if args.json else render(report))
    return 0 if report.ok else 1


def _azure(args: argparse.Namespace, stack: ExitStack) -> tuple[AzureClients, str | None]:
    if args.azure == "real":
        if args.seed:
            raise ConfigError("--seed: only with --azure emulated")
        return AzureClients(AzureSettings(mode="azure"), read_only=True), args.config
    if os.environ.get("BLUEGREEN_ARM_ENDPOINT") and not args.seed:
        return AzureClients(
            AzureSettings.from_env({**os.environ, "BLUEGREEN_AZURE_MODE": "emulated"}), read_only=True
        ), args.config
    return _in_process_emulator(args, stack)


def _in_process_emulator(args: argparse.Namespace, stack: ExitStack) -> tuple[AzureClients, str | None]:
    from local.azure_emulator import AzureEmulator

    config = args.config
    if args.seed:
        seed: list[dict[str, Any]] = []
        for file in args.seed:
            try:
                loaded = json.loads(Path(file).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"--seed {file}: {exc}") from None
            seed += loaded if isinstance(loaded, list) else [loaded]
    else:
        from local.rehearsal.world import build_estate, environment_config, load_blue

        estate = build_estate(load_blue(None), "standard")
        seed = estate.resources
        if config is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bluegreen-plan-")))
            config = str(folder / "environments.json")
            Path(config).write_text(json.dumps(environment_config(estate, "clone-then-upgrade")), encoding="utf-8")
    emulator = AzureEmulator(seed=seed).start()
    stack.callback(emulator.stop)
    return AzureClients(AzureSettings.from_env(emulator.app_settings()), read_only=True), config


def render(report: PlanReport) -> str:
    """The plan as an operator reads it: sides and versions, green's definition, inheritance, checks, writes."""
    lines = [
        f"Plan for {report.environment} ({report.strategy.value}): "
        + ("ready to run" if report.ok else "BLOCKED: the run would stop before any write"),
        "",
        f"  live     {report.blue.name} at {report.blue.version}, behind origin {report.live_origin}",
        f"  target   {report.target_version}",
        f"  green    {report.green.name}, created at {report.clone_version}"
        + (f", then {' -> '.join(report.upgrade_path)}" if report.upgrade_path else ""),
        f"  path     {report.blue.version} -> {' -> '.join(report.version_path)}",
        "",
        "Green's definition, against blue's:",
    ]
    width = max((len(c.field) for c in report.definition), default=10)
    for change in sorted(
        report.definition, key=lambda c: ({"changed": 0, "dropped": 1, "carried": 2}[c.change], c.field)
    ):
        values = (
            f"  ({_short(change.blue)} -> {_short(change.green)})"
            if change.change == "changed" and change.green is not None
            else ""
        )
        lines.append(f"  {change.change:<8} {change.field:<{width}}  {change.reason}{values}")
    inherited = report.inheritance
    lines += ["", "What green inherits:"]
    if not (inherited.grants or inherited.federations or inherited.wiring):
        lines.append("  nothing: blue's identities hold no grants, and no wiring names blue")
    for grant in inherited.grants:
        role = role_label(grant.role_definition_id)
        condition = " (with its condition)" if grant.condition else ""
        lines.append(f"  role assignment       {role} on {grant.scope}, for green's {grant.identity}{condition}")
    for federation in inherited.federations:
        identity = federation.identity_id.rsplit("/", 1)[-1]
        lines.append(
            f"  federated credential  {identity}/{federation.twin_name}: {federation.subject} on green's issuer"
        )
    for item in inherited.wiring:
        lines.append(f"  {item.kind.replace('_', ' '):<21} {item.twin_name}: twin of {item.source_id}")
    lines += ["", "Checks:"]
    lines += [f"  {c.status:<5}  {c.name}: {c.detail}" for c in report.checks]
    lines += ["", f"ARM writes the run will make ({len(report.writes)}), in order:"]
    lines += [f"  {w.method:<6} {w.resource}\n         {w.why}" for w in report.writes]
    return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."
