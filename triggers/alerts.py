"""Azure Monitor alert webhook (common alert schema): a Fired alert on an environment's resource
during the switch or the bake re-enables blue's origins at once and raises Rollback on the run.

Action groups retry on 408/429/503/504 and otherwise give up, so the webhook answers fast and
answers 202 (with the reason) for alerts it deliberately ignores: a retry would change nothing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from bluegreen.lazy import contract
from orchestrators.events import ROLLBACK_EVENT
from triggers import decisions
from triggers.http_common import environments_config, models, reenable_blue
from triggers.responses import ApiError, invalid, json_api, json_response, parse_json_body
from triggers.runs import RunView, list_runs

bp = df.Blueprint()
log = logging.getLogger("bluegreen.triggers")

# (run id, alert id) pairs this worker already raised. The guarantee of one rollback per alert is the
# orchestrator's (it acts on the first Rollback only); this memory just spares it redundant events
# when an action group redelivers to the same worker before the run's status shows the rollback.
_RAISED: OrderedDict[tuple[str, str], None] = OrderedDict()
_RAISED_LIMIT = 1024


def forget_raised() -> None:
    """For a fresh local deployment (tests, rehearsals): their runs start at the same virtual instant with
    the same ids, which this worker-local memory would take for redeliveries."""
    _RAISED.clear()


def already_raised(run: RunView, alert_id: str) -> bool:
    # The creation time too: an id reused after a purge is another run.
    key = (f"{run.instance_id}@{run.created.isoformat() if run.created else ''}", alert_id.lower())
    if key in _RAISED:
        return True
    _RAISED[key] = None
    while len(_RAISED) > _RAISED_LIMIT:
        _RAISED.popitem(last=False)
    return False


def ignored(reason: str, **extra: Any) -> func.HttpResponse:
    return json_response({"action": "ignored", "reason": reason, **extra}, 202)


@bp.function_name("monitor_alerts")
@bp.route(route="alerts", methods=["POST"])
@bp.durable_client_input(client_name="client")
@json_api
async def monitor_alerts(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    data = parse_json_body(req, allow_empty=False)
    if not isinstance(data, dict):
        raise ApiError(400, "InvalidRequest", "the body must be a JSON object in the common alert schema")
    try:
        alert = models.CommonAlert.model_validate(data)
    except ValueError as exc:  # pydantic's ValidationError
        raise invalid(exc, "alert (expected the Azure Monitor common alert schema)") from None
    essentials = alert.data.essentials
    if essentials.monitor_condition != "Fired":
        return ignored(f"monitorCondition is {essentials.monitor_condition}; only Fired alerts roll back")

    outcomes: list[dict[str, Any]] = []
    for env in environments_config().environment:
        runs = await list_runs(client, env.name)
        active = next((r for r in runs if r.active), None)
        resources = active.status.resources if active else None
        green = resources.green if resources else None
        if not decisions.alert_matches(essentials.alert_target_ids, [env.front_door.id, env.app_insights_id, green]):
            continue
        action = decisions.alert_action(
            essentials.monitor_condition, active is not None, active.status if active else None
        )
        if action != decisions.AlertAction.ROLL_BACK or active is None:
            outcomes.append(
                {"environment": env.name, "runId": active.instance_id if active else None, "why": str(action)}
            )
            continue
        fired = essentials.fired_date_time.isoformat() if essentials.fired_date_time else None
        # One rollback per alert however often it is delivered: the orchestrator acts on the first
        # Rollback only, and once it has, the status shows `rollback` and later deliveries are ignored.
        if already_raised(active, essentials.alert_id):
            return ignored(
                "this alert was already delivered; its rollback is under way",
                code="duplicate_alert",
                environment=env.name,
                runId=active.instance_id,
            )
        # Users first: blue's origins are enabled now, before the run replays to record the rollback.
        enabled_in = await reenable_blue(active)
        event = contract.RollbackEvent(
            trigger="alert",
            by=f"azure-monitor:{essentials.alert_rule}",
            reason=f"alert {essentials.alert_rule} fired" + (f" at {fired}" if fired else ""),
            alert_rule=essentials.alert_rule,
            alert_id=essentials.alert_id,
            fired_at=fired,
            blue_enabled_in=enabled_in,
        )
        try:
            await client.raise_event(active.instance_id, ROLLBACK_EVENT, contract.wire(event))
        except Exception:
            # The run ended between the status read and the event: nothing is left to roll back.
            log.info("alert %s: run %s ended before the rollback was raised", essentials.alert_rule, active.instance_id)
            return ignored("the run finished before the alert arrived", environment=env.name, runId=active.instance_id)
        log.warning("alert %s: rollback raised on %s", essentials.alert_rule, active.instance_id)
        return json_response(
            {
                "action": "rollback",
                "runId": active.instance_id,
                "environment": env.name,
                "alertRule": essentials.alert_rule,
            },
            202,
        )
    if not outcomes:
        return ignored("no alert target is a resource (Front Door, Application Insights, green) of any environment")
    first = outcomes[0]
    reasons = {
        "no_run_in_progress": "no run is in progress for the environment",
        "not_in_switch_or_bake": "the run is not in the switch or bake phase",
        "already_rolling_back": "the run is already rolling back",
    }
    return ignored(
        reasons.get(first["why"], first["why"]),
        code=first["why"],
        environment=first["environment"],
        runId=first["runId"],
    )
