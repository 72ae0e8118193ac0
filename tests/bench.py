"""`make bench`: what a rehearsed run costs, in counts that do not depend on the machine.

ARM requests and writes (what counts against ARM throttling), history events (what each replay
re-reads), and virtual time per wall second (how much faster than real time a rehearsal runs).
Not a test: nothing here asserts; it prints a table.
"""

from __future__ import annotations

from local.rehearsal.driver import Options, Rehearsal
from local.rehearsal.report import build_report

CASES = [
    ("happy", "clone-then-upgrade", "standard"),
    ("happy", "create-at-target", "standard"),
    ("happy", "clone-then-upgrade", "classic"),
    ("error-spike", "clone-then-upgrade", "standard"),
]


def main() -> None:
    print(
        f"{'scenario':<12} {'strategy':<19} {'front door':<10} {'ARM req':>8} {'writes':>6} {'metrics':>7} "
        f"{'history':>8} {'virtual min':>11} {'wall s':>7} {'speed-up':>9}"
    )
    for scenario, strategy, front_door in CASES:
        rehearsal = Rehearsal(Options(scenario=scenario, strategy=strategy, front_door=front_door))
        result = rehearsal.run()
        assert rehearsal.emulator is not None
        report = build_report(scenario, result, rehearsal.emulator, rehearsal.estate, None)
        rehearsal.emulator.stop()
        metrics_reads = sum(v for k, v in report["arm"]["by_operation"].items() if "metrics" in k.lower())
        speed = report["virtual_seconds"] / max(report["wall_seconds"], 1e-9)
        print(
            f"{scenario:<12} {strategy:<19} {front_door:<10} {report['arm']['requests']:>8} "
            f"{report['arm']['writes']:>6} {metrics_reads:>7} {report['history_events']:>8} "
            f"{report['virtual_seconds'] / 60:>11.0f} {report['wall_seconds']:>7.1f} {speed:>8.0f}x"
        )


if __name__ == "__main__":
    main()
