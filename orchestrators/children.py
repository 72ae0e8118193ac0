"""Sub-orchestrations: the long waits of a run, each in its own short history.

A Durable host replays an orchestration's whole history on every event, so a run that polled AKS and
Front Door and watched metrics in one instance would cost the square of its length. Each wait here is
its own instance, and one that would grow past `MAX_WAITS` continues as new with what it has learnt,
so every history stays a few hundred events however long the operation takes.

- `cluster_operation`: start one AKS operation (idempotent) and check it on durable timers.
- `front_door_deployment`: read Front Door until it reports every change deployed, or a deadline.
- `gitops_populate`: copy blue's extensions onto green and wait until installed, then its Flux
  configurations and wait until every one is Compliant (or the deadline).
- `bake_watch`: green's 5xx share every interval of the bake window; ends early on a spike, or when
  green no longer takes traffic (a rollback moved it).
- `edge_convergence`: after a traffic change, the share of requests each group's green origin gets,
  every minute, until it matches what the change intends (or a deadline): when users really moved.
- `step_analysis`: one step of a gradual switch, green against blue every interval and over the step.
Each reports Azure trouble in its result; none raises for it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import azure.durable_functions as df

from activities.clusters import (
    check_cluster_operation,
    start_cluster_delete,
    start_cluster_start,
    start_cluster_stop,
    start_control_plane_upgrade,
    start_green_create,
    start_pool_upgrade,
)
from activities.traffic import measure_comparison, measure_error_rate, measure_traffic_share, read_traffic
from activities.workloads import check_configurations, copy_configurations
from bluegreen.lazy import contract, gradual
from orchestrators import bp
from orchestrators.run import Step, StepFailed, call, timer

if TYPE_CHECKING:
    from activities._activity import Activity

CLUSTER_OPERATION = "cluster_operation"
GITOPS_POPULATE = "gitops_populate"
FRONT_DOOR_DEPLOYMENT = "front_door_deployment"
BAKE_WATCH = "bake_watch"
EDGE_CONVERGENCE = "edge_convergence"
STEP_ANALYSIS = "step_analysis"

# Timers + checks per execution before continuing as new: ~8 history events each, so ~300 at most.
MAX_WAITS = 36
# Polls back off from the configured interval to four times it: fewer events per hour-long operation.
POLL_BACKOFF_CAP = 4
# Front Door propagates changes over minutes (up to ~20): re-read every 30 s, backing off to 2 min.
DEPLOYMENT_POLL_SECONDS = 30
DEPLOYMENT_POLL_CAP_SECONDS = 120
# Front Door publishes its metrics per minute: the share of requests is read once a minute.
CONVERGENCE_POLL_SECONDS = 60
# A gradual step with too little traffic on green to judge is extended, up to this many times its length.
STEP_EXTENSION_FACTOR = 2


def _start(context: df.DurableOrchestrationContext, op: contract.ClusterOperation) -> Step:
    """The operation's start activity (each reads first, so a repeated start finds the running operation)."""
    kind = contract.OperationKind
    starter: Activity[Any, contract.OperationHandle]
    request: Any
    if op.kind == kind.CREATE:
        assert op.create is not None
        starter, request = start_green_create, op.create
    elif op.kind == kind.UPGRADE_CONTROL_PLANE:
        assert op.version is not None
        starter = start_control_plane_upgrade
        request = contract.ControlPlaneUpgrade(cluster_id=op.cluster_id, version=op.version)
    elif op.kind == kind.UPGRADE_POOL:
        assert op.version is not None and op.pool is not None
        starter = start_pool_upgrade
        request = contract.PoolUpgrade(cluster_id=op.cluster_id, pool=op.pool, version=op.version)
    else:
        starters = {kind.STOP: start_cluster_stop, kind.START: start_cluster_start, kind.DELETE: start_cluster_delete}
        starter = starters[op.kind]
        request = contract.ClusterTarget(
            cluster_id=op.cluster_id, only_if_run=op.only_if_run, only_if_retired_by=op.only_if_retired_by
        )
    return (yield from call(context, starter, request))


@bp.function_name(CLUSTER_OPERATION)
@bp.orchestration_trigger(context_name="context")
def cluster_operation(context: df.DurableOrchestrationContext) -> Step:
    op = contract.ClusterOperation.model_validate(context.get_input())
    polls = op.polls
    try:
        handle = op.started
        if handle is None:
            handle = yield from _start(context, op)
        interval = float(op.poll_seconds)
        check = contract.OperationCheck(
            cluster_id=op.cluster_id,
            operation=handle,
            expect_gone=op.kind == contract.OperationKind.DELETE,
            pool=op.pool if op.kind == contract.OperationKind.UPGRADE_POOL else None,
        )
        while True:
            status = yield from call(context, check_cluster_operation, check)
            if status.status == contract.OperationState.SUCCEEDED:
                return contract.wire(contract.OperationResult(succeeded=True, polls=polls))
            if status.status in (contract.OperationState.FAILED, contract.OperationState.CANCELED):
                error = status.error or contract.ErrorInfo(code="OperationFailed", message="failed")
                failed = contract.ErrorInfo(code=error.code, message=f"{op.what}: {error.message}")
                return contract.wire(contract.OperationResult(succeeded=False, error=failed, polls=polls))
            polls += 1
            if polls - op.polls >= MAX_WAITS:
                context.continue_as_new(contract.wire(op.model_copy(update={"started": handle, "polls": polls})))
                return None
            yield timer(context, interval)
            interval = min(interval * 2, op.poll_seconds * POLL_BACKOFF_CAP)
    except StepFailed as failure:
        error = contract.ErrorInfo(code=failure.code, message=f"{op.what}: {failure.message}")
        return contract.wire(contract.OperationResult(succeeded=False, error=error, polls=polls))


@bp.function_name(FRONT_DOOR_DEPLOYMENT)
@bp.orchestration_trigger(context_name="context")
def front_door_deployment(context: df.DurableOrchestrationContext) -> Step:
    wait = contract.DeploymentWait.model_validate(context.get_input())
    polls = wait.polls
    interval = float(DEPLOYMENT_POLL_SECONDS)
    read = contract.TrafficRead(traffic=wait.traffic)
    while True:
        try:
            snapshot = yield from call(context, read_traffic, read)
            if all(group.deployed for group in snapshot.groups):
                return contract.wire(contract.DeploymentResult(deployed=True, polls=polls))
        except StepFailed:
            pass  # Front Door unreadable for a while: keep looking until the deadline
        now = context.current_utc_datetime
        if now >= wait.deadline:
            return contract.wire(contract.DeploymentResult(deployed=False, polls=polls))
        polls += 1
        if polls - wait.polls >= MAX_WAITS:
            context.continue_as_new(contract.wire(wait.model_copy(update={"polls": polls})))
            return None
        yield timer(context, min(interval, (wait.deadline - now).total_seconds()))
        interval = min(interval * 2, DEPLOYMENT_POLL_CAP_SECONDS)


@bp.function_name(BAKE_WATCH)
@bp.orchestration_trigger(context_name="context")
def bake_watch(context: df.DurableOrchestrationContext) -> Step:
    watch = contract.BakeWatch.model_validate(context.get_input())
    bake = watch.bake
    elapsed, checks = watch.elapsed_minutes, 0
    last: contract.ErrorRate | None = None
    while elapsed + bake.interval_minutes <= bake.window_minutes:
        yield context.create_timer(context.current_utc_datetime + timedelta(minutes=bake.interval_minutes))
        elapsed += bake.interval_minutes
        request = contract.ErrorRateInput(
            traffic=watch.traffic,
            hosts=watch.hosts,
            end=context.current_utc_datetime,
            window_minutes=bake.interval_minutes,
            max_error_rate=bake.max_error_rate,
            min_requests=bake.min_requests,
        )
        try:
            last = yield from call(context, measure_error_rate, request)
        except StepFailed:
            continue  # no metrics for this interval: it decides nothing (alerts still roll back)
        context.set_custom_status(contract.wire(contract.BakeProgress(elapsed_minutes=elapsed, last=last)))
        if last.verdict == contract.BakeVerdict.SPIKE:
            detail = f"5xx {last.errors}/{last.requests} ({last.rate:.1%}) after {elapsed} min"
            result = contract.BakeResult(verdict="spike", elapsed_minutes=elapsed, last=last, detail=detail)
            return contract.wire(result)
        if not last.green_enabled:
            detail = f"green no longer takes traffic after {elapsed} min"
            return contract.wire(
                contract.BakeResult(verdict="stopped", elapsed_minutes=elapsed, last=last, detail=detail)
            )
        checks += 1
        if checks >= MAX_WAITS and elapsed + bake.interval_minutes <= bake.window_minutes:
            context.continue_as_new(contract.wire(watch.model_copy(update={"elapsed_minutes": elapsed})))
            return None
    detail = f"clean bake: {bake.window_minutes} min without an error spike"
    return contract.wire(contract.BakeResult(verdict="clean", elapsed_minutes=elapsed, last=last, detail=detail))


@bp.function_name(GITOPS_POPULATE)
@bp.orchestration_trigger(context_name="context")
def gitops_populate(context: df.DurableOrchestrationContext) -> Step:
    job = contract.GitopsPopulate.model_validate(context.get_input())
    stages = [kind for kind in ("extensions", "flux_configurations") if _names(job, kind)]
    polls, interval = job.polls, float(job.poll_seconds)
    states: list[contract.ConfigurationState] = []
    try:
        for kind in stages[stages.index(job.stage) if job.stage in stages else 0 :]:
            names = _names(job, kind)
            if not (job.copied and kind == job.stage):
                copy = contract.CopyConfigurations(
                    blue_id=job.blue_id,
                    green_id=job.green_id,
                    kind=kind,
                    names=names,
                    protected_settings=job.workloads.protected_settings,
                )
                yield from call(context, copy_configurations, copy)
            check = contract.ConfigurationsCheck(cluster_id=job.green_id, kind=kind, names=names)
            while True:
                found = yield from call(context, check_configurations, check)
                states = found.states
                if found.ready(kind):
                    break
                if found.failed() or any(s.provisioning_state == "NotFound" for s in states):
                    return contract.wire(_populate_failed(kind, states, "failed"))
                if context.current_utc_datetime >= job.deadline:
                    return contract.wire(_populate_failed(kind, states, "did not get ready in time"))
                polls += 1
                if polls - job.polls >= MAX_WAITS:
                    again = job.model_copy(update={"stage": kind, "copied": True, "polls": polls})
                    context.continue_as_new(contract.wire(again))
                    return None
                left = (job.deadline - context.current_utc_datetime).total_seconds()
                yield timer(context, max(1.0, min(interval, left)))
                interval = min(interval * 2, job.poll_seconds * POLL_BACKOFF_CAP)
    except StepFailed as failure:
        error = contract.ErrorInfo(code=failure.code, message=failure.message)
        return contract.wire(
            contract.PopulateResult(succeeded=False, detail=failure.reason, configurations=states, error=error)
        )
    detail = "every Flux configuration Compliant" if job.workloads.flux_configurations else "extensions installed"
    return contract.wire(contract.PopulateResult(succeeded=True, detail=detail, configurations=states))


def _names(job: contract.GitopsPopulate, kind: str) -> list[str]:
    return job.workloads.extensions if kind == "extensions" else job.workloads.flux_configurations


def _populate_failed(kind: str, states: list[contract.ConfigurationState], why: str) -> contract.PopulateResult:
    what = "extensions" if kind == "extensions" else "Flux configurations"
    stuck = [
        s
        for s in states
        if s.provisioning_state != "Succeeded" or (kind != "extensions" and s.compliance_state != "Compliant")
    ]
    described = "; ".join(
        f"{s.name}: {s.compliance_state or s.provisioning_state}" + (f" ({s.message})" if s.message else "")
        for s in stuck
    )
    detail = f"green's {what} {why}: {described}"
    return contract.PopulateResult(
        succeeded=False,
        detail=detail,
        configurations=states,
        error=contract.ErrorInfo(code="PopulateFailed", message=detail),
    )


@bp.function_name(EDGE_CONVERGENCE)
@bp.orchestration_trigger(context_name="context")
def edge_convergence(context: df.DurableOrchestrationContext) -> Step:
    wait = contract.ConvergenceWait.model_validate(context.get_input())
    polls = wait.polls
    shares: list[contract.GroupShare] = []
    while True:
        now = context.current_utc_datetime
        try:
            found = yield from call(context, measure_traffic_share, contract.ShareRead(traffic=wait.traffic, end=now))
            shares = found.groups
            if any(
                g.configured_green is not None and abs(g.configured_green - wait.green_share) > wait.tolerance
                for g in shares
            ):
                # Front Door no longer intends this share (a rollback changed it): nothing left to wait for.
                minutes = round((now - wait.changed_at).total_seconds() / 60, 1)
                return contract.wire(
                    contract.ConvergenceResult(
                        converged=False, superseded=True, minutes=minutes, shares=shares, polls=polls
                    )
                )
            pairs = [(g.green_requests, g.blue_requests) for g in shares]
            if gradual.converged(pairs, wait.green_share, wait.tolerance, wait.min_requests):
                minutes = round((now - wait.changed_at).total_seconds() / 60, 1)
                return contract.wire(
                    contract.ConvergenceResult(converged=True, minutes=minutes, shares=shares, polls=polls)
                )
        except StepFailed:
            pass  # no metrics this minute: it decides nothing
        if now >= wait.deadline:
            minutes = round((now - wait.changed_at).total_seconds() / 60, 1)
            return contract.wire(
                contract.ConvergenceResult(converged=False, minutes=minutes, shares=shares, polls=polls)
            )
        polls += 1
        if polls - wait.polls >= MAX_WAITS:
            context.continue_as_new(contract.wire(wait.model_copy(update={"polls": polls})))
            return None
        yield timer(context, min(CONVERGENCE_POLL_SECONDS, max(1.0, (wait.deadline - now).total_seconds())))


@bp.function_name(STEP_ANALYSIS)
@bp.orchestration_trigger(context_name="context")
def step_analysis(context: df.DurableOrchestrationContext) -> Step:
    """Green against blue while `percent` of requests go to green: every interval (a spike ends the step at
    once), then over the whole step. Too little traffic on green to judge extends the step, then fails it."""
    step = contract.StepAnalysis.model_validate(context.get_input())
    analysis = step.analysis
    elapsed, green, blue, checks = step.elapsed_minutes, step.green, step.blue, 0
    latest = step.step_minutes * STEP_EXTENSION_FACTOR

    def ended(verdict: Literal["pass", "fail", "stopped"], detail: str) -> contract.Wire:
        return contract.wire(
            contract.StepResult(
                verdict=verdict, percent=step.percent, elapsed_minutes=elapsed, green=green, blue=blue, detail=detail
            )
        )

    while True:
        yield context.create_timer(context.current_utc_datetime + timedelta(minutes=analysis.interval_minutes))
        elapsed += analysis.interval_minutes
        read = contract.ComparisonRead(
            traffic=step.traffic,
            end=context.current_utc_datetime,
            window_minutes=analysis.interval_minutes,
            latency=analysis.max_latency_ms is not None or analysis.max_latency_ratio is not None,
        )
        try:
            now = yield from call(context, measure_comparison, read)
        except StepFailed:
            now = None  # no metrics for this interval: it decides nothing (alerts still roll back)
        if now is not None:
            green, blue = green + now.green, blue + now.blue
            context.set_custom_status(
                contract.wire(
                    contract.StepProgress(
                        percent=step.percent, steps=step.steps, elapsed_minutes=elapsed, green=green, blue=blue
                    )
                )
            )
            if not now.green_enabled:
                return ended("stopped", f"green no longer takes traffic after {elapsed} min at {step.percent}%")
            if now.green.requests >= analysis.min_requests:
                why = gradual.failing(now.green, now.blue, analysis)
                if why is not None:
                    return ended("fail", f"at {step.percent}% after {elapsed} min: {why}")
        if elapsed >= step.step_minutes:
            if green.requests >= analysis.min_requests:
                why = gradual.failing(green, blue, analysis)
                if why is not None:
                    return ended("fail", f"at {step.percent}% over {elapsed} min: {why}")
                return ended("pass", f"{step.percent}% for {elapsed} min: {gradual.describe(green, blue)}")
            if elapsed >= latest:
                return ended(
                    "fail",
                    f"at {step.percent}%: too little traffic on green to judge ({green.requests} requests in "
                    f"{elapsed} min, {analysis.min_requests} needed)",
                )
        checks += 1
        if checks >= MAX_WAITS:
            carry = {"elapsed_minutes": elapsed, "green": green, "blue": blue}
            context.continue_as_new(contract.wire(step.model_copy(update=carry)))
            return None
