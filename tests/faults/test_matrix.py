"""Faults at every phase end safe: each cell of the matrix asserts every invariant.

`make test` runs the slice; `BLUEGREEN_FAULTS=all` (or `make faults`, which also prints the table)
runs every cell.
"""

from __future__ import annotations

import os

import pytest

from local.rehearsal.faults import FaultPlan
from tests.faults.matrix import CELLS, SLICE, run_cell

SELECTED = CELLS if os.environ.get("BLUEGREEN_FAULTS") == "all" else SLICE


@pytest.mark.parametrize("label", SELECTED)
def test_fault_at_a_phase_ends_with_users_on_a_healthy_side(label: str) -> None:
    cell = run_cell(label)
    assert cell.violations == (), f"{label} ended {cell.outcome}: " + "; ".join(cell.violations)


def test_the_slice_names_cells_of_the_matrix_and_every_phase_once_at_least() -> None:
    assert set(SLICE) <= set(CELLS)
    assert {FaultPlan.parse(label).phase for label in SLICE} == {FaultPlan.parse(label).phase for label in CELLS}
