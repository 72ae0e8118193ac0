"""The runbook's steps as generator functions over a Run and the plan resolve produced.

Long Azure operations: a short "start" activity, then a check on a durable timer until it ends.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from activities.clusters import (
    check_cluster_operation,
    start_cluster_delete,
    start_cluster_stop,
    start_control_plane_upgrade,
    start_green_create,
    start_pool_upgrade,
)
from activities.traffic import measure_error_rate, read_traffic, set_origin_enabled
from activities.verify import prepare_green_origin, verify_green
from bluegreen.decisions import BakeVerdict, assess_error_rate
from bluegreen.traffic import TrafficState
from bluegreen.traffic.rules import SwitchStep, next_switch_step
from orchestrators.events import ABORT_EVENT, APPROVAL_EVENT, ROLLBACK_EVENT, event_payload
from orchestrators.run import Aborted, Run, Step, StepFailed

# How often Front Door is re-read while a change propagates (it takes minutes, up to ~20).
DEPLOYMENT_POLL_SECONDS = 30
# Polls back off from the configured interval to four times it: fewer history events per hour-long LRO.
POLL_BACKOFF_CAP = 4


def wait_for_operation(run: Run, cluster_id: str, operation: dict[str, Any], what: str, *, gone: bool = False) -> Step:
    interval = run_poll = run.poll_seconds
    while True:
        result = yield from run.activity(
            check_cluster_operation, {"cluster_id": cluster_id, "operation": operation, "expect_gone": gone}
        )
        if result["status"] == "Succeeded":
            return result
        if result["status"] in ("Failed", "Canceled"):
            error = result.get("error") or {}
            raise StepFailed(str(error.get("code") or "OperationFailed"), f"{what}: {error.get('message') or 'failed'}")
        yield from run.sleep(interval)
        interval = min(interval * 2, run_poll * POLL_BACKOFF_CAP)


def clone(run: Run, plan: dict[str, Any]) -> Step:
    green, blue = plan["green"], plan["blue"]
    run.enter(
        "clone",
        f"creating {green['name']} from {blue['name']} at {plan['clone_version']} ({plan['strategy']})",
        {"blue": blue["cluster_id"], "green": green["cluster_id"]},
    )
    operation = yield from run.activity(
        start_green_create,
        {
            "blue_id": blue["cluster_id"],
            "green_id": green["cluster_id"],
            "green_name": green["name"],
            "green_side": green["side"],
            "version": plan["clone_version"],
            "run_id": plan["run_id"],
            "environment": plan["environment"],
        },
    )
    run.facts["green_created"] = True
    yield from wait_for_operation(run, green["cluster_id"], operation, "creating green")
    run.note(f"{green['name']} created at {plan['clone_version']}")


def upgrade(run: Run, plan: dict[str, Any]) -> Step:
    green = plan["green"]
    path = plan["upgrade_path"]
    if not path:
        run.enter("upgrade", f"nothing to upgrade: green was created at {plan['target_version']}")
        return
    run.enter("upgrade", f"upgrading {green['name']} along {' -> '.join([plan['clone_version'], *path])}")
    for hop in path:
        run.details = {"hop": hop, "path": path}
        operation = yield from run.activity(
            start_control_plane_upgrade, {"cluster_id": green["cluster_id"], "version": hop}
        )
        yield from wait_for_operation(run, green["cluster_id"], operation, f"control plane upgrade to {hop}")
        run.note(f"control plane at {hop}")
        for pool in plan["blue"]["pools"]:
            operation = yield from run.activity(
                start_pool_upgrade, {"cluster_id": green["cluster_id"], "pool": pool, "version": hop}
            )
            yield from wait_for_operation(run, green["cluster_id"], operation, f"node pool {pool} upgrade to {hop}")
            run.note(f"node pool {pool} at {hop}")


def verify(run: Run, plan: dict[str, Any]) -> Step:
    green = plan["green"]
    run.enter("verify", f"verifying {green['name']} at {plan['target_version']}")
    origin = yield from run.activity(
        prepare_green_origin, {"cluster_id": green["cluster_id"], "front_door": plan["front_door"]}
    )
    plan["front_door"]["green_host_resolved"] = origin["host"]
    if origin.get("changed"):
        run.note(f"green origin now points at {origin['host']}")
    deadline = run.context.current_utc_datetime + timedelta(minutes=plan["settings"]["verify_timeout_minutes"])
    while True:
        report = yield from run.activity(
            verify_green,
            {
                "cluster_id": green["cluster_id"],
                "target_version": plan["target_version"],
                "front_door": plan["front_door"],
                "smoke": plan["settings"]["smoke"],
            },
        )
        if report["passed"]:
            run.note("green verified: nodes Ready, workloads available, smoke probe passed", {"report": report})
            return report
        if run.context.current_utc_datetime >= deadline:
            run.facts["verification"] = report
            raise StepFailed("VerificationFailed", "; ".join(report["problems"]))
        run.details = {"report": report}
        run.publish()
        yield from run.sleep(plan["settings"]["poll_seconds"])


def approval(run: Run, plan: dict[str, Any], report: dict[str, Any]) -> Step:
    """Returns {approved, by, comment, at}. A timeout is a rejection."""
    settings = plan["settings"]["approval"]
    if settings["mode"] == "auto":
        run.enter("approval", "auto-approved (approval mode is auto in the configuration)")
        return {"approved": True, "by": "auto", "comment": None, "at": run.now_iso()}
    deadline = run.context.current_utc_datetime + timedelta(hours=settings["timeout_hours"])
    run.enter(
        "approval",
        f"waiting for approval until {deadline.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        # The verification report itself is in the custom status once, under `verification`.
        {"awaiting": APPROVAL_EVENT, "deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ"), "passed": report["passed"]},
    )
    timer = run.context.create_timer(deadline)
    decision = run.context.wait_for_external_event(APPROVAL_EVENT)
    abort = run.context.wait_for_external_event(ABORT_EVENT)
    winner = yield run.context.task_any([decision, abort, timer])
    if winner == timer:
        return {"approved": False, "by": None, "comment": "approval timed out", "at": run.now_iso()}
    timer.cancel()
    if winner == abort:
        payload = event_payload(abort.result)
        raise Aborted(str(payload.get("by") or "unknown"), str(payload.get("reason") or "aborted by an operator"))
    payload = event_payload(decision.result)
    return {
        "approved": payload.get("approved") is True,
        "by": payload.get("by"),
        "comment": payload.get("comment"),
        "at": run.now_iso(),
    }


def route(run: Run, plan: dict[str, Any], side: str) -> Step:
    """Make-before-break towards `side` ('green' to switch, 'blue' to roll back), until deployed."""
    origins = plan["front_door"]["origins"]
    target, other = origins[side], origins["green" if side == "blue" else "blue"]
    while True:
        state = yield from run.activity(read_traffic, {"front_door": plan["front_door"]})
        step = next_switch_step(TrafficState.from_dict(state), target, other)
        if step == SwitchStep.DONE:
            return
        if step == SwitchStep.ENABLE_TARGET:
            yield from run.activity(
                set_origin_enabled, {"front_door": plan["front_door"], "origin": target, "enabled": True}
            )
            run.note(f"origin {target} enabled")
        elif step == SwitchStep.DISABLE_OTHER:
            yield from run.activity(
                set_origin_enabled, {"front_door": plan["front_door"], "origin": other, "enabled": False}
            )
            run.note(f"origin {other} disabled")
        else:
            yield from run.sleep(DEPLOYMENT_POLL_SECONDS)


def bake(run: Run, plan: dict[str, Any]) -> Step:
    """Watch green; return None after a clean window, or the rollback trigger {trigger, detail, ...}."""
    settings = plan["settings"]["bake"]
    interval, window = settings["interval_minutes"], settings["window_minutes"]
    green_host = plan["front_door"]["green_host_resolved"]
    run.enter("bake", f"watching {green_host} for {window} min (5xx above {settings['max_error_rate']:.1%} rolls back)")
    for elapsed in range(interval, window + 1, interval):
        timer = run.context.create_timer(run.context.current_utc_datetime + timedelta(minutes=interval))
        rollback = run.context.wait_for_external_event(ROLLBACK_EVENT)
        winner = yield run.context.task_any([timer, rollback])
        if winner == rollback:
            timer.cancel()
            payload = event_payload(rollback.result)
            trigger = "alert" if payload.get("trigger") == "alert" else "manual"
            return {"trigger": trigger, "detail": payload.get("reason") or f"{trigger} rollback", "event": payload}
        rate = yield from run.activity(
            measure_error_rate,
            {
                "front_door": plan["front_door"],
                "origin_host": green_host,
                "end": run.context.current_utc_datetime.isoformat(),
                "window_minutes": interval,
            },
        )
        verdict = assess_error_rate(
            rate["requests"],
            rate["errors"],
            max_error_rate=settings["max_error_rate"],
            min_requests=settings["min_requests"],
        )
        run.details = {"elapsed_minutes": elapsed, "last": rate, "verdict": str(verdict)}
        run.publish()
        if verdict == BakeVerdict.SPIKE:
            detail = f"5xx {rate['errors']}/{rate['requests']} ({rate['rate']:.1%}) after {elapsed} min"
            return {"trigger": "metrics", "detail": detail, "measurement": rate}
    run.note(f"clean bake: {window} min without an error spike")
    return None


def retire(run: Run, plan: dict[str, Any]) -> Step:
    mode, blue = plan["settings"]["retire"], plan["blue"]
    run.enter("retire", f"retiring {blue['name']}: {mode}")
    if mode == "keep":
        run.note(f"{blue['name']} kept running as a hot standby")
        return
    start = start_cluster_stop if mode == "stop" else start_cluster_delete
    operation = yield from run.activity(start, {"cluster_id": blue["cluster_id"]})
    yield from wait_for_operation(run, blue["cluster_id"], operation, f"{mode} blue", gone=mode == "delete")
    run.note(f"{blue['name']} {'stopped' if mode == 'stop' else 'deleted'}")


def remove_green(run: Run, plan: dict[str, Any]) -> Step:
    """After a failure before the switch: delete green unless the configuration keeps it for study.

    Best effort: the run's outcome is already decided, and blue was never touched, so a failed
    delete is reported in the timeline rather than turning the outcome into a crash.
    """
    green = plan["green"]
    if plan["settings"]["keep_failed_green"]:
        run.note(f"{green['name']} kept for investigation (keep_failed_green)")
        return
    try:
        operation = yield from run.activity(start_cluster_delete, {"cluster_id": green["cluster_id"]})
        yield from wait_for_operation(run, green["cluster_id"], operation, "deleting green", gone=True)
    except StepFailed as failure:
        run.note(f"could not delete {green['name']} ({failure.code}: {failure.message}); delete it by hand")
        return
    run.note(f"{green['name']} deleted; {plan['blue']['name']} stayed live throughout")
