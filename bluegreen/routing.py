"""Pure routing rules: which slot is live (in every origin group), and the next make-before-break step."""

from __future__ import annotations

from collections.abc import Sequence
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
        f"origins {', '.join(origins[i] for i in enabled)} are all enabled in {state.group!r}: an earlier switch "
        "did not finish; finish or roll it back before starting a new run",
    )


def common_live_slot(states: Sequence[GroupState], origins: Sequence[list[str]], slots: Sequence[str]) -> int:
    """The live slot when every origin group agrees on it (`origins[i]`: group i's two, paired with `slots`).

    Each group must have exactly one of its origins enabled (live_slot's refusals, per group), and all
    in the same slot: an environment whose groups serve different clusters is half switched.
    """
    live = [live_slot(state, pair) for state, pair in zip(states, origins, strict=True)]
    if len(set(live)) == 1:
        return live[0]
    serving = "; ".join(
        f"{state.group} sends traffic to {pair[slot]} ({slots[slot]})"
        for state, pair, slot in zip(states, origins, live, strict=True)
    )
    first = live[0]
    behind = ", ".join(state.group for state, slot in zip(states, live, strict=True) if slot != first)
    raise PermanentError(
        "GroupsDisagree",
        f"the origin groups do not serve the same cluster: {serving}. Make every group serve one slot: in "
        f"{behind}, enable the origin in front of {slots[first]} (as {states[0].group} does), wait until Front "
        f"Door has deployed it, then disable the other one (or the opposite, toward {slots[1 - first]}); then "
        "start the run again",
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
