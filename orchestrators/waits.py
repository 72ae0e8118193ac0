"""How the runbook waits: for a cluster operation (a sub-orchestration), for a pause, and what an Abort does meanwhile.

Before the switch an Abort is honoured during every wait. An AKS operation cannot be interrupted half
way, so an Abort that arrives during one is acted on once the operation has ended.
"""

from __future__ import annotations

from typing import Any, NoReturn

from bluegreen.lazy import contract
from orchestrators.children import CLUSTER_OPERATION
from orchestrators.events import ABORT_EVENT
from orchestrators.run import Aborted, Run, Step, StepFailed


def operation(run: Run, plan: contract.Plan, kind: contract.OperationKind, what: str, **fields: Any) -> Any:
    """The task of a `cluster_operation` sub-orchestration on green (or another cluster: `cluster_id=`)."""
    request = contract.ClusterOperation(
        kind=kind,
        cluster_id=fields.pop("cluster_id", plan.green.cluster_id),
        what=what,
        poll_seconds=plan.settings.poll_seconds,
        **fields,
    )
    return run.start_child(CLUSTER_OPERATION, request)


def abort_now(run: Run, event: contract.AbortEvent) -> NoReturn:
    """Record the Abort the run acts on (the door waits to see it), then unwind to the runbook."""
    run.abort = event
    run.publish()
    raise Aborted(event)


def check_abort(run: Run) -> None:
    if (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
        abort_now(run, abort)


def until_done(run: Run, task: Any, *, abortable: bool = True) -> Step:
    """Wait for an operation; raise StepFailed if it failed, Aborted if an Abort came meanwhile."""
    if abortable:
        winner = yield from run.race(task, ABORT_EVENT)
        if winner is not task:
            abort = run.received(ABORT_EVENT, contract.AbortEvent)
            run.abort = abort
            run.note("abort requested: waiting for green's running operation to end first")
            yield task
    else:
        yield task
    result = run.child_result(task, contract.OperationResult)
    if abortable:
        check_abort(run)
    if not result.succeeded:
        error = result.error or contract.ErrorInfo(code="OperationFailed", message="failed")
        raise StepFailed(error.code, error.message)
    return result


def pause(run: Run, seconds: float) -> Step:
    """A durable timer; before the switch an Abort cuts it short."""
    timer = run.timer(seconds)
    winner = yield from run.race(timer, ABORT_EVENT)
    if winner is not timer:
        timer.cancel()
        check_abort(run)
