"""`python -m bluegreen simulate`: rehearse a blue/green upgrade on the emulated Azure."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from local.rehearsal.driver import SCENARIOS, Options, Rehearsal
from local.rehearsal.faults import FAULTS, PHASES, FaultPlan
from local.rehearsal.report import build_report
from local.rehearsal.world import BadClusterFile


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bluegreen simulate", description=__doc__)
    p.add_argument(
        "--scenario", choices=SCENARIOS, default=None, help="default: happy (error-spike for a rollback fault)"
    )
    p.add_argument("--blue-cluster", metavar="FILE", help="`az aks show -o json` output or an ARM GET body")
    p.add_argument("--target-version", metavar="V", help="default: latest GA")
    p.add_argument("--strategy", choices=["clone-then-upgrade", "create-at-target"], default="clone-then-upgrade")
    p.add_argument("--front-door", choices=["standard", "classic"], default="standard")
    p.add_argument("--event", metavar="FILE", help="start by delivering this Event Grid / CloudEvents file")
    p.add_argument("--alert", metavar="FILE", help="deliver this alert to /api/alerts once the run is baking")
    p.add_argument("--state-out", metavar="FILE", help="write every emulated ARM resource here at the end")
    p.add_argument(
        "--fault",
        metavar="PHASE:FAULT",
        help=f"inject a fault when the run enters PHASE ({', '.join(PHASES)}); FAULT one of {', '.join(FAULTS)}",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the timeline")
    return p


def _print_entry(entry: dict[str, Any]) -> None:
    print(f"{entry['at']}  {entry['phase'] or '-':<9} {entry['detail']}", flush=True)


def run(args: argparse.Namespace) -> int:
    options = parser().parse_args(getattr(args, "argv", []))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        plan = FaultPlan.parse(options.fault) if options.fault else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scenario = options.scenario or (plan.scenario if plan else "happy")
    try:
        rehearsal = Rehearsal(
            Options(
                scenario=scenario,
                fault=options.fault,
                blue_cluster=options.blue_cluster,
                target_version=options.target_version,
                strategy=options.strategy,
                front_door=options.front_door,
                event_file=options.event,
                alert_file=options.alert,
            ),
            on_timeline=None if options.json else _print_entry,
        )
    except BadClusterFile as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for flag, path in (("--event", options.event), ("--alert", options.alert)):
        if path and not Path(path).is_file():
            print(f"error: {flag} {path}: no such file", file=sys.stderr)
            return 2
    if not options.json:
        print(
            f"Rehearsal '{scenario}'"
            + (f" with {plan.label}" if plan else "")
            + f": {rehearsal.estate.blue_name} -> {rehearsal.estate.green_name} "
            f"behind Front Door {options.front_door} (virtual time)",
            flush=True,
        )
    result = rehearsal.run()
    assert rehearsal.emulator is not None
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
        if report["rollback"]:
            print(
                f"rollback: {report['rollback']['trigger']}, "
                f"{report['rollback']['reaction_ms']} ms to the Front Door write"
            )
        print(
            f"ARM: {report['arm']['requests']} requests ({report['arm']['writes']} writes); "
            f"{report['history_events']} history events; {report['virtual_seconds'] / 60:.0f} virtual minutes "
            f"in {report['wall_seconds']:.1f} s"
        )
    return 0
