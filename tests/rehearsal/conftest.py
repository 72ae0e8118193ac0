"""Run rehearsals in-process: the emulated Azure and the local host on one virtual clock.

A rehearsal is the suite's most expensive thing (a whole upgrade through the real replay), so each
set of options is rehearsed once per session and every test asking for it reads the same report.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.rehearsal.driver import Options, Rehearsal
from local.rehearsal.report import build_report


def rehearse(**options: Any) -> tuple[dict[str, Any], Rehearsal]:
    rehearsal = Rehearsal(Options(**options))
    result = rehearsal.run()
    assert rehearsal.emulator is not None
    report = build_report(
        rehearsal.options.scenario, result, rehearsal.emulator, rehearsal.estate, rehearsal.observed.alert_sent_wall
    )
    return report, rehearsal


@pytest.fixture(scope="session")
def run_rehearsal():
    """`run_rehearsal(**options)`: the report and the rehearsal (its emulator still up), once per options."""
    made: dict[tuple[tuple[str, Any], ...], tuple[dict[str, Any], Rehearsal]] = {}

    def factory(**options: Any) -> tuple[dict[str, Any], Rehearsal]:
        key = tuple(sorted(options.items()))
        if key not in made:
            made[key] = rehearse(**options)
        return made[key]

    yield factory
    for _, rehearsal in made.values():
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
