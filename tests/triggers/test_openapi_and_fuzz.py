"""The OpenAPI description matches the registered routes; random bodies never get a 500."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import triggers
from tests.triggers.conftest import ALICE, Stack

SPEC = json.loads((Path(__file__).resolve().parents[2] / "triggers" / "openapi.json").read_text())


def registered_routes() -> dict[tuple[str, str], str]:
    """(path, method) -> function name, for every HTTP trigger on the triggers' blueprints.

    Read from the blueprints' builders: app.get_functions() may be called only once per app
    object (it records names to refuse duplicates), and the local host makes that call.
    """
    routes = {}
    for blueprint in triggers.BLUEPRINTS:
        for builder in blueprint._function_builders:
            fn = builder._function
            for binding in fn.get_bindings():
                if binding.type == "httpTrigger":
                    for method in binding.methods or []:
                        name = getattr(method, "value", method)
                        routes[("/" + binding.route.strip("/"), str(name).lower())] = fn.get_function_name()
    return routes


def test_function_app_registers_every_trigger_blueprint() -> None:
    source = (Path(__file__).resolve().parents[2] / "function_app.py").read_text()
    for name in ("http_bp", "alerts_bp", "eventgrid_bp", "retention_bp"):
        assert f"app.register_functions(triggers.{name})" in source


def test_openapi_lists_exactly_the_registered_routes_with_their_operations() -> None:
    documented = {
        (path, method): operation["operationId"]
        for path, operations in SPEC["paths"].items()
        for method, operation in operations.items()
    }
    assert documented == registered_routes()


def test_openapi_shows_the_run_contract_as_the_models_define_it() -> None:
    """RunStatus and RunOutput reach the API as they are in history: their schemas are the models'."""
    from triggers.schemas import contract_schemas

    expected = contract_schemas()
    assert {"RunStatus", "RunOutput", "TimelineEntry", "Phase", "Outcome"} <= set(expected)
    for name, schema in expected.items():
        assert SPEC["components"]["schemas"].get(name) == schema, (
            f"openapi.json is stale for {name}: run python -m triggers.schemas"
        )
    detail = SPEC["components"]["schemas"]["RunDetail"]["allOf"][1]["properties"]
    assert detail["customStatus"] == {"$ref": "#/components/schemas/RunStatus"}


def test_openapi_is_served(stack: Stack) -> None:
    status, body = stack.api("GET", "openapi.json", user=None)
    assert status == 200 and body == SPEC


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Bodies that look like ours, with fields of the wrong type or values out of range.
shaped = st.fixed_dictionaries(
    {},
    optional={
        "environment": json_values,
        "targetVersion": json_values,
        "strategy": json_values,
        "reason": json_values,
        "comment": json_values,
        "schemaId": st.just("azureMonitorCommonAlertSchema"),
        "data": st.fixed_dictionaries({}, optional={"essentials": json_values, "alertContext": json_values}),
    },
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
)
AKS_TOPIC = (
    "/subscriptions/5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23/resourceGroups/rg-nod-prod"
    "/providers/Microsoft.ContainerService/managedClusters/aks-nod-prod-blue"
)
AKS_TYPES = [
    "Microsoft.ContainerService.NewKubernetesVersionAvailable",
    "Microsoft.ContainerService.NodePoolRollingStarted",
    "Microsoft.ContainerService.ClusterSupportEnding",
]
ENDPOINTS = [
    ("POST", "upgrades"),
    ("GET", "upgrades"),
    ("GET", "upgrades/nod-prod-7"),
    ("POST", "upgrades/nod-prod-7/approve"),
    ("POST", "upgrades/nod-prod-7/reject"),
    ("POST", "upgrades/nod-prod-7/rollback"),
    ("POST", "upgrades/nod-prod-7/abort"),
    ("POST", "alerts"),
    ("GET", "environments/nod-prod/plan"),
    ("GET", "environments"),
    ("GET", "environments/nod-prod"),
    ("POST", "environments/nod-prod/revert"),
    ("GET", "ui"),
    ("GET", "ui/runs/nod-prod-7"),
    ("GET", "ui/runs/nod-prod-7/timeline"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies, signed_in=st.booleans(), query=st.text(max_size=10))
def test_random_bodies_never_get_a_500(stack: Stack, endpoint, body, signed_in, query) -> None:
    method, path = endpoint
    if method == "GET":
        path = f"{path}?limit={quote(query)}&environment={quote(query)}"
    status, answer = stack.api(method, path, raw=body if method == "POST" else None, user=ALICE if signed_in else None)
    assert status < 500, answer
    if status >= 400:
        assert set(answer["error"]) >= {"code", "message"}


# Envelopes the Functions binding can decode (Event Grid validates the envelope before delivering)
# with random ids, topics, types and data: the function must never fail on them.
text_or_none = st.none() | st.text(max_size=30)
envelopes = st.fixed_dictionaries(
    {
        "id": st.text(max_size=20),
        "topic": text_or_none | st.sampled_from([AKS_TOPIC, AKS_TOPIC.lower(), AKS_TOPIC + "/agentPools/x"]),
        "subject": text_or_none,
        "eventType": text_or_none | st.sampled_from(AKS_TYPES),
        "eventTime": st.just("2026-11-20T06:00:00Z"),
        "data": json_values,
        "dataVersion": st.just("1"),
    }
)
cloud_events = envelopes.map(
    lambda e: {"specversion": "1.0", "id": e["id"], "source": e["topic"], "type": e["eventType"], "data": e["data"]}
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=st.one_of(st.lists(envelopes, min_size=1, max_size=3), cloud_events))
def test_random_events_never_get_a_500(stack: Stack, event) -> None:
    status, _ = stack.eventgrid(event)
    assert status < 500
