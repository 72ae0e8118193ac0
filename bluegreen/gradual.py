"""Pure rules of a gradual switch: the weights of a step, the writes that reach them, and a step's verdict.

Front Door splits requests between origins of equal priority by weight (1-1000), among those within the
origin group's latency window of the fastest (reference/azure-more.md (h)). A step of `percent` gives
green `10 * percent` and blue the rest of 1000, green at blue's priority. The last step (100) is not a
weight: it is the break of make-before-break (blue's origin disabled), as in an all-at-once switch.
"""

from __future__ import annotations

from bluegreen.config import Analysis
from bluegreen.contract import GroupState, OriginPair, OriginSettings, SideMetrics
from bluegreen.errors import PermanentError
from bluegreen.traffic import FULL_WEIGHT

DEFAULT_PRIORITY = 1  # what Front Door routes by when an origin's priority was never set
DEFAULT_WEIGHT = 50  # and its weight (reference/azure-more.md (h))


def step_weights(percent: int) -> tuple[int, int]:
    """(blue's weight, green's weight) for `percent` of requests on green (1-99)."""
    if not 1 <= percent <= 99:
        raise ValueError(f"a weighted step is 1-99 percent, not {percent}")
    green = FULL_WEIGHT * percent // 100
    return FULL_WEIGHT - green, green


def step_changes(state: GroupState, pair: OriginPair, percent: int) -> list[tuple[str, OriginSettings]]:
    """The writes that bring one group to `percent` on green, in a safe order; [] once it is there.

    Blue's weight first, then green enabled with its weight at blue's priority: while green is still
    disabled blue's new weight changes nothing, and nothing here ever disables an origin.
    """
    blue, green = state.origin(pair.blue), state.origin(pair.green)
    if blue is None or green is None:
        missing = pair.blue if blue is None else pair.green
        raise PermanentError("OriginNotFound", f"Front Door group {state.group!r} has no origin {missing!r}")
    blue_weight, green_weight = step_weights(percent)
    priority = blue.priority or DEFAULT_PRIORITY
    changes: list[tuple[str, OriginSettings]] = []
    if not blue.enabled or blue.weight != blue_weight:
        changes.append((pair.blue, OriginSettings(enabled=True, weight=blue_weight)))
    if not green.enabled or green.weight != green_weight or (green.priority or DEFAULT_PRIORITY) != priority:
        changes.append((pair.green, OriginSettings(enabled=True, weight=green_weight, priority=priority)))
    return changes


def failing(green: SideMetrics, blue: SideMetrics, analysis: Analysis) -> str | None:
    """Why green is worse than blue over the same window, or None. Callers check the request minimum first."""
    rate, blue_rate = green.rate, blue.rate
    if rate > analysis.max_error_rate:
        return f"green's 5xx share {rate:.1%} ({green.errors}/{green.requests}) is above {analysis.max_error_rate:.1%}"
    if blue.requests and rate > blue_rate + analysis.max_error_rate_increase:
        return (
            f"green's 5xx share {rate:.1%} ({green.errors}/{green.requests}) is more than "
            f"{analysis.max_error_rate_increase:.1%} above blue's {blue_rate:.1%} ({blue.errors}/{blue.requests})"
        )
    latency, blue_latency = green.latency_ms, blue.latency_ms
    if analysis.max_latency_ms is not None and latency is not None and latency > analysis.max_latency_ms:
        return f"green's origin latency {latency:.0f} ms is above {analysis.max_latency_ms:.0f} ms"
    if (
        analysis.max_latency_ratio is not None
        and latency is not None
        and blue_latency is not None
        and latency > blue_latency * analysis.max_latency_ratio
    ):
        return (
            f"green's origin latency {latency:.0f} ms is more than {analysis.max_latency_ratio:g}x "
            f"blue's {blue_latency:.0f} ms"
        )
    return None


def describe(green: SideMetrics, blue: SideMetrics) -> str:
    def side(m: SideMetrics) -> str:
        latency = f", {m.latency_ms:.0f} ms" if m.latency_ms is not None else ""
        return f"{m.errors}/{m.requests} 5xx ({m.rate:.1%}){latency}"

    return f"green {side(green)}; blue {side(blue)}"


def configured_share(state: GroupState, pair: OriginPair) -> float:
    """Green's share of a group's requests by its configuration (Front Door's routing, latency aside)."""
    blue, green = state.origin(pair.blue), state.origin(pair.green)
    if green is None or not green.enabled:
        return 0.0
    if blue is None or not blue.enabled:
        return 1.0
    blue_priority, green_priority = blue.priority or DEFAULT_PRIORITY, green.priority or DEFAULT_PRIORITY
    if blue_priority != green_priority:
        return 1.0 if green_priority < blue_priority else 0.0
    blue_weight, green_weight = blue.weight or DEFAULT_WEIGHT, green.weight or DEFAULT_WEIGHT
    return green_weight / (blue_weight + green_weight)


def converged(shares: list[tuple[int, int]], intended: float, tolerance: float, min_requests: int) -> bool:
    """Every group's observed green share (green, blue requests) within `tolerance` of `intended`."""
    for green, blue in shares:
        total = green + blue
        if total < min_requests or abs(green / total - intended) > tolerance:
            return False
    return bool(shares)
