"""Pure rules the triggers route on: may this call act on this run, does this event start a run,
is this alert for this run. No I/O, so each is tested on its own. What a run accepts is read from
its `RunStatus` alone, never from phase names."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from bluegreen.arm_ids import same_resource
from bluegreen.lazy import contract

LIFECYCLE_STARTERS = frozenset({"ClusterSupportEnding", "ClusterSupportEnded", "NewKubernetesVersionAvailable"})


def waiting_for_approval(status: contract.RunStatus) -> bool:
    """The orchestrator advertises `awaiting: approval` only while it waits, and stops before it acts."""
    return status.awaiting == contract.Awaiting.APPROVAL


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


def can_roll_back(status: contract.RunStatus) -> bool:
    """Traffic is on green or moving there, and no rollback is under way."""
    return status.can_roll_back and status.rollback is None


def can_abort(status: contract.RunStatus) -> bool:
    return status.abortable


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


def alert_action(monitor_condition: str, run_active: bool, status: contract.RunStatus | None) -> AlertAction:
    """For an alert that concerns an environment: what to do to its run."""
    if monitor_condition != "Fired":
        return AlertAction.NOT_FIRED
    if not run_active or status is None:
        return AlertAction.NO_RUN
    if status.rollback is not None or status.phase == contract.Phase.ROLLBACK:
        return AlertAction.ALREADY_ROLLING_BACK
    if not status.can_roll_back:
        return AlertAction.NOT_SWITCHED
    return AlertAction.ROLL_BACK
