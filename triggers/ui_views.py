"""What the web pages show of a run: its doors for this caller, and green's definition from the plan.

A door (approve, reject, abort, roll back) is shown only when the run accepts it now, and it is a form
only when the signed-in caller may use it; otherwise the page says why. Both answers come from the JSON
doors' own checks (triggers/actions.py), so a page never offers what the door would refuse.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from bluegreen.arm_ids import same_resource
from bluegreen.lazy import config, contract, errors, planning
from triggers import actions, ui_csrf
from triggers.environments import read_only_clients
from triggers.http_common import environment_of, environments_config
from triggers.identity import Caller
from triggers.responses import ApiError
from triggers.runs import RunView

ACTIONS = ("approve", "reject", "abort", "rollback")
# The doors' verbs, as a page says them.
VERBS = {"approve": "approve", "reject": "reject", "abort": "abort", "rollback": "roll back"}


@dataclass(frozen=True)
class Door:
    action: str
    shown: bool  # the run accepts this now
    token: str | None = None  # the caller may: the form's anti-forgery token
    reason: str | None = None  # shown, but not for this caller: why

    @property
    def usable(self) -> bool:
        return self.shown and self.token is not None


def _state_refusal(action: str, run: RunView) -> ApiError | None:
    if action in ("approve", "reject"):
        return actions.approval_refusal(run)
    if action == "abort":
        return actions.abort_refusal(run)
    return actions.rollback_refusal(run)


def _caller_refusal(action: str, caller: Caller, env: config.Environment, run: RunView) -> ApiError | None:
    if action in ("approve", "reject"):
        return actions.approver_refusal(caller, env, run)
    return actions.operator_refusal(caller, env, VERBS[action])


def why_not(refusal: ApiError, action: str, env_name: str) -> str:
    """The door's refusal, said to the person reading the page."""
    if refusal.code == "FourEyes":
        return "you started this run; four-eyes needs someone else to approve or reject it"
    if refusal.code == "NotAnApprover":
        return f"you are not one of {env_name}'s approvers"
    if refusal.code == "NotAnOperator":
        return f"you are not one of {env_name}'s operators, who may {VERBS[action]} its runs"
    return refusal.message


def doors(run: RunView, caller: Caller | None, env: config.Environment | None, secret: bytes) -> dict[str, Door]:
    found: dict[str, Door] = {}
    for action in ACTIONS:
        if _state_refusal(action, run) is not None:
            found[action] = Door(action, shown=False)
        elif env is None:
            found[action] = Door(action, True, reason=f"environment {environment_of(run)!r} is no longer configured")
        elif caller is None:
            found[action] = Door(action, True, reason=f"sign in to {VERBS[action]} this run")
        elif (refusal := _caller_refusal(action, caller, env, run)) is not None:
            found[action] = Door(action, True, reason=why_not(refusal, action, env.name))
        else:
            token = ui_csrf.issue_token(secret, caller.name, run.instance_id, action)
            found[action] = Door(action, True, token=token)
    return found


def configured_environment(run: RunView) -> config.Environment | None:
    try:
        return environments_config().get(environment_of(run))
    except ApiError:  # the configuration does not load: the page shows the run, without doors
        return None


# ---- green's definition, from the plan


@dataclass(frozen=True)
class PlanView:
    note: str | None = None  # why there is no diff, or what it is
    changes: list[Any] = field(default_factory=list)  # changed and dropped: what differs from blue
    carried: list[Any] = field(default_factory=list)
    inheritance: list[str] = field(default_factory=list)


def shown(value: Any, limit: int = 160) -> str:
    """A definition value, compact: JSON on one line, cut at `limit` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def plan_view(run: RunView, env: config.Environment | None) -> PlanView:
    """Green's definition against blue's, as `plan` shows it, recomputed now from reads alone.

    The run's status does not carry the diff (only its plan's outcome), so it is read again with
    read-only clients, for the run's own target and strategy. It is the run's green only while Front
    Door still sends traffic to the run's blue: before the switch. Afterwards it would be the next run's.
    """
    if run.status.kind == "revert" or (run.request is not None and run.request.kind == "revert"):
        return PlanView(note="a revert creates nothing: green is the retained cluster, as it was retired")
    if not run.active:
        return PlanView(note="shown while the run is in progress; the run's output lists what it created")
    if env is None:
        return PlanView(note=f"environment {environment_of(run)!r} is no longer configured")
    request = run.request
    target = request.target_version if request else None
    strategy = request.strategy if request else None
    try:
        report = await asyncio.to_thread(planning.plan_report, read_only_clients(), env, target, strategy)
    except errors.BlueGreenError as exc:
        return PlanView(note=f"the plan could not be read now: {exc.code}: {exc.message}")
    resources = run.status.resources
    if resources is not None and not same_resource(report.blue.cluster_id, resources.blue):
        return PlanView(note=f"Front Door no longer sends traffic to this run's blue: {report.blue.name} is live now")
    return PlanView(
        note=f"recomputed now from {report.blue.name}'s definition ({report.blue.version}), reads only",
        changes=[c for c in report.definition if c.change != "carried"],
        carried=[c for c in report.definition if c.change == "carried"],
        inheritance=inherited(report.inheritance),
    )


def inherited(inheritance: contract.Inheritance) -> list[str]:
    lines = [f"role assignment for green's {g.identity} on {g.scope.rsplit('/', 1)[-1]}" for g in inheritance.grants]
    lines += [f"federated credential {f.twin_name} ({f.subject})" for f in inheritance.federations]
    lines += [f"{w.kind.replace('_', ' ')} {w.twin_name}" for w in inheritance.wiring]
    return lines
