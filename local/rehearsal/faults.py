"""Faults a rehearsal injects when the run enters a phase: `simulate --fault PHASE:FAULT`, and the fault matrix.

Each fault is what a reliability engineer throws at a real subscription: throttling and 5xx bursts
from ARM, a long-running operation that fails, the Functions host killed while idle or while an
activity's write is in flight, and Front Door taking its documented upper end (~20 minutes) to
propagate a change. The emulated Azure does the rest as Azure would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from local.rehearsal.driver import Rehearsal

# The data-plane metrics endpoint is not ARM: ARM's throttling and outages do not reach it.
METRICS_PATH = "metrics:getBatch"
# Front Door's documented propagation: changes reach every edge within ~20 minutes.
PROPAGATION_UPPER_END_SECONDS = 20 * 60
# The phases a fault can be injected at; `rollback` rehearses an error spike so that one happens, and `gradual`
# is the switch of a gradual run (its weighted steps, their analysis and the edge convergence).
PHASES = ("clone", "populate", "upgrade", "verify", "approval", "switch", "gradual", "bake", "rollback", "retire")


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    inject: Callable[[Rehearsal], None]


def _burst(status: int, count: int) -> Callable[[Rehearsal], None]:
    def inject(rehearsal: Rehearsal) -> None:
        assert rehearsal.emulator is not None
        rehearsal.emulator.inject_fault(status=status, count=count, exclude_pattern=METRICS_PATH, retry_after=5)

    return inject


def _failed_operation(rehearsal: Rehearsal) -> None:
    """The next long-running operation ends Failed: an AKS create, upgrade, stop or delete, a run command,
    or a Front Door write (accepted, then never applied)."""
    assert rehearsal.emulator is not None
    rehearsal.emulator.fail_next_operation(code="InternalOperationError", message="the operation failed (injected)")


def _kill_idle(rehearsal: Rehearsal) -> None:
    rehearsal.request_crash()


WRITES = frozenset({"PUT", "PATCH", "POST", "DELETE"})


def _kill_in_write(rehearsal: Rehearsal) -> None:
    """The host dies while the next ARM write of an activity is in flight: Azure applies the write, the
    activity's result is never recorded, and a new host runs the activity again (at-least-once)."""
    assert rehearsal.emulator is not None
    armed = [True]

    def kill_on_a_write(entry: dict[str, object]) -> None:
        if armed[0] and entry.get("method") in WRITES:
            armed[0] = False
            rehearsal.crash_now()

    rehearsal.emulator.on_request(kill_on_a_write, path_pattern="^/subscriptions/", once=False)


def _slow_front_door(rehearsal: Rehearsal) -> None:
    assert rehearsal.emulator is not None
    rehearsal.emulator.set_propagation_delay(PROPAGATION_UPPER_END_SECONDS)


FAULTS: dict[str, Fault] = {
    fault.name: fault
    for fault in (
        Fault("429x3", "ARM throttles the next 3 requests (429, Retry-After)", _burst(429, 3)),
        Fault("429x50", "ARM throttles the next 50 requests", _burst(429, 50)),
        Fault("500x3", "ARM answers the next 3 requests with 500", _burst(500, 3)),
        Fault("500x20", "ARM answers the next 20 requests with 500", _burst(500, 20)),
        Fault("500x50", "ARM answers the next 50 requests with 500", _burst(500, 50)),
        Fault("failed-operation", "the next long-running operation ends Failed", _failed_operation),
        Fault("kill-idle", "the Functions host is killed while the run waits", _kill_idle),
        Fault("kill-in-write", "the host is killed while an activity's ARM write is in flight", _kill_in_write),
        Fault("front-door-20min", "Front Door takes 20 minutes to propagate every change", _slow_front_door),
    )
}


@dataclass(frozen=True)
class FaultPlan:
    phase: str
    fault: Fault

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """`PHASE:FAULT`, e.g. `switch:500x20`; a ValueError names what is wrong."""
        phase, _, name = text.partition(":")
        if phase not in PHASES:
            raise ValueError(f"--fault {text!r}: the phase must be one of {', '.join(PHASES)}")
        if name not in FAULTS:
            raise ValueError(f"--fault {text!r}: the fault must be one of {', '.join(FAULTS)}")
        return cls(phase, FAULTS[name])

    @property
    def label(self) -> str:
        return f"{self.phase}:{self.fault.name}"

    @property
    def scenario(self) -> str:
        """The rehearsal the fault is thrown into: one that reaches its phase."""
        return {"rollback": "error-spike", "gradual": "gradual"}.get(self.phase, "happy")

    @property
    def run_phase(self) -> str:
        """The phase the run's status shows when the fault is due (a gradual switch is the switch phase)."""
        return "switch" if self.phase == "gradual" else self.phase
