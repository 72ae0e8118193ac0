"""`python -m bluegreen simulate`: rehearse a blue/green upgrade on the emulated Azure.

By default the rehearsal's own estate and environment. `--config FILE --environment NAME` rehearses one of your
environments instead: the emulated Azure holds none of your clusters, so `--blue-cluster` (`az aks show -o json`
of the live one) is required and must be one of the environment's two clusters; it is seeded live behind its
origin, with the environment's Front Door (the other origin disabled, its slot empty), and the run uses your
environment's settings. The rehearsal plays the operator: its approver is added to `approval.approvers` when you
name approvers.

Exit status: 0 the run reached an outcome (unless `--fail-on-outcome` names it: then 1); 2 bad input.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bluegreen.runs_command import CliError, format_entry, normalize_version
from local.rehearsal.faults import FAULTS, PHASES, FaultPlan

# The driver (the emulated Azure, the host, the app) is imported once the options are known to be good:
# a mistyped flag is answered at once.

OUTCOMES = ("completed", "rolled_back", "rejected", "aborted", "failed", "not_started")
# The last phase each scenario reaches (the others reach retire); only error-spike rolls back.
LAST_PHASE = {
    "reject": "approval",
    "approval-timeout": "approval",
    "upgrade-fails": "upgrade",
    "verify-fails": "verify",
    "populate-fails": "populate",
}


class _Scenarios:
    """The driver's SCENARIOS, read when argparse first needs them (a choice to check, --help to print)."""

    def _names(self) -> tuple[str, ...]:
        from local.rehearsal.driver import SCENARIOS

        return SCENARIOS

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bluegreen simulate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--scenario",
        choices=_Scenarios(),
        metavar="SCENARIO",
        default=None,
        help="%(choices)s; default: happy (error-spike for a rollback fault)",
    )
    p.add_argument("--blue-cluster", metavar="FILE", help="`az aks show -o json` output or an ARM GET body")
    p.add_argument(
        "--target-version", metavar="V", help="MAJOR.MINOR[.PATCH] or latest, a leading v allowed (default: latest GA)"
    )
    p.add_argument(
        "--strategy",
        choices=["clone-then-upgrade", "create-at-target"],
        default=None,
        help="default: clone-then-upgrade (with --config: the environment's)",
    )
    p.add_argument(
        "--front-door", choices=["standard", "classic"], default=None, help="default: standard (not with --config)"
    )
    p.add_argument("--config", metavar="FILE", help="your environments file (with --environment and --blue-cluster)")
    p.add_argument(
        "--environment", metavar="NAME", help="rehearse this environment of --config (default file: environments.toml)"
    )
    p.add_argument("--event", metavar="FILE", help="start by delivering this Event Grid / CloudEvents file")
    p.add_argument("--alert", metavar="FILE", help="deliver this alert to /api/alerts once the run is baking")
    p.add_argument("--state-out", metavar="FILE", help="write every emulated ARM resource here at the end")
    p.add_argument(
        "--fault",
        metavar="PHASE:FAULT",
        help=f"inject a fault when the run enters PHASE ({', '.join(PHASES)}); FAULT one of {', '.join(FAULTS)}",
    )
    p.add_argument(
        "--fail-on-outcome",
        metavar="OUTCOME[,OUTCOME]",
        help=f"exit 1 when the run ends with one of these (for CI): {', '.join(OUTCOMES)}",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    return p


def _print_entry(entry: dict[str, Any]) -> None:
    print(format_entry(entry), flush=True)


def _rehearsal(options: Any, environment: Any, blue_file: str | None, on_timeline: Callable[..., None] | None) -> Any:
    """The rehearsal: of its own environment, or (with `environment`) of a configured one, whose estate and
    settings replace the rehearsal's own."""
    from local.rehearsal.driver import APPROVER, Rehearsal
    from local.rehearsal.world import estate_for_environment, load_blue

    if environment is None:
        return Rehearsal(options, on_timeline=on_timeline)

    class EnvironmentRehearsal(Rehearsal):
        def _app_settings(self, emulator: Any) -> dict[str, str]:
            settings = super()._app_settings(emulator)  # writes the rehearsal's file: replaced with the environment
            config = Path(settings["BLUEGREEN_CONFIG"])
            ours = json.loads(config.read_text(encoding="utf-8"))["environment"][0]
            env = environment.model_dump(mode="json", exclude_unset=True)
            approval = env.setdefault("approval", {})
            if approval.get("approvers"):
                approval["approvers"] = [*approval["approvers"], APPROVER]
            if self.pipeline is not None:  # the rehearsal plays the team's pipeline
                env["workloads"] = {**env.get("workloads", {}), **ours["workloads"]}
            if "notifications" in ours:  # the rehearsal's receivers, never the team's real channels
                env["notifications"] = ours["notifications"]
            config.write_text(json.dumps({"environment": [env]}), encoding="utf-8")
            return settings

    rehearsal = EnvironmentRehearsal(options, on_timeline)
    rehearsal.estate = estate_for_environment(environment, load_blue(blue_file))
    rehearsal.green = rehearsal.estate.green_name
    return rehearsal


def _environment(options: argparse.Namespace) -> Any:
    """The environment to rehearse (None: the rehearsal's own); CliError for what cannot be rehearsed."""
    if options.config is None and options.environment is None:
        return None
    from bluegreen.check_config import config_path, problems
    from bluegreen.config import load_environments

    path = config_path(options.config)
    found = problems(path)
    if found:
        raise CliError("; ".join(found))
    environments = load_environments(path).environment
    if options.environment is None and len(environments) != 1:
        raise CliError(f"--environment: name one of {', '.join(e.name for e in environments)} (from {path})")
    wanted = options.environment or environments[0].name
    env = next((e for e in environments if e.name == wanted), None)
    if env is None:
        raise CliError(f"--environment: no environment named {wanted!r} in {path}")
    if env.clusters.names is None:
        raise CliError(
            f"--environment {env.name}: the rehearsal needs both cluster names (clusters.names), not live_id"
        )
    if options.blue_cluster is None:
        rg, names = env.clusters.resource_group, env.clusters.names
        raise CliError(
            f"--environment {env.name}: the emulated Azure holds none of your clusters; give --blue-cluster FILE, "
            f"e.g. `az aks show -g {rg} -n {names[0]} -o json > blue.json` of the live one"
        )
    if options.front_door is not None:
        raise CliError(f"--front-door: with --config the environment's front_door.kind ({env.front_door.kind}) is used")
    return env


def _refuse_impossible(
    options: argparse.Namespace, env: Any, scenario: str, strategy: str, plan: FaultPlan | None
) -> None:
    """Combinations whose rehearsal could not show what was asked."""
    if scenario == "upgrade-fails" and strategy == "create-at-target":
        raise CliError("--scenario upgrade-fails: --strategy create-at-target creates green at the target, no upgrade")
    if env is not None and env.workloads.mode == "pipeline" and scenario != "pipeline":
        raise CliError(
            f"--environment {env.name} deploys with a pipeline (workloads.mode = pipeline): rehearse it with "
            "--scenario pipeline, in which the rehearsal plays the pipeline"
        )
    if env is not None and env.approval.mode == "auto" and scenario in ("reject", "approval-timeout"):
        raise CliError(f"--scenario {scenario}: environment {env.name} approves automatically (approval.mode = auto)")
    if options.alert and scenario in LAST_PHASE:
        raise CliError(f"--alert is delivered once the run bakes; --scenario {scenario} ends before the bake")
    if options.event and options.target_version:
        raise CliError("--target-version: a run started by --event goes to the environment's policy target")
    if plan is not None:
        if plan.phase == "rollback" and scenario != "error-spike":
            raise CliError(f"--fault {plan.label}: only --scenario error-spike rolls back")
        last = LAST_PHASE.get(scenario)
        if last is not None and PHASES.index(plan.phase) > PHASES.index(last):
            raise CliError(f"--fault {plan.label}: --scenario {scenario} ends in {last}, before {plan.phase}")
        if plan.phase == "upgrade" and strategy == "create-at-target":
            raise CliError(f"--fault {plan.label}: --strategy create-at-target has no upgrade phase")


def _outcomes(text: str | None) -> set[str]:
    if not text:
        return set()
    chosen = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(chosen - set(OUTCOMES))
    if unknown or not chosen:
        raise CliError(f"--fail-on-outcome {text}: outcomes are {', '.join(OUTCOMES)}")
    return chosen


def _readable(exc: Exception) -> str:
    """`could not start the run: 400 {'error': {...}}` as `could not start the run: CODE: message`."""
    text = str(exc)
    found = re.fullmatch(r"(.*?): (\d{3}) (\{.*\})", text, re.DOTALL)
    if found:
        try:
            error = ast.literal_eval(found.group(3)).get("error") or {}
            return f"{found.group(1)}: {error['code']}: {error['message']}"
        except (ValueError, SyntaxError, KeyError, AttributeError, TypeError):
            pass
    return text


def run(args: argparse.Namespace) -> int:
    options = parser().parse_args(getattr(args, "argv", []))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        plan = FaultPlan.parse(options.fault) if options.fault else None
        fail_on = _outcomes(options.fail_on_outcome)
        target = normalize_version(options.target_version, "--target-version") if options.target_version else None
        env = _environment(options)
        scenario = options.scenario or (plan.scenario if plan else "happy")
        strategy = options.strategy or (env.strategy if env is not None else "clone-then-upgrade")
        front_door = env.front_door.kind if env is not None else options.front_door or "standard"
        _refuse_impossible(options, env, scenario, strategy, plan)
        for flag, path in (("--event", options.event), ("--alert", options.alert)):
            if path and not Path(path).is_file():
                raise CliError(f"{flag} {path}: no such file")
        from local.rehearsal.driver import Options

        settings = Options(
            scenario=scenario,
            fault=options.fault,
            blue_cluster=options.blue_cluster,
            target_version=target,
            strategy=strategy,
            front_door=front_door,
            event_file=options.event,
            alert_file=options.alert,
        )
        rehearsal = _rehearsal(settings, env, options.blue_cluster, None if options.json else _print_entry)
    except (CliError, ValueError) as exc:  # BadClusterFile is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not options.json:
        print(
            f"Rehearsal '{scenario}'"
            + (f" with {plan.label}" if plan else "")
            + (f" of environment {env.name}" if env is not None else "")
            + f": {rehearsal.estate.blue_name} -> {rehearsal.estate.green_name} "
            f"behind Front Door {front_door} (virtual time)",
            flush=True,
        )
    try:
        result = rehearsal.run()
    except (RuntimeError, TimeoutError) as exc:  # the app refused the run's start, or it never finished
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
        print(f"error: {_readable(exc)}", file=sys.stderr)
        return 2
    assert rehearsal.emulator is not None
    from local.rehearsal.report import build_report

    report = build_report(scenario, result, rehearsal.emulator, rehearsal.estate, rehearsal.observed.alert_sent_wall)
    if options.state_out:
        Path(options.state_out).write_text(json.dumps(rehearsal.emulator.resources(), indent=2))
    rehearsal.emulator.stop()
    if options.json:
        print(json.dumps(report))
    else:
        live = report["live"] or {}
        print(f"\noutcome: {report['outcome']}" + (f" ({report['reason']})" if report["reason"] else ""))
        print(f"live: {live.get('cluster')} {live.get('version')}; upgrade path: {' -> '.join(report['upgrade_path'])}")
        for move in report["traffic_moves"]:
            print(f"edge: {move['detail']}")
        if report["rollback"]:
            back = report["rollback"]["blue_back_after_minutes"]
            print(
                f"rollback: {report['rollback']['trigger']}, "
                f"{report['rollback']['reaction_ms']} ms to the Front Door write"
                + (f"; blue carried the traffic again {back:g} min after the rollback" if back is not None else "")
            )
        print(
            f"ARM: {report['arm']['requests']} requests ({report['arm']['writes']} writes); "
            f"{report['history_events']} history events; {report['virtual_seconds'] / 60:.0f} virtual minutes "
            f"in {report['wall_seconds']:.1f} s"
        )
    if report["outcome"] in fail_on:
        print(f"simulate: the run ended {report['outcome']} (--fail-on-outcome)", file=sys.stderr)
        return 1
    return 0
