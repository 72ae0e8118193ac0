"""HTTP triggers on /api/<route> and Event Grid deliveries on /runtime/webhooks/eventgrid."""

import json

from tests.host.conftest import call


def test_http_route_gets_method_params_query_headers_and_body(make_host):
    host = make_host("web_app.py")
    status, headers, body = call(
        "PUT",
        f"{host.base_url}/api/echo/hello/there?code=any-key&x=1",
        raw=b"payload",
        headers={"x-ms-client-principal-name": "alice@example.com"},
    )
    assert status == 201 and headers["X-Echo"] == "yes" and headers["Content-Type"].startswith("application/json")
    assert body == {
        "method": "PUT",
        "route": {"word": "hello", "extra": "there"},
        "query": {"code": "any-key", "x": "1"},
        "principal": "alice@example.com",
        "body": "payload",
    }
    assert call("GET", f"{host.base_url}/api/echo/solo")[2]["route"] == {"word": "solo"}


def test_unknown_routes_and_methods_are_rejected(make_host):
    host = make_host("web_app.py")
    assert call("GET", f"{host.base_url}/api/nothing/here")[0] == 404
    assert call("DELETE", f"{host.base_url}/api/echo/x")[0] == 405


def test_function_exception_is_a_generic_500(make_host):
    host = make_host("web_app.py")
    status, _, body = call("GET", f"{host.base_url}/api/broken")
    assert status == 500
    assert "secret-token" not in json.dumps(body)


def test_http_starter_with_durable_client_runs_the_flow(make_host):
    host = make_host("web_app.py")
    sent = {}

    def approve() -> bool:
        if sent.get("done") or "uri" not in sent:
            return False
        status = call("GET", sent["status_uri"])[2]
        if (status.get("customStatus") or {}).get("stage") != "approval":
            return False
        sent["done"] = call("POST", sent["uri"].replace("{eventName}", "Approval"), {"ok": True})[0] == 202
        return sent["done"]

    host.add_idle_hook(approve)
    status, headers, payload = call(
        "POST", f"{host.base_url}/api/orchestrators/approval_flow/run-7", {"cluster": "aks-blue"}
    )
    assert status == 202 and headers["Location"] == payload["statusQueryGetUri"]
    assert payload["id"] == "run-7" and payload["statusQueryGetUri"].startswith(host.base_url)
    sent.update(uri=payload["sendEventPostUri"], status_uri=payload["statusQueryGetUri"])
    final = host.wait_for("run-7")
    assert final["output"] == {
        "prepared": "prepared aks-blue",
        "health": "aks-blue healthy after 2 checks",
        "decision": {"ok": True},
    }
    assert call("GET", f"{host.base_url}/api/runs/run-7")[2]["status"] == "Completed"
    assert call("GET", f"{host.base_url}/api/runs/missing")[0] == 404


EG_URL = "/runtime/webhooks/eventgrid?functionName="


def test_eventgrid_subscription_validation_handshake(make_host):
    host = make_host("web_app.py")
    validation = [
        {
            "id": "v1",
            "topic": "/subscriptions/x",
            "subject": "",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "eventTime": "2026-11-20T06:00:00Z",
            "dataVersion": "2",
            "data": {"validationCode": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6", "validationUrl": "https://example"},
        }
    ]
    status, _, body = call(
        "POST",
        f"{host.base_url}{EG_URL}on_aks_event",
        validation,
        headers={"aeg-event-type": "SubscriptionValidation", "Content-Type": "application/json"},
    )
    assert status == 200 and body == {"validationResponse": "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}
    assert host.module.RECEIVED == [] or all(r[1] != validation[0]["eventType"] for r in host.module.RECEIVED)
    status, headers, _ = call(
        "OPTIONS", f"{host.base_url}{EG_URL}on_cloud_event", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}
    )
    assert status == 200 and headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_eventgrid_array_invokes_once_per_event_and_cloudevents_decode(make_host):
    host = make_host("web_app.py")
    host.module.RECEIVED.clear()
    events = [
        {
            "id": f"e{i}",
            "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/blue",
            "subject": "blue",
            "eventType": "Microsoft.ContainerService.ClusterSupportEnding",
            "eventTime": "2026-11-20T06:00:00Z",
            "dataVersion": "1",
            "data": {"kubernetesVersion": "1.29.0", "n": i},
        }
        for i in range(2)
    ]
    assert (
        call(
            "POST",
            f"{host.base_url}{EG_URL}on_aks_event",
            events,
            headers={"aeg-event-type": "Notification", "Content-Type": "application/json"},
        )[0]
        == 200
    )
    cloud = {
        "specversion": "1.0",
        "id": "c1",
        "source": "/subscriptions/s",
        "type": "Demo.Happened",
        "subject": "green",
        "time": "2026-11-20T06:00:00Z",
        "data": {"ok": 1},
    }
    assert call("POST", f"{host.base_url}{EG_URL}on_cloud_event", cloud)[0] == 200
    assert host.module.RECEIVED == [
        (
            "eventgrid",
            "Microsoft.ContainerService.ClusterSupportEnding",
            "blue",
            {"kubernetesVersion": "1.29.0", "n": 0},
        ),
        (
            "eventgrid",
            "Microsoft.ContainerService.ClusterSupportEnding",
            "blue",
            {"kubernetesVersion": "1.29.0", "n": 1},
        ),
        ("cloudevent", "Demo.Happened", "green", {"ok": 1}),
    ]


def test_eventgrid_can_start_an_orchestration_and_errors_are_500(make_host):
    host = make_host("web_app.py")
    event = [
        {
            "id": "abc",
            "topic": "t",
            "subject": "aks-green",
            "eventType": "X",
            "eventTime": "2026-11-20T06:00:00Z",
            "dataVersion": "1",
            "data": {},
        }
    ]
    assert call("POST", f"{host.base_url}{EG_URL}start_on_event", event)[0] == 200
    assert host.wait_for("eg-abc", statuses=("Running",))["input"] == json.dumps({"cluster": "aks-green"})
    assert call("POST", f"{host.base_url}{EG_URL}failing_handler", event)[0] == 500
    assert call("POST", f"{host.base_url}{EG_URL}no_such_function", event)[0] == 404
