"""Pure traffic rules: which side is live, and the next make-before-break step towards a side."""

from __future__ import annotations

from enum import StrEnum

from bluegreen.errors import PermanentError
from bluegreen.traffic import TrafficState


class SwitchStep(StrEnum):
    ENABLE_TARGET = "enable_target"
    WAIT_FOR_DEPLOYMENT = "wait_for_deployment"
    DISABLE_OTHER = "disable_other"
    DONE = "done"


def live_side(state: TrafficState, origins: dict[str, str]) -> str:
    """The side (key of `origins`, e.g. 'blue') whose origin alone is enabled.

    Both enabled means an earlier switch stopped half way; none enabled means the site is down.
    Neither is a state to start an upgrade from, so both are refused with what to do.
    """
    enabled = []
    for side, key in origins.items():
        origin = state.origin(key)
        if origin is None:
            raise PermanentError("OriginNotFound", f"Front Door has no origin {key!r} (side {side})")
        if origin.enabled:
            enabled.append(side)
    if len(enabled) == 1:
        return enabled[0]
    if not enabled:
        raise PermanentError("NoLiveOrigin", "no origin of this environment is enabled in Front Door")
    raise PermanentError(
        "TrafficSplit",
        f"origins of {', '.join(enabled)} are all enabled: an earlier switch did not finish; "
        "finish or roll it back before starting a new run",
    )


def next_switch_step(state: TrafficState, target: str, other: str) -> SwitchStep:
    """Make-before-break: enable the target, wait until deployed, only then disable the other.

    The same rule serves the switch (target = green) and the rollback (target = blue), and it is
    idempotent: after a crash it picks up from whatever Front Door shows now. The other origin is
    disabled only when the target is enabled and deployed, so there is never zero enabled origins.
    """
    target_origin, other_origin = state.origin(target), state.origin(other)
    if target_origin is None or other_origin is None:
        missing = target if target_origin is None else other
        raise PermanentError("OriginNotFound", f"Front Door has no origin {missing!r}")
    if not target_origin.enabled:
        return SwitchStep.ENABLE_TARGET
    if not state.deployed:
        return SwitchStep.WAIT_FOR_DEPLOYMENT
    if other_origin.enabled:
        return SwitchStep.DISABLE_OTHER
    return SwitchStep.DONE
