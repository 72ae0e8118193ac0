"""The fault matrix: every fault at every phase, rehearsed on the emulated Azure and the local host.

`python -m tests.faults.matrix` (`make faults`) runs every cell (two at a time: the machine has two
cores), prints the table, writes it into the README between the fault-matrix markers, and exits 1 if
any cell broke an invariant (local/rehearsal/invariants.py). `make test` runs the `SLICE` only.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from local.rehearsal.faults import FAULTS, PHASES, FaultPlan

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START, END = "<!-- fault-matrix:start -->", "<!-- fault-matrix:end -->"
CELLS = [f"{phase}:{fault}" for phase in PHASES for fault in FAULTS]
# One cell per phase, every fault at least once, the hardest where they hurt most.
SLICE = [
    "clone:failed-operation",
    "populate:kill-in-write",
    "upgrade:500x50",
    "verify:kill-in-write",
    "approval:kill-idle",
    "switch:500x20",
    "switch:front-door-20min",
    "gradual:kill-in-write",
    "bake:429x50",
    "bake:429x3",
    "rollback:failed-operation",
    "rollback:500x3",
    "retire:kill-in-write",
]


@dataclass(frozen=True)
class Cell:
    label: str
    outcome: str
    violations: tuple[str, ...]
    wall_seconds: float
    virtual_minutes: float


def run_cell(label: str) -> Cell:
    from local.rehearsal.driver import Options, Rehearsal
    from local.rehearsal.invariants import violations
    from local.rehearsal.report import build_report

    plan = FaultPlan.parse(label)
    started = time.monotonic()
    rehearsal = Rehearsal(Options(scenario=plan.scenario, fault=label, wall_timeout=300))
    try:
        result = rehearsal.run()
        assert rehearsal.emulator is not None
        report = build_report(plan.scenario, result, rehearsal.emulator, rehearsal.estate, None)
        found = tuple(violations(report, rehearsal))
        if rehearsal.observed.fault_injected_at is None:
            found += (f"the run never reached {plan.phase}: the fault was not injected",)
        return Cell(label, report["outcome"], found, time.monotonic() - started, report["virtual_seconds"] / 60)
    finally:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()


def table(cells: dict[str, Cell]) -> str:
    names = list(FAULTS)
    lines = ["| phase \\ fault | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for phase in PHASES:
        row = []
        for name in names:
            cell = cells.get(f"{phase}:{name}")
            row.append("" if cell is None else f"{'✓' if not cell.violations else '✗'} {cell.outcome}")
        lines.append(f"| {phase} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    if START in readme and END in readme:
        head, rest = readme.split(START, 1)
        _, tail = rest.split(END, 1)
        README.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main() -> int:
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=2) as pool:
        cells = {cell.label: cell for cell in pool.map(run_cell, CELLS)}
    unsafe = [c for c in cells.values() if c.violations]
    summary = (
        f"{len(cells)} cells, {len(cells) - len(unsafe)} safe; "
        f"{time.monotonic() - started:.0f} s of wall time ({sum(c.wall_seconds for c in cells.values()):.0f} s of work)"
    )
    text = f"{table(cells)}\n\n{summary}."
    print(text)
    for cell in unsafe:
        print(f"\n{cell.label}: {cell.outcome}\n  " + "\n  ".join(cell.violations))
    write_readme(text)
    return 1 if unsafe else 0


if __name__ == "__main__":
    sys.exit(main())
