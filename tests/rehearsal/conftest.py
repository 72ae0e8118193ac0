"""Run rehearsals in-process: the emulated Azure and the local host on one virtual clock."""

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


@pytest.fixture
def run_rehearsal():
    made: list[Rehearsal] = []

    def factory(**options: Any) -> tuple[dict[str, Any], Rehearsal]:
        report, rehearsal = rehearse(**options)
        made.append(rehearsal)
        return report, rehearsal

    yield factory
    for rehearsal in made:
        if rehearsal.emulator is not None:
            rehearsal.emulator.stop()
