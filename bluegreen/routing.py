"""Pure routing rules: which slot is live, and the next make-before-break step towards an origin."""

from __future__ import annotations

from enum import StrEnum

from bluegreen.contract import GroupState
from bluegreen.errors import PermanentError


class SwitchStep(StrEnum):
    ENABLE_TARGET = "enable_target"
    WAIT_FOR_DEPLOYMENT = "wait_for_deployment"
    DISABLE_OTHER = "disable_other"
    DONE = "done"


def live_slot(state: GroupState, origins: list[str]) -> int:
    """The position in `origins` of the one enabled origin.

    Both enabled means an earlier switch stopped half way; none enabled means the site is down.
    Neither is a state to start an upgrade from, so both are refused with what to do.
    """
    enabled = []
    for slot, key in enumerate(origins):
        origin = state.origin(key)
        if origin is None:
            raise PermanentError("OriginNotFound", f"Front Door group {state.group!r} has no origin {key!r}")
        if origin.enabled:
            enabled.append(slot)
    if len(enabled) == 1:
        return enabled[0]
    if not enabled:
        raise PermanentError("NoLiveOrigin", f"no origin of this environment is enabled in {state.group!r}")
    raise PermanentError(
        "TrafficSplit",
        f"origins {', '.join(origins[i] for i in enabled)} are all enabled: an earlier switch did not finish; "
        "finish or roll it back before starting a new run",
    )


def next_switch_step(state: GroupState, target: str, other: str) -> SwitchStep:
    """Make-before-break: enable the target, wait until deployed, only then disable the other.

    The same rule serves the switch (target = green's origin) and the rollback (target = blue's), and
    it is idempotent: after a crash it picks up from whatever Front Door shows now. The other origin is
    disabled only when the target is enabled and deployed, so there are never zero enabled origins.
    """
    target_origin, other_origin = state.origin(target), state.origin(other)
    if target_origin is None or other_origin is None:
        missing = target if target_origin is None else other
        raise PermanentError("OriginNotFound", f"Front Door group {state.group!r} has no origin {missing!r}")
    if not target_origin.enabled:
        return SwitchStep.ENABLE_TARGET
    if not state.deployed:
        return SwitchStep.WAIT_FOR_DEPLOYMENT
    if other_origin.enabled:
        return SwitchStep.DISABLE_OTHER
    return SwitchStep.DONE
