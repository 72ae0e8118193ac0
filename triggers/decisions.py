"""Pure rules the triggers route on: may this call act on this run, does this event start a run,
is this alert for this run. No I/O, so each is tested on its own."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from bluegreen.arm_ids import same_resource

# Phases in which the run can still be stopped without touching traffic (before the switch).
ABORTABLE_PHASES = frozenset({"resolve", "clone", "upgrade", "verify", "approval"})
# Phases in which traffic is (or is being) on green, so "back to blue" means something.
ROLLBACK_PHASES = frozenset({"switch", "bake"})
LIFECYCLE_STARTERS = frozenset({"ClusterSupportEnding", "ClusterSupportEnded", "NewKubernetesVersionAvailable"})


def waiting_for_approval(custom: dict[str, Any] | None) -> bool:
    """The orchestrator publishes {phase: approval, details: {awaiting: Approval}} only while it waits."""
    custom = custom or {}
    return custom.get("phase") == "approval" and (custom.get("details") or {}).get("awaiting") == "Approval"


class ApproverCheck(StrEnum):
    ALLOWED = "allowed"
    NOT_AN_APPROVER = "not_an_approver"
    INITIATOR = "initiator"  # four-eyes: the one who started the run may not approve it


def approver_check(
    caller_names: set[str], approvers: Iterable[str], four_eyes: bool, started_by: str | None
) -> ApproverCheck:
    """`caller_names`: the caller's name and aliases, lower-case. An empty approvers list admits anyone."""
    allowed = {a.strip().lower() for a in approvers if a.strip()}
    if allowed and not (allowed & caller_names):
        return ApproverCheck.NOT_AN_APPROVER
    if four_eyes and started_by and started_by.strip().lower() in caller_names:
        return ApproverCheck.INITIATOR
    return ApproverCheck.ALLOWED


def can_roll_back(custom: dict[str, Any] | None) -> bool:
    custom = custom or {}
    return custom.get("phase") in ROLLBACK_PHASES and not custom.get("rollback")


def can_abort(custom: dict[str, Any] | None) -> bool:
    custom = custom or {}
    return (custom.get("phase") or "resolve") in ABORTABLE_PHASES


# ---- AKS lifecycle events


class EventAction(StrEnum):
    START = "start"
    NOT_A_STARTER = "not_a_starter"  # NodePoolRolling*, validation, anything else: logged only
    POLICY_SAYS_NO = "policy_says_no"  # a starter type the environment's policy does not list


def event_action(short_type: str, start_on: Iterable[str]) -> EventAction:
    """ClusterSupportEnding/Ended start by default policy; NewKubernetesVersionAvailable only if listed."""
    if short_type not in LIFECYCLE_STARTERS:
        return EventAction.NOT_A_STARTER
    return EventAction.START if short_type in set(start_on) else EventAction.POLICY_SAYS_NO


# ---- Azure Monitor alerts


class AlertAction(StrEnum):
    ROLL_BACK = "rollback"
    NOT_FIRED = "not_fired"  # Resolved: the same rule's all-clear must never roll back
    NO_RUN = "no_run_in_progress"
    NOT_SWITCHED = "not_in_switch_or_bake"
    ALREADY_ROLLING_BACK = "already_rolling_back"


def alert_matches(target_ids: Iterable[str], resources: Iterable[str | None]) -> bool:
    """Does any alert target name one of the environment's resources? ARM ids are case-insensitive."""
    known = [r for r in resources if r]
    return any(same_resource(t, r) for t in target_ids for r in known)


def alert_action(monitor_condition: str, run_active: bool, custom: dict[str, Any] | None) -> AlertAction:
    """For an alert that concerns an environment: what to do to its run."""
    if monitor_condition != "Fired":
        return AlertAction.NOT_FIRED
    if not run_active:
        return AlertAction.NO_RUN
    custom = custom or {}
    if custom.get("rollback") or custom.get("phase") == "rollback":
        return AlertAction.ALREADY_ROLLING_BACK
    if custom.get("phase") not in ROLLBACK_PHASES:
        return AlertAction.NOT_SWITCHED
    return AlertAction.ROLL_BACK
