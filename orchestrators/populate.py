"""The populate phase: the applications reach green before it is upgraded and tested, as blue runs them.

gitops: blue's extensions and Flux configurations are copied onto green (the `gitops_populate`
sub-orchestration) until every configuration is Compliant. pipeline: the team's own pipeline is told
(a signed notice) and the run waits for `POST .../green-ready`. none: nothing to bring, by choice.
An Abort is honoured throughout.
"""

from __future__ import annotations

from datetime import timedelta

from activities.workloads import notify_pipeline
from bluegreen.lazy import contract
from orchestrators.children import GITOPS_POPULATE
from orchestrators.events import ABORT_EVENT, GREEN_READY_EVENT
from orchestrators.run import Run, Step, StepFailed, iso
from orchestrators.waits import abort_now, check_abort


def populate(run: Run, plan: contract.Plan) -> Step:
    workloads = plan.settings.workloads
    if workloads.mode == "none":
        run.enter(contract.Phase.POPULATE, "no applications to bring to green (workloads.mode = none)")
        return
    if workloads.mode == "gitops":
        yield from _gitops(run, plan, workloads)
    else:
        yield from _pipeline(run, plan, workloads)


def _gitops(run: Run, plan: contract.Plan, workloads: contract.WorkloadsPlan) -> Step:
    run.enter(
        contract.Phase.POPULATE,
        f"copying {len(workloads.extensions)} extension(s) and {len(workloads.flux_configurations)} Flux "
        f"configuration(s) from {plan.blue.name} to {plan.green.name}",
    )
    run.progress = contract.PopulateProgress(mode="gitops")
    run.publish()
    job = contract.GitopsPopulate(
        blue_id=plan.blue.cluster_id,
        green_id=plan.green.cluster_id,
        workloads=workloads,
        poll_seconds=plan.settings.poll_seconds,
        deadline=run.now + timedelta(minutes=workloads.timeout_minutes),
    )
    task = run.start_child(GITOPS_POPULATE, job)
    winner = yield from run.race(task, ABORT_EVENT)
    if winner is not task:
        # Not awaited: it only reads, and ends by itself (green gone, or its deadline); a kept green
        # (keep_failed_green) must not hold the aborted run until then.
        check_abort(run)
    result = run.child_result(task, contract.PopulateResult)
    run.progress = contract.PopulateProgress(mode="gitops", configurations=result.configurations)
    if not result.succeeded:
        raise StepFailed("PopulateFailed", result.detail)
    run.note(f"{plan.green.name} runs blue's applications: {result.detail}")


def _pipeline(run: Run, plan: contract.Plan, workloads: contract.WorkloadsPlan) -> Step:
    assert workloads.pipeline_url is not None and workloads.pipeline_secret is not None
    deadline = run.now + timedelta(minutes=workloads.timeout_minutes)
    run.enter(contract.Phase.POPULATE, f"asking the team's pipeline to deploy to {plan.green.name}")
    notice = contract.PipelineNotice(
        url=workloads.pipeline_url,
        secret=workloads.pipeline_secret,
        run_id=plan.run_id,
        environment=plan.environment,
        green_id=plan.green.cluster_id,
        green_name=plan.green.name,
        resource_group=plan.green.cluster_id.split("/")[4],
        blue_id=plan.blue.cluster_id,
        target_version=plan.target_version,
        deadline=iso(deadline),
    )
    # Awaited before the notice goes out: a fast pipeline may call back before the notice's answer.
    run.awaiting, run.deadline = contract.Awaiting.GREEN_READY, iso(deadline)
    run.progress = contract.PopulateProgress(mode="pipeline", notified=workloads.pipeline_url)
    run.publish()
    try:
        notified = yield from run.call(notify_pipeline, notice)
    except StepFailed:
        run.awaiting, run.deadline = None, None
        raise
    run.note(f"pipeline notified ({notified.status}); waiting for green-ready until {iso(deadline)}")
    timer = run.context.create_timer(deadline)
    winner = yield from run.race(timer, GREEN_READY_EVENT, ABORT_EVENT)
    run.awaiting, run.deadline = None, None  # decided: the door stops offering green-ready now
    if winner is timer:
        raise StepFailed("PipelineTimedOut", f"the pipeline did not call green-ready by {iso(deadline)}")
    timer.cancel()
    if (abort := run.received(ABORT_EVENT, contract.AbortEvent)) is not None:
        abort_now(run, abort)
    ready = run.received(GREEN_READY_EVENT, contract.GreenReadyEvent)
    assert ready is not None
    if not ready.ok:
        raise StepFailed("PipelineFailed", f"the pipeline reported failure ({ready.by}): {ready.detail or 'no detail'}")
    run.note(f"the pipeline deployed to green ({ready.by}): {ready.detail or 'ok'}")
