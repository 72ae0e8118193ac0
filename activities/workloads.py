"""Populate activities: copy blue's extensions and Flux configurations onto green, watch them, or notify a pipeline.

Secrets (protected settings, the pipeline's HMAC key) are read here from their references and used at
once: they never reach the orchestrator, its history, or a log line.
"""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, contract, errors, pipeline, secrets, workloads


@activity(bp)
def copy_configurations(request: contract.CopyConfigurations) -> contract.ConfigurationsCopied:
    """Start a PUT on green for each of blue's named configurations that green does not have yet."""
    client = azure.clients()
    configurations = workloads.Configurations(client)
    started, existing = [], []
    for name in request.names:
        if configurations.get(request.green_id, request.kind, name) is not None:
            existing.append(name)  # a repeated start (activities run at least once)
            continue
        source = configurations.get(request.blue_id, request.kind, name)
        if source is None:
            raise errors.PermanentError("ConfigurationGone", f"blue no longer has {request.kind} {name!r}")
        protected = workloads.resolve_protected(client, request.protected_settings.get(name, {}))
        configurations.start_copy(request.green_id, request.kind, source, protected)
        started.append(name)
    return contract.ConfigurationsCopied(started=started, existing=existing)


@activity(bp)
def check_configurations(request: contract.ConfigurationsCheck) -> contract.ConfigurationsState:
    configurations = workloads.Configurations(azure.clients())
    return contract.ConfigurationsState(
        states=[configurations.state(request.cluster_id, request.kind, name) for name in request.names]
    )


@activity(bp)
def notify_pipeline(request: contract.PipelineNotice) -> contract.PipelineNotified:
    """POST the signed notice: the team's pipeline deploys to green, then calls green-ready."""
    client = azure.clients()
    key = secrets.resolve(client, request.secret)
    callback = pipeline.callback_url(client.settings, request.run_id)
    status = pipeline.send_notice(request, key, callback)
    return contract.PipelineNotified(status=status, callback_url=callback)
