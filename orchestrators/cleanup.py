"""What becomes of the clusters once the outcome is decided: green removed or kept, blue retired.

A cleanup retries like any other step, on durable timers, for up to `CLEANUP_PATIENCE_MINUTES`. Its
failure never changes the outcome (that is decided), but whatever stays is named in the output's
`left_behind`, with why and how to remove it: nothing is left running that the outcome does not name.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from activities.inherit import unwire_cluster
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


def leave(run: Run, cluster_id: str, role: Role, state: Literal["running", "stopped", "unknown"], why: str) -> None:
    run.left_behind.append(
        contract.LeftBehind(
            cluster_id=cluster_id,
            name=ResourceId.parse(cluster_id).name,
            role=role,
            state=state,
            why=why,
            remove_with=remove_with(cluster_id),
        )
    )


def settle(
    run: Run, plan: contract.Plan, cluster_id: str, role: Role, mode: Mode, why: str, done: str | None = None
) -> Step:
    """Keep, stop or delete one cluster, retrying until it is done or patience runs out; record what stays.

    Green is only ever stopped or deleted if this run created it (its run tag), so a cluster that
    merely sits in green's slot is never touched.
    """
    name = ResourceId.parse(cluster_id).name
    if mode == "keep":
        leave(run, cluster_id, role, "running", why)
        run.note(f"{name} kept running: {why}")
        return
    kind = contract.OperationKind.STOP if mode == "stop" else contract.OperationKind.DELETE
    only_if_run = plan.run_id if role == "green" else None
    if mode == "delete":
        yield from unwire(run, cluster_id, role, only_if_run)
    give_up = run.now + timedelta(minutes=CLEANUP_PATIENCE_MINUTES)
    wait = float(CLEANUP_FIRST_WAIT_SECONDS)
    verb = "stop" if mode == "stop" else "delete"
    while True:
        task = operation(run, plan, kind, f"{verb} {role} ({name})", cluster_id=cluster_id, only_if_run=only_if_run)
        try:
            yield from until_done(run, task, abortable=False)
            break
        except StepFailed as failure:
            if failure.code == "NotThisRunsCluster":
                run.waiting_for = None
                run.note(f"{name} was not created by this run: it is left as it is")
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
        leave(run, cluster_id, role, "stopped", why)
        run.note(f"{name} stopped: {why}")
    else:
        run.note(done or f"{name} deleted")


def unwire(run: Run, cluster_id: str, role: Role, only_if_run: str | None) -> Step:
    """Before a cluster is deleted: its grants, federated credentials and wiring go first (they would dangle)."""
    name = ResourceId.parse(cluster_id).name
    try:
        unwired = yield from run.call(
            unwire_cluster, contract.ClusterTarget(cluster_id=cluster_id, only_if_run=only_if_run)
        )
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
        yield from settle(run, plan, plan.green.cluster_id, "green", mode, why)
        return
    yield from remove_green(run, plan)


def retire(run: Run, plan: contract.Plan) -> Step:
    mode, blue = plan.settings.retire, plan.blue
    run.enter(contract.Phase.RETIRE, f"retiring {blue.name}: {mode}")
    why = {"keep": "hot standby", "stop": "retired, restartable", "delete": ""}[mode] + f" (retire.mode = {mode})"
    yield from settle(run, plan, blue.cluster_id, "blue", mode, why)
