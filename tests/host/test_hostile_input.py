"""Hostile input at the local host's own doors: the Event Grid webhook and the Durable management API.

Malformed deliveries, schemas and handshakes, invalid UTF-8, deep nesting, bad instance ids, bad
query strings and bodies, unknown routes: every answer is a 4xx with {"error": {"code", "message"}}
(never a 500), a refused delivery invokes no function, a refused start creates no instance and a
refused raiseEvent stores no event. Example counts come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from local.clock import VirtualClock
from local.functions_host import LocalHost
from local.functions_host.history import type_name
from local.functions_host.http_triggers import MAX_JSON_DEPTH
from local.functions_host.management_api import MAX_INSTANCE_ID
from local.functions_host.server import MAX_REQUEST_BYTES
from tests.host.conftest import APPS, MGMT

EG_PATH = "/runtime/webhooks/eventgrid?functionName=on_aks_event"
JSON = "application/json"
EVENT_TIMES = ["2026-11-20T06:00:00Z", "2026-11-20T06:00:00.0000000Z", "2026-11-20T06:00:00.123Z"]  # Event Grid's
QUERY_TIMES = ["2026-11-20T06:00:00Z", "2026-11-20T06:00:00.1234567Z", "2026-11-20T06:00:00+01:00", "2026-11-20"]
BAD_TIMES = ["garbage", "2026-13-01T00:00:00Z", "2026-11-20T25:00:00Z", "yesterday", "12:00", "2026-02-30"]


# ---- one host per door, for the whole module: refused requests leave them as they were


def started(app: str) -> LocalHost:
    return LocalHost(app=APPS / app, clock=VirtualClock()).start()


@pytest.fixture(scope="module")
def webhook_host() -> Iterator[LocalHost]:
    host = started("web_app.py")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def management_host() -> Iterator[LocalHost]:
    host = started("orchestrations.py")
    yield host
    host.stop()


@pytest.fixture(scope="module")
def waiting(management_host: LocalHost) -> str:
    """A running instance that waits for an event nobody raises: a target for raiseEvent."""
    status, payload = send(management_host, "POST", f"{MGMT}/orchestrators/waiter/target", b"")
    assert status == 202, payload
    management_host.wait_for("target", statuses=("Running",))
    return "target"


def send(
    host: LocalHost, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Byte for byte (urllib would add a Content-Type of its own): (status, JSON or raw bytes)."""
    url = urlsplit(host.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        status, raw = response.status, response.read()
    finally:
        connection.close()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def assert_json_error(status: int, answer: Any, *codes: str) -> None:
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict) and isinstance(answer.get("error"), dict), answer
    code, message = answer["error"].get("code"), answer["error"].get("message")
    assert isinstance(code, str) and code and isinstance(message, str) and message, answer
    assert "Traceback" not in json.dumps(answer), answer
    if codes:
        assert code in codes, answer


def instances(host: LocalHost) -> set[str]:
    return {row["instance_id"] for row in host.store.instances()}


# ---- what hostile deliveries are made of


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
optional_text = st.none() | st.text(max_size=30)
event_grid_events = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=20),
        "eventType": st.text(min_size=1, max_size=40),
        "eventTime": st.sampled_from(EVENT_TIMES),
    },
    optional={"topic": optional_text, "subject": optional_text, "dataVersion": optional_text, "data": json_values},
)
cloud_events = st.fixed_dictionaries(
    {
        "specversion": st.just("1.0"),
        "id": st.text(min_size=1, max_size=20),
        "source": st.text(min_size=1, max_size=40),
        "type": st.text(min_size=1, max_size=40),
    },
    optional={"time": st.sampled_from(EVENT_TIMES), "subject": optional_text, "data": json_values},
)
good_events = event_grid_events | cloud_events
not_text = st.integers() | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.none())


@st.composite
def broken_events(draw: st.DrawFn) -> dict[str, Any]:
    """A good event with one thing wrong that the worker's converter (or the schema) cannot take."""
    event = dict(draw(good_events))
    cloud = "specversion" in event
    required = ["id", "source", "type"] if cloud else ["id", "eventType", "eventTime"]
    mutation = draw(st.sampled_from(["drop", "empty", "type", "time", *(["version", "attribute"] if cloud else [])]))
    if mutation == "drop":
        del event[draw(st.sampled_from(required))]
    elif mutation == "empty":
        event[draw(st.sampled_from(required))] = ""
    elif mutation == "type":
        event[draw(st.sampled_from(required))] = draw(not_text)
    elif mutation == "time":
        event["time" if cloud else "eventTime"] = draw(st.sampled_from(BAD_TIMES))
    elif mutation == "version":
        event["specversion"] = draw(st.sampled_from(["0.3", "1", 1.0, "", None]))
    else:
        event[draw(st.sampled_from(["Bad-Name", "UPPER", "with space", "self"]))] = "x"
    return event


@st.composite
def batches_with_one_bad(draw: st.DrawFn, bad: st.SearchStrategy[Any]) -> list[Any]:
    events: list[Any] = draw(st.lists(good_events, max_size=4))
    events.insert(draw(st.integers(0, len(events))), draw(bad))
    return events


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def spliced(text: bytes, at: int, bad: bytes) -> bytes:
    at %= len(text) + 1
    return text[:at] + bad + text[at:]


deep_bodies = st.integers(MAX_JSON_DEPTH + 1, 100_000).map(nested)
ascii_json = json_values.map(lambda v: json.dumps(v).encode())
invalid_utf8 = st.builds(
    spliced,
    ascii_json,
    st.integers(0, 1000),
    st.sampled_from([b"\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xc3"]),
)


def is_json_text(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return True


# Not JSON, and not empty either (an empty start body is a start without input).
not_json = st.sampled_from([b"nope", b"{", b"[1,]", b"{'a': 1}", b"\x00", b"[" * 10]) | st.binary(min_size=1).filter(
    lambda b: b.strip() != b"" and not is_json_text(b)
)


# ---- the Event Grid webhook


def deliver(host: LocalHost, body: bytes, kind: str | None = "Notification", **headers: str) -> tuple[int, Any]:
    sent = {"Content-Type": JSON, **headers}
    if kind is not None:
        sent["aeg-event-type"] = kind
    return send(host, "POST", EG_PATH, body, sent)


def refused_delivery(host: LocalHost, body: bytes, *codes: str, **options: Any) -> dict[str, Any]:
    received = len(host.module.RECEIVED)
    status, answer = deliver(host, body, **options)
    assert_json_error(status, answer, *codes)
    assert len(host.module.RECEIVED) == received, "a refused delivery invoked the function"
    return answer["error"]


@given(batch=batches_with_one_bad(broken_events()))
def test_a_batch_with_one_malformed_event_is_a_400_and_invokes_none(webhook_host: LocalHost, batch) -> None:
    error = refused_delivery(webhook_host, json.dumps(batch).encode(), "InvalidEvent")
    assert error["message"].startswith("event ")


@given(batch=batches_with_one_bad(st.none() | st.integers() | st.text(max_size=5) | st.lists(st.integers())))
def test_an_array_with_a_non_object_is_a_400_and_invokes_none(webhook_host: LocalHost, batch) -> None:
    error = refused_delivery(webhook_host, json.dumps(batch).encode(), "InvalidEvent")
    assert "not a JSON object" in error["message"]


@given(body=st.one_of(deep_bodies, invalid_utf8, not_json))
def test_a_body_that_is_not_json_events_is_a_400(webhook_host: LocalHost, body: bytes) -> None:
    refused_delivery(webhook_host, body, "TooDeeplyNested", "InvalidJson", "InvalidEvent")


@given(kind=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30))
def test_an_unknown_aeg_event_type_is_a_400(webhook_host: LocalHost, kind: str) -> None:
    if kind.lower() in ("notification", "subscriptionvalidation", "unsubscribe"):
        return
    error = refused_delivery(webhook_host, b"[]", "UnknownEventType", kind=kind)
    assert "aeg-event-type" in error["message"]


def test_good_events_are_delivered_and_unsubscribe_is_202(webhook_host: LocalHost) -> None:
    # The control for the refusals above: the same door invokes the function for well-formed batches.
    received = len(webhook_host.module.RECEIVED)
    batch = [{"id": "e1", "eventType": "Demo", "eventTime": EVENT_TIMES[1], "subject": None, "data": None}]
    assert deliver(webhook_host, json.dumps(batch).encode())[0] == 200
    assert deliver(webhook_host, json.dumps(batch).encode(), kind=None)[0] == 200  # curl: no header
    assert len(webhook_host.module.RECEIVED) == received + 2
    assert deliver(webhook_host, json.dumps(batch).encode(), kind="Unsubscribe")[0] == 202
    assert len(webhook_host.module.RECEIVED) == received + 2


validation_codes = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)


@given(code=validation_codes, as_cloud_event=st.booleans())
def test_validation_handshakes_echo_the_code(webhook_host: LocalHost, code: str, as_cloud_event: bool) -> None:
    if as_cloud_event:  # the CloudEvents validation data is JSON-encoded once more
        body: Any = {
            "specversion": "1.0",
            "id": "v",
            "type": "v",
            "source": "s",
            "data": json.dumps({"validationCode": code}),
        }
    else:
        body = [
            {
                "id": "v",
                "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
                "data": {"validationCode": code},
            }
        ]
    status, answer = deliver(webhook_host, json.dumps(body).encode(), kind="SubscriptionValidation")
    assert status == 200 and answer == {"validationResponse": code}


BROKEN_VALIDATIONS = [
    [],
    [{}],
    [{"data": None}],
    [{"data": []}],
    [{"data": {"validationCode": 5}}],
    [{"data": {"validationCode": ""}}],
    [{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": "{not json"}],
    {"data": "not json"},
    {"data": json.dumps({"validationCode": None})},
    7,
    [7],
]


@pytest.mark.parametrize("body", BROKEN_VALIDATIONS, ids=[json.dumps(b)[:30] for b in BROKEN_VALIDATIONS])
def test_a_validation_without_a_code_is_a_400(webhook_host: LocalHost, body: Any) -> None:
    refused_delivery(webhook_host, json.dumps(body).encode(), "InvalidValidationEvent", kind="SubscriptionValidation")


def test_the_cloudevents_handshake_needs_an_origin_and_a_known_function(webhook_host: LocalHost) -> None:
    path = "/runtime/webhooks/eventgrid?functionName=on_cloud_event"
    status, answer = send(webhook_host, "OPTIONS", path)
    assert_json_error(status, answer, "MissingOrigin")
    assert send(webhook_host, "OPTIONS", path, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})[0] == 200
    status, answer = send(webhook_host, "OPTIONS", "/runtime/webhooks/eventgrid?functionName=nope")
    assert_json_error(status, answer, "FunctionNotFound")


@given(body=st.binary(max_size=300) | ascii_json, kind=st.none() | st.sampled_from(["Notification", "x"]))
def test_random_deliveries_never_get_a_500(webhook_host: LocalHost, body: bytes, kind: str | None) -> None:
    received = len(webhook_host.module.RECEIVED)
    status, answer = deliver(webhook_host, body, kind=kind)
    assert status < 500, (status, answer)
    if status >= 400:
        assert_json_error(status, answer)
        assert len(webhook_host.module.RECEIVED) == received


# ---- the management API: starts


orchestrator_names = st.sampled_from(["waiter", "chain"])
# Not only dots: "." and ".." are path segments, not ids.
good_ids = st.text(
    st.characters(categories=["L", "Nd"], max_codepoint=0x7F) | st.sampled_from("-_."), min_size=1, max_size=30
).filter(lambda s: s.strip("."))


@st.composite
def bad_instance_ids(draw: st.DrawFn) -> str:
    base = draw(good_ids)
    kind = draw(st.sampled_from(["char", "at", "long"]))
    if kind == "at":
        return "@" + base
    if kind == "long":
        return base + "x" * (MAX_INSTANCE_ID + 1 - len(base) + draw(st.integers(0, 50)))
    bad = draw(st.sampled_from(["\\", "#", "?", "\x00", "\x1f", "\x7f", "\n", "/"]))
    at = draw(st.integers(0, len(base)))
    return base[:at] + bad + base[at:]


def refused_start(host: LocalHost, name: str, instance_id: str, body: bytes, *codes: str) -> dict[str, Any]:
    before = instances(host)
    path = f"{MGMT}/orchestrators/{name}/{quote(instance_id, safe='')}"
    status, answer = send(host, "POST", path, body, {"Content-Type": JSON})
    assert_json_error(status, answer, *codes)
    assert instances(host) == before, "a refused start created an instance"
    return answer


@given(name=orchestrator_names, instance_id=good_ids, body=st.one_of(deep_bodies, invalid_utf8, not_json))
def test_a_start_whose_body_is_not_json_is_a_400_and_creates_nothing(
    management_host: LocalHost, name: str, instance_id: str, body: bytes
) -> None:
    answer = refused_start(management_host, name, instance_id, body, "TooDeeplyNested", "InvalidJson")
    assert answer["Message"].startswith("Invalid JSON content")  # what the Durable extension answers


@given(name=orchestrator_names, instance_id=bad_instance_ids())
def test_a_start_with_a_bad_instance_id_is_a_400_and_creates_nothing(
    management_host: LocalHost, name: str, instance_id: str
) -> None:
    # A "/" (or "?" the client did not escape) changes the route itself: then there is nothing to start at all.
    refused_start(management_host, name, instance_id, b"{}", "InvalidInstanceId", "NotFound")


def test_a_start_of_an_unknown_orchestrator_is_a_400(management_host: LocalHost) -> None:
    answer = refused_start(management_host, "no_such_orchestrator", "x1", b"{}", "FunctionNotFound")
    assert "no_such_orchestrator" in answer["Message"]


def test_concurrent_starts_of_one_id_create_it_once(make_host) -> None:
    """Duplicate starts in a burst: one 202, the rest 409 (the body is read before the check, never between).

    On its own host: the module's stays small, and every example there reads all of its instances.
    """
    host = make_host("orchestrations.py")
    body = json.dumps({"pad": "x" * 1_000_000}).encode()  # big enough that reading it yields to the loop
    for round_number in range(3):
        path = f"{MGMT}/orchestrators/waiter/burst-{round_number}"
        barrier = threading.Barrier(6)

        def start(_: int, path: str = path, barrier: threading.Barrier = barrier) -> int:
            barrier.wait(timeout=30)
            return send(host, "POST", path, body, {"Content-Type": JSON})[0]

        with ThreadPoolExecutor(6) as pool:
            statuses = sorted(pool.map(start, range(6)))
        assert statuses == [202, 409, 409, 409, 409, 409]


# ---- the management API: queries


TIME_VALUES = [(t, True) for t in QUERY_TIMES] + [(t, False) for t in BAD_TIMES]
STATUS_VALUES = [("Running", True), ("completed,Failed", True), ("Nope", False), ("Running,Nope", False)]
FLAG_VALUES = [("true", True), ("False", True), ("yes", False), ("1", False)]
query_parameters = st.fixed_dictionaries(
    {},
    optional={
        "createdTimeFrom": st.sampled_from(TIME_VALUES),
        "createdTimeTo": st.sampled_from(TIME_VALUES),
        "runtimeStatus": st.sampled_from(STATUS_VALUES),
        "showInput": st.sampled_from(FLAG_VALUES),
        "instanceIdPrefix": st.text(max_size=10).map(lambda t: (t, True)),
        "taskHub": st.text(max_size=10).map(lambda t: (t, True)),  # what the client adds: ignored
    },
)


@given(parameters=query_parameters, method=st.sampled_from(["GET", "DELETE"]))
def test_list_and_purge_refuse_filters_they_cannot_parse(
    management_host: LocalHost, parameters: dict[str, tuple[str, bool]], method: str
) -> None:
    query = urlencode({name: value for name, (value, _) in parameters.items()})
    before = instances(management_host)
    status, answer = send(management_host, method, f"{MGMT}/instances?{query}")
    read = set(parameters) - ({"showInput"} if method == "DELETE" else set())  # a purge shows nothing
    wrong = [name for name, (_, valid) in parameters.items() if not valid and name in read]
    if wrong:
        assert_json_error(status, answer, "InvalidQuery")
        assert any(name in answer["error"]["message"] for name in wrong), answer
    elif method == "DELETE" and "createdTimeFrom" not in parameters:
        assert_json_error(status, answer, "InvalidQuery")  # a filtered purge never means everything
    elif method == "GET":
        assert status == 200 and isinstance(answer, list)
    else:
        assert_json_error(status, answer, "NotFound")  # every instance here is running: nothing to purge
    assert instances(management_host) == before


@given(
    flag=st.sampled_from(["showHistory", "showHistoryOutput", "showInput"]), value=st.sampled_from(["yes", "2", "nope"])
)
def test_status_flags_must_be_true_or_false(management_host: LocalHost, waiting: str, flag: str, value: str) -> None:
    status, answer = send(management_host, "GET", f"{MGMT}/instances/{waiting}?{flag}={value}")
    assert_json_error(status, answer, "InvalidQuery")
    assert flag in answer["error"]["message"]


# ---- the management API: raiseEvent


def stored_events(host: LocalHost, instance_id: str) -> tuple[Any, list[str]]:
    raised = [name for name in map(type_name, host.history(instance_id)) if name == "EventRaised"]
    return host.store.next_inbox(instance_id), raised


refused_raises = st.one_of(
    st.tuples(st.one_of(deep_bodies, invalid_utf8, not_json), st.just(JSON)),
    st.tuples(ascii_json, st.none() | st.sampled_from(["text/plain", "application/x-www-form-urlencoded", ""])),
)


@given(
    event=st.text(st.characters(categories=["L"], max_codepoint=0x7F), min_size=1, max_size=10), request=refused_raises
)
def test_a_bad_raise_event_is_a_400_and_stores_nothing(
    management_host: LocalHost, waiting: str, event: str, request: tuple[bytes, str | None]
) -> None:
    body, content_type = request
    headers = {} if content_type is None else {"Content-Type": content_type}
    before = stored_events(management_host, waiting)
    status, answer = send(management_host, "POST", f"{MGMT}/instances/{waiting}/raiseEvent/{event}", body, headers)
    assert_json_error(status, answer, "TooDeeplyNested", "InvalidJson", "UnsupportedMediaType")
    assert stored_events(management_host, waiting) == before == (None, [])


# ---- the management API: routes and operations


path_segments = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E).filter(lambda c: c not in "/?#%"), min_size=1, max_size=12
)


@given(
    method=st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"]),
    segments=st.lists(path_segments, max_size=4),
)
def test_random_management_routes_are_4xx_json_and_create_nothing(
    management_host: LocalHost, method: str, segments: list[str]
) -> None:
    assume(not (method == "POST" and segments[:1] == ["orchestrators"]))  # a well-formed start starts
    before = instances(management_host)
    status, answer = send(management_host, method, f"{MGMT}/{'/'.join(quote(s) for s in segments)}")
    assert status < 500, (status, answer)
    if status >= 400:
        assert_json_error(status, answer)
    assert instances(management_host) == before


def test_unknown_and_unsupported_operations(management_host: LocalHost, waiting: str) -> None:
    status, answer = send(management_host, "POST", f"{MGMT}/instances/{waiting}/frobnicate")
    assert_json_error(status, answer, "NotFound")
    status, answer = send(management_host, "POST", f"{MGMT}/instances/nobody/rewind")
    assert_json_error(status, answer, "InstanceNotFound")
    # A real Durable operation the local host lacks: its limit, not the caller's mistake.
    status, answer = send(management_host, "POST", f"{MGMT}/instances/{waiting}/rewind")
    assert status == 501 and answer["error"]["code"] == "NotSupported"


def test_unknown_instances_are_404_with_a_body_the_client_reads_as_not_found(management_host: LocalHost) -> None:
    status, answer = send(management_host, "GET", f"{MGMT}/instances/nobody")
    assert_json_error(status, answer, "InstanceNotFound")
    status, answer = send(management_host, "DELETE", f"{MGMT}/instances/nobody")
    assert_json_error(status, answer, "InstanceNotFound")


# ---- every door: a body over the host's limit is refused before it is read


@pytest.mark.parametrize(
    "path",
    [EG_PATH, f"{MGMT}/orchestrators/approval_flow/big", "/api/orchestrators/approval_flow/big"],
)
def test_a_declared_body_over_the_limit_is_a_413_before_it_is_read(webhook_host: LocalHost, path: str) -> None:
    url = urlsplit(webhook_host.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.putrequest("POST", path)
        connection.putheader("Content-Type", JSON)
        connection.putheader("Content-Length", str(MAX_REQUEST_BYTES + 1))
        connection.endheaders()  # and not one byte of the body
        response = connection.getresponse()
        status, answer = response.status, json.loads(response.read())
    finally:
        connection.close()
    assert_json_error(status, answer, "PayloadTooLarge")
    assert webhook_host.get_status("big") is None
