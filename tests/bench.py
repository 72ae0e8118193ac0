"""`make bench`: what a rehearsed run costs, in counts and ratios rather than seconds.

- ARM requests and writes (what counts against ARM throttling) and metric queries (data plane);
- history events: of all instances of a run, and of the largest single instance (what each replay re-reads);
- wall seconds per 100 history events, for the bundled cluster and for a 6-pool cluster three minors
  behind, side by side: the run's cost grows linearly with its work when the two stay close;
- rollback reaction: wall ms from the alert's arrival at /api/alerts to the Front Door write that
  re-enables blue (median of a few runs);
- cold start: `import function_app` against `import azure.functions, azure.durable_functions`, median
  of 7 fresh processes each.
Not a test: nothing here asserts; it prints tables.
"""

from __future__ import annotations

import copy
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from local.rehearsal.driver import Options, Rehearsal
from local.rehearsal.report import build_report
from local.rehearsal.world import DEFAULT_BLUE

ROOT = Path(__file__).resolve().parents[1]
ALERT = ROOT / "tests" / "fixtures" / "alerts" / "metric-alert-fired.json"
# (scenario, strategy, front door, pools, origin groups)
CASES = [
    ("happy", "clone-then-upgrade", "standard", 2, 1),
    ("happy", "clone-then-upgrade", "standard", 6, 1),
    ("happy", "create-at-target", "standard", 2, 1),
    ("happy", "clone-then-upgrade", "classic", 2, 1),
    ("happy", "clone-then-upgrade", "standard", 2, 3),
    ("error-spike", "clone-then-upgrade", "standard", 2, 1),
    ("gradual", "clone-then-upgrade", "standard", 2, 1),
    ("gradual-spike", "clone-then-upgrade", "standard", 2, 1),
]


def blue_with_pools(pools: int) -> str | None:
    """The bundled blue with `pools` node pools (extra user pools copied from its last one)."""
    if pools == 2:
        return None
    body = json.loads(DEFAULT_BLUE.read_text())
    profiles = body["properties"]["agentPoolProfiles"]
    while len(profiles) < pools:
        extra = copy.deepcopy(profiles[-1])
        extra["name"] = f"user{len(profiles)}"
        profiles.append(extra)
    path = Path(tempfile.mkdtemp(prefix="bench-")) / f"blue-{pools}-pools.json"
    path.write_text(json.dumps(body))
    return str(path)


def rehearse(**options: Any) -> dict[str, Any]:
    rehearsal = Rehearsal(Options(**options))
    result = rehearsal.run()
    assert rehearsal.emulator is not None
    report = build_report(
        rehearsal.options.scenario, result, rehearsal.emulator, rehearsal.estate, rehearsal.observed.alert_sent_wall
    )
    rehearsal.emulator.stop()
    return report


def import_ratio(runs: int = 7) -> tuple[float, float]:
    def median(statement: str) -> float:
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        times = [
            float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout)
            for _ in range(runs)
        ]
        return statistics.median(times)

    base = median("import azure.functions, azure.durable_functions")
    app = median("import function_app")
    return base * 1000, app / base


def main() -> None:
    print(
        f"{'scenario':<13} {'strategy':<19} {'front door':<10} {'pools':>5} {'groups':>6} {'ARM req':>8} {'writes':>6} "
        f"{'metrics':>7} {'history':>8} {'max/inst':>8} {'virtual min':>11} {'wall s':>7} {'s/100 ev':>8}"
    )
    per_100: dict[int, float] = {}
    last_moves: list[dict[str, Any]] = []
    for scenario, strategy, front_door, pools, groups in CASES:
        report = rehearse(
            scenario=scenario,
            strategy=strategy,
            front_door=front_door,
            blue_cluster=blue_with_pools(pools),
            origin_groups=groups,
        )
        metrics_reads = sum(v for k, v in report["arm"]["by_operation"].items() if "metrics" in k.lower())
        seconds_per_100 = report["wall_seconds"] / max(report["history_events"], 1) * 100
        if scenario == "happy" and strategy == "clone-then-upgrade" and front_door == "standard" and groups == 1:
            per_100[pools] = seconds_per_100
        print(
            f"{scenario:<13} {strategy:<19} {front_door:<10} {pools:>5} {groups:>6} {report['arm']['requests']:>8} "
            f"{report['arm']['writes']:>6} {metrics_reads:>7} {report['history_events']:>8} "
            f"{report['history_events_max_instance']:>8} {report['virtual_seconds'] / 60:>11.0f} "
            f"{report['wall_seconds']:>7.1f} {seconds_per_100:>8.3f}"
        )
        if scenario.startswith("gradual"):
            last_moves += [{**move, "scenario": scenario} for move in report["traffic_moves"]]
            if report["rollback"]:
                back = report["rollback"]["blue_back_after_minutes"]
                last_moves.append(
                    {"scenario": scenario, "detail": f"blue carried the traffic again {back} min after the rollback"}
                )
    print(f"\nwall seconds per 100 history events, 6 pools / 2 pools: {per_100[6] / per_100[2]:.2f}x")

    reactions = []
    for _ in range(3):
        report = rehearse(alert_file=str(ALERT))
        if report["rollback"] and report["rollback"]["reaction_ms"] is not None:
            reactions.append(report["rollback"]["reaction_ms"])
    if reactions:
        print(
            f"rollback reaction (alert -> Front Door write), median of {len(reactions)}: "
            f"{statistics.median(reactions):.0f} ms"
        )
    base_ms, ratio = import_ratio()
    print(
        f"cold start: import function_app = {ratio:.2f}x import azure.functions, azure.durable_functions "
        f"({base_ms:.0f} ms), median of 7 fresh processes"
    )
    for move in last_moves:
        print(f"edge ({move['scenario']}): {move['detail']}")


if __name__ == "__main__":
    main()
