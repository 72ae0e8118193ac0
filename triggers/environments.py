"""The operator API's environments: what a run of one would do now (`GET /api/environments/{name}/plan`).

A plan only reads (the clients refuse writes), so like every read of this API it needs the function key
and no signed-in caller. Its answer is the same PlanReport `python -m bluegreen plan --json` prints.
"""

from __future__ import annotations

import asyncio

import azure.functions as func

from bluegreen.lazy import azure, contract, errors, planning
from triggers.http_common import bp, environments_config, models
from triggers.responses import ApiError, invalid, json_api, json_response


def read_only_clients() -> azure.AzureClients:
    shared = azure.clients()
    return azure.AzureClients(shared.settings, read_only=True)


@bp.route(route="environments/{name}/plan", methods=["GET"])
@json_api
async def get_plan(req: func.HttpRequest) -> func.HttpResponse:
    try:
        query = models.PlanQuery.model_validate(dict(req.params))
    except ValueError as exc:
        raise invalid(exc, "query") from None
    name = req.route_params.get("name", "")
    env = environments_config().get(name)
    if env is None:
        raise ApiError(404, "UnknownEnvironment", f"no environment named {name!r} is configured")
    strategy = contract.Strategy(query.strategy) if query.strategy else None
    try:
        report = await asyncio.to_thread(planning.plan_report, read_only_clients(), env, query.target_version, strategy)
    except errors.BlueGreenError as exc:
        if exc.temporary:
            raise ApiError(503, exc.code, f"Azure did not answer the plan's reads: {exc.message}") from None
        # The request asked for what cannot be (400), or the estate is not in a state to plan from (409).
        status = 400 if exc.code in planning.VERSION_REFUSALS else 409
        raise ApiError(status, exc.code, exc.message) from None
    return json_response(contract.wire(report))
