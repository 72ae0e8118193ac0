"""What becomes of the clusters once the outcome is decided: green removed or kept, blue retired.

A cleanup retries like any other step, on durable timers, for up to `CLEANUP_PATIENCE_MINUTES`. Its
failure never changes the outcome (that is decided), but whatever stays is named in the output's
`left_behind`, with why and how to remove it: nothing is left running that the outcome does not name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from activities.inherit import unwire_cluster
from activities.retention import mark_retained, release_retained
from bluegreen.arm_ids import ResourceId
from bluegreen.lazy import contract
from orchestrators.run import Run, Step, StepFailed, iso
from orchestrators.waits import operation, until_done

# An ARM outage of an hour is survived; after that the cluster is named as left behind.
CLEANUP_PATIENCE_MINUTES = 60
CLEANUP_FIRST_WAIT_SECONDS = 60
CLEANUP_MAX_WAIT_SECONDS = 15 * 60

Role = Literal["blue", "green"]
Mode = Literal["keep", "stop", "delete"]


def remove_with(cluster_id: str) -> str:
    rid = ResourceId.parse(cluster_id)
    return (
        f"az aks delete --subscription {rid.subscription} --resource-group {rid.resource_group} --name {rid.name} --yes"
    )


def leave(
    run: Run,
    cluster_id: str,
    role: Role,
    state: Literal["running", "stopped", "unknown"],
    why: str,
    retained_until: str | None = None,
) -> None:
    run.left_behind.append(
        contract.LeftBehind(
            cluster_id=cluster_id,
            name=ResourceId.parse(cluster_id).name,
            role=role,
            state=state,
            why=why,
            remove_with=remove_with(cluster_id),
            retained_until=retained_until,
        )
    )


def mark(run: Run, plan: contract.Plan, cluster_id: str, role: Role, retired_as: contract.RetiredAs) -> Step:
    """Tag a cluster about to be kept or stopped as retained until now + retire.retain_hours.

    Returns the end of its retention, or None if the tags could not be written: then the cluster stays
    until someone deletes it (no sweep, reclaim or revert acts on an untagged cluster), and the run says so.
    """
    pair = plan.traffic.groups[0]
    until = iso(run.now + timedelta(hours=plan.settings.retain_hours))
    request = contract.MarkRetained(
        cluster_id=cluster_id,
        environment=plan.environment,
        origin=pair.blue if role == "blue" else pair.green,
        run_id=plan.run_id,
        retired_as=retired_as,
        retained_until=until,
    )
    name = ResourceId.parse(cluster_id).name
    try:
        marked = yield from run.call(mark_retained, request)
    except StepFailed as failure:
        run.note(f"could not tag {name} as retained ({failure.reason}): it stays until deleted by hand")
        return None
    return marked.retained.retained_until if marked.retained is not None else None


def settle(
    run: Run,
    plan: contract.Plan,
    cluster_id: str,
    role: Role,
    mode: Mode,
    why: str,
    done: str | None = None,
    *,
    retain_as: contract.RetiredAs | None = None,
    retained_until: str | None = None,
    only_if_retired_by: str | None = None,
) -> Step:
    """Keep, stop or delete one cluster, retrying until it is done or patience runs out; record what stays.

    Green is only ever stopped or deleted if this run created it (its run tag), so a cluster that
    merely sits in green's slot is never touched. With `retain_as`, a kept or stopped cluster is first
    tagged as retained (bluegreen/retention.py); `only_if_retired_by` acts only on a cluster that run retained.
    """
    name = ResourceId.parse(cluster_id).name
    until = retained_until  # a cluster already retained keeps its own end (a revert that did not complete)
    if retain_as is not None and mode in ("keep", "stop"):
        until = yield from mark(run, plan, cluster_id, role, retain_as)
    retention = f"; retained until {until}" if until else ""
    if mode == "keep":
        leave(run, cluster_id, role, "running", why, until)
        run.note(f"{name} kept running: {why}{retention}")
        return
    kind = contract.OperationKind.STOP if mode == "stop" else contract.OperationKind.DELETE
    only_if_run = plan.run_id if role == "green" and only_if_retired_by is None else None
    if mode == "delete":
        yield from unwire(run, cluster_id, role, only_if_run, only_if_retired_by)
    give_up = run.now + timedelta(minutes=CLEANUP_PATIENCE_MINUTES)
    wait = float(CLEANUP_FIRST_WAIT_SECONDS)
    verb = "stop" if mode == "stop" else "delete"
    while True:
        task = operation(
            run,
            plan,
            kind,
            f"{verb} {role} ({name})",
            cluster_id=cluster_id,
            only_if_run=only_if_run,
            only_if_retired_by=only_if_retired_by,
        )
        try:
            yield from until_done(run, task, abortable=False)
            break
        except StepFailed as failure:
            if failure.code == "NotThisRunsCluster":
                run.waiting_for = None
                run.note(f"{name} is not this run's to {verb}: it is left as it is ({failure.message})")
                return  # not this run's to name, nor to remove
            left = (give_up - run.now).total_seconds()
            if left <= 0:
                run.waiting_for = None
                leave(run, cluster_id, role, "unknown", f"could not {verb} it: {failure.reason}")
                run.note(f"could not {verb} {name} ({failure.reason}); it is left as it is")
                return
            pause = min(wait, left)  # the last wait ends at the deadline, for one more try there
            retry_at = iso(run.now + timedelta(seconds=pause))
            run.waiting_for = f"Azure, to {verb} {name} ({failure.reason}); next try at {retry_at}"
            run.note(f"could not {verb} {name} yet ({failure.reason}); trying again in {pause / 60:.0f} min")
            yield run.timer(pause)
            wait = min(wait * 2, CLEANUP_MAX_WAIT_SECONDS)
    run.waiting_for = None
    if mode == "stop":
        leave(run, cluster_id, role, "stopped", why, until)
        run.note(f"{name} stopped: {why}{retention}")
    else:
        run.note(done or f"{name} deleted")


def unwire(
    run: Run, cluster_id: str, role: Role, only_if_run: str | None, only_if_retired_by: str | None = None
) -> Step:
    """Before a cluster is deleted: its grants, federated credentials and wiring go first (they would dangle)."""
    name = ResourceId.parse(cluster_id).name
    target = contract.ClusterTarget(
        cluster_id=cluster_id, only_if_run=only_if_run, only_if_retired_by=only_if_retired_by
    )
    try:
        unwired = yield from run.call(unwire_cluster, target)
    except StepFailed as failure:
        run.note(f"could not remove what is bound to {name} ({failure.reason}); deleting it anyway")
        return
    removed = {i.lower() for i in unwired.removed}
    run.inherited = [i.model_copy(update={"removed": True}) if i.id.lower() in removed else i for i in run.inherited]
    if unwired.removed:
        run.note(f"removed {len(unwired.removed)} grant(s), credential(s) and wiring bound to {role} ({name})")
    if unwired.failed:
        run.note(f"could not remove from {name}: {'; '.join(unwired.failed)}")


def remove_green(run: Run, plan: contract.Plan) -> Step:
    """After a failure, a rejection or an abort: delete green unless the configuration keeps it for study."""
    if plan.settings.keep_failed_green:
        leave(run, plan.green.cluster_id, "green", "running", "kept for investigation (keep_failed_green)")
        run.note(f"{plan.green.name} kept for investigation (keep_failed_green)")
        return
    done = f"{plan.green.name} deleted; {plan.blue.name} stayed live throughout"
    yield from settle(run, plan, plan.green.cluster_id, "green", "delete", "removed after the run ended", done)


def green_after_turn_back(run: Run, plan: contract.Plan, rolled_back: bool) -> Step:
    """Green once traffic is back on blue: after a rollback as `retire.after_rollback` says (it took
    traffic, so it is kept stopped by default for study); after a failed or aborted switch, removed."""
    if rolled_back:
        mode = plan.settings.after_rollback
        why = f"rolled back from (retire.after_rollback = {mode})"
        yield from settle(run, plan, plan.green.cluster_id, "green", mode, why, retain_as="rolled-back")
        return
    yield from remove_green(run, plan)


def retire(run: Run, plan: contract.Plan) -> Step:
    mode, blue = plan.settings.retire, plan.blue
    run.enter(contract.Phase.RETIRE, f"retiring {blue.name}: {mode}")
    why = {"keep": "hot standby", "stop": "retired, restartable", "delete": ""}[mode] + f" (retire.mode = {mode})"
    retired_as: contract.RetiredAs = "reverted-from" if plan.kind == "revert" else "retired"
    yield from settle(run, plan, blue.cluster_id, "blue", mode, why, retain_as=retired_as)


def reclaim_slot(run: Run, plan: contract.Plan) -> Step:
    """Delete the retained cluster in the idle slot (retire.reclaim_slot) before green is created there."""
    target = plan.reclaim
    if target is None:
        return
    run.note(
        f"reclaiming the idle slot: deleting {target.name} ({target.retired_as} by {target.retired_by}, "
        f"retained until {target.retained_until})"
    )
    yield from unwire(run, target.cluster_id, "green", None, target.retired_by)
    task = operation(
        run,
        plan,
        contract.OperationKind.DELETE,
        f"reclaim the idle slot ({target.name})",
        cluster_id=target.cluster_id,
        only_if_retired_by=target.retired_by,
    )
    yield from until_done(run, task)
    run.note(f"{target.name} deleted: the idle slot is free")


def release(run: Run, plan: contract.Plan) -> Step:
    """After a revert: the cluster it went back to is live, so its retention tags come off."""
    target = plan.revert_to
    if target is None:
        return
    request = contract.ReleaseRetained(cluster_id=target.cluster_id, retired_by=target.retired_by)
    try:
        yield from run.call(release_retained, request)
    except StepFailed as failure:  # harmless: the sweep never deletes the live cluster
        run.note(f"could not take the retention tags off {target.name} ({failure.reason})")
        return
    run.note(f"{target.name} is live again: no longer retained")


def restore_retained(run: Run, plan: contract.Plan) -> Step:
    """A revert that did not complete: the cluster it tried to go back to is put back as it was (retained)."""
    target = plan.revert_to
    if target is None:
        return
    why = f"back as it was ({target.retired_as} by {target.retired_by})"
    if target.power_state == "Stopped":
        yield from settle(
            run,
            plan,
            target.cluster_id,
            "green",
            "stop",
            why,
            retained_until=target.retained_until,
            only_if_retired_by=target.retired_by,
        )
        return
    leave(run, target.cluster_id, "green", "running", why, target.retained_until)
    run.note(f"{target.name} left running: {why}; retained until {target.retained_until}")
