"""bluegreen_upgrade: the runbook. Resolve, clone, upgrade, verify, approve, switch, bake, retire.

Before the switch any failure leaves blue live and removes green (outcome `failed`). After the
switch, a spike or a Rollback event routes traffic back to blue (outcome `rolled_back`).
"""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.resolve import resolve_run
from orchestrators import bp, steps
from orchestrators.run import Aborted, Run, StepFailed


@bp.orchestration_trigger(context_name="context")
def bluegreen_upgrade(context: df.DurableOrchestrationContext) -> Any:
    request = context.get_input() or {}
    run = Run(context, request)
    # Resolving is the first part of the clone phase: the timeline's phases are the runbook's.
    run.enter("clone", f"resolving {request.get('environment')}: live side, target version, path")
    try:
        plan = yield from run.activity(resolve_run, {**request, "run_id": context.instance_id})
    except StepFailed as failure:
        return finish(run, None, "failed", f"{failure.code}: {failure.message}")
    run.poll_seconds = plan["settings"]["poll_seconds"]
    run.facts["resources"] = {
        "front_door": plan["front_door"]["id"],
        "blue": plan["blue"]["cluster_id"],
        "green": plan["green"]["cluster_id"],
    }
    run.note(
        f"live side {plan['blue']['side']} ({plan['blue']['name']} {plan['blue']['version']}); "
        f"target {plan['target_version']}; green will be {plan['green']['name']}",
        {"plan": {k: plan[k] for k in ("target_version", "version_path", "strategy")}},
    )

    try:
        yield from steps.clone(run, plan)
        yield from steps.upgrade(run, plan)
        report = yield from steps.verify(run, plan)
        run.facts["verification"] = report
        decision = yield from steps.approval(run, plan, report)
        run.facts["approval"] = decision
        if not decision["approved"]:
            run.abortable = False
            run.note(f"rejected by {decision['by'] or 'nobody'}: {decision['comment'] or 'no comment'}")
            yield from steps.remove_green(run, plan)
            return finish(run, plan, "rejected", decision["comment"] or f"rejected by {decision['by']}")
        run.note(f"approved by {decision['by']}")
    except Aborted as abort:
        run.note(f"aborted by {abort.by}: {abort.reason}")
        run.abortable = False
        yield from steps.remove_green(run, plan)
        return finish(run, plan, "aborted", f"aborted by {abort.by}: {abort.reason}")
    except StepFailed as failure:
        run.abortable = False
        run.note(f"failed: {failure.code}: {failure.message}")
        if run.facts.get("green_created"):
            yield from steps.remove_green(run, plan)
        return finish(run, plan, "failed", f"{failure.code}: {failure.message}")

    # From here on traffic moves: no more aborts, and any trouble means "back to blue".
    run.abortable = False
    run.enter("switch", f"routing traffic to {plan['green']['name']} (make-before-break)")
    try:
        yield from steps.route(run, plan, "green")
    except StepFailed as failure:
        run.enter("rollback", f"switch failed ({failure.code}); routing back to {plan['blue']['name']}")
        yield from steps.route(run, plan, "blue")
        return finish(run, plan, "failed", f"switch failed: {failure.code}: {failure.message}")
    run.note("Front Door reports the switch deployed")

    trouble = yield from steps.bake(run, plan)
    if trouble is not None:
        run.facts["rollback"] = {"trigger": trouble["trigger"], "at": run.now_iso(), "detail": trouble["detail"]}
        run.enter("rollback", f"rolling back to {plan['blue']['name']}: {trouble['detail']}")
        yield from steps.route(run, plan, "blue")
        run.note("traffic is back on blue")
        return finish(run, plan, "rolled_back", trouble["detail"])

    yield from steps.retire(run, plan)
    return finish(run, plan, "completed", None)


def finish(run: Run, plan: dict[str, Any] | None, outcome: str, reason: str | None) -> dict[str, Any]:
    """The run's output: outcome, reason, what is live, and the whole timeline."""
    run.phase = "done"
    run.message = f"{outcome}" + (f": {reason}" if reason else "")
    run.publish()
    output: dict[str, Any] = {
        "outcome": outcome,
        "reason": reason,
        "instance_id": run.context.instance_id,
        "environment": run.request.get("environment"),
        "timeline": run.timeline,
        **run.facts,
    }
    if plan is not None:
        live = plan["green"] if outcome == "completed" else plan["blue"]
        output.update(
            {
                "target_version": plan["target_version"],
                "upgrade_path": plan["version_path"],
                "strategy": plan["strategy"],
                "live_side": live["side"],
                "blue": {"cluster": plan["blue"]["name"], "version": plan["blue"]["version"]},
                "green": {"cluster": plan["green"]["name"], "version": plan["target_version"]}
                if run.facts.get("green_created")
                else None,
            }
        )
    return output
