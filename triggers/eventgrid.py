"""AKS lifecycle events (Event Grid schema or CloudEvents): support ending/ended on an environment's
live cluster starts a run for that environment; NewKubernetesVersionAvailable only if its policy says so.

Event Grid delivers at least once, so the same event may come again: a run is started only when
the environment has none in progress and no earlier run was started by this event id. An error
reading Azure is raised (Event Grid retries); an event we will never act on is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import azure.durable_functions as df
import azure.functions as func

from bluegreen.arm_ids import ResourceId, same_resource
from bluegreen.lazy import azure, config, contract, errors, lazy_import, planning
from triggers import decisions
from triggers.runs import start_run

if TYPE_CHECKING:
    from triggers import models
else:
    models = lazy_import("triggers.models")

bp = df.Blueprint()
log = logging.getLogger("bluegreen.triggers")


def normalise(event: Any) -> models.AksEvent:
    """func.EventGridEvent or func.CloudEvent (the worker picks by `specversion`) -> AksEvent."""
    if hasattr(event, "specversion"):
        fields = {"id": event.id, "topic": event.source, "subject": event.subject, "event_type": event.type}
    else:
        fields = {"id": event.id, "topic": event.topic, "subject": event.subject, "event_type": event.event_type}
    return models.AksEvent.model_validate({**fields, "data": event.get_json()})


def could_be_ours(env: config.Environment, cluster: ResourceId) -> bool:
    """Cheap pre-filter before asking Front Door: same subscription and resource group as the environment."""
    c = env.clusters
    return (
        c.location_subscription.lower() == cluster.subscription.lower()
        and c.location_resource_group.lower() == cluster.resource_group.lower()
    )


async def environment_for(cluster: ResourceId) -> config.Environment | None:
    for env in config.load_environments().environment:
        if not could_be_ours(env, cluster):
            continue
        # Azure SDK calls block: keep them off the worker's event loop. A temporary Azure error is
        # raised (Event Grid redelivers); a permanent one (e.g. both origins enabled) cannot be retried away.
        try:
            live = await asyncio.to_thread(planning.live_cluster_id, azure.clients(), env)
        except errors.PermanentError as exc:
            log.warning("environment %s skipped: its live cluster is unknown (%s)", env.name, exc.code)
            continue
        if same_resource(live, str(cluster)):
            return env
    return None


def describe(event: models.AksEvent) -> str:
    version = event.data.get("kubernetesVersion") or event.data.get("latestSupportedKubernetesVersion")
    cluster = event.cluster.name if event.cluster else event.subject
    return f"AKS {event.short_type} for {cluster}" + (f" ({version})" if version else "")


@bp.function_name("aks_lifecycle_events")
@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def aks_lifecycle_events(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    try:
        aks = normalise(event)
    except (ValueError, AttributeError, TypeError) as exc:  # ValueError: pydantic's ValidationError
        errors_of = getattr(exc, "errors", None)
        log.warning(
            "event %s ignored: not an AKS event we can read (%d problems)",
            getattr(event, "id", "?"),
            len(errors_of()) if callable(errors_of) else 1,
        )
        return
    if aks.short_type not in decisions.LIFECYCLE_STARTERS:
        log.info("event %s (%s) logged and ignored: not a type that starts runs", aks.id, aks.event_type)
        return
    cluster = aks.cluster
    if cluster is None:
        log.warning("event %s ignored: topic is not a managed cluster id", aks.id)
        return
    env = await environment_for(cluster)
    if env is None:
        log.info("event %s ignored: %s is the live cluster of no environment", aks.id, cluster.name)
        return
    if decisions.event_action(aks.short_type, env.policy.start_on) != decisions.EventAction.START:
        log.info("event %s ignored: %s's policy does not start runs on %s", aks.id, env.name, aks.short_type)
        return
    request = contract.RunRequest(
        environment=env.name,
        target_version=None,  # the environment's policy.target decides (default: newest GA)
        reason=describe(aks),
        started_by=f"eventgrid:{aks.short_type}",
        trigger=contract.RunTrigger(kind="eventgrid", event_id=aks.id, event_type=aks.event_type),
    )
    result = await start_run(client, request)
    log.info("event %s for %s: %s (%s)", aks.id, env.name, result.reason, result.instance_id)
