"""Hostile input at the app's doors, over real HTTP through the local host: never a 500.

Every POST route the app registers gets deeply nested JSON, bodies over the limit, invalid UTF-8,
wrong or missing Content-Types, JSON that is not an object, and random bytes; GET /api/upgrades gets
random query strings. Each answer must be a 4xx with {"error": {"code", "message"}}, and a refused
request must start no run. Example counts come from the Hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

import triggers
from tests.triggers.conftest import ALICE, Stack, fixture, principal_headers
from triggers import models
from triggers.responses import MAX_BODY_BYTES, MAX_JSON_DEPTH

GHOST_RUN = "nod-prod-7"  # a run id no test creates: doors with {id} refuse the body before looking it up
JSON = "application/json"


def fullwidth(text: str) -> str:
    """The digits of `text` as fullwidth characters (U+FF10..), which Python's \\d and int() read as digits."""
    return "".join(chr(0xFF10 + int(c)) if c in "0123456789" else c for c in text)


def arabic_indic(text: str) -> str:
    return "".join(chr(0x0660 + int(c)) if c in "0123456789" else c for c in text)


def post_doors() -> list[str]:
    """Every POST route on the app's blueprints (a door added later is covered without editing this file).

    Except the web pages' form posts (ui/...): they take forms, not JSON, and refuse a post from no page of
    the app before reading it; tests/triggers/test_ui.py sends them hostile input.
    """
    paths = set()
    for blueprint in triggers.BLUEPRINTS:
        for builder in blueprint._function_builders:
            for binding in builder._function.get_bindings():
                if binding.type != "httpTrigger" or binding.route.startswith("ui/"):
                    continue
                if "POST" in {str(getattr(m, "value", m)).upper() for m in binding.methods or []}:
                    paths.add(binding.route.strip("/").replace("{id}", GHOST_RUN))
    return sorted(paths)


POST_DOORS = post_doors()


# ---- talking to the doors byte for byte (urllib would add a Content-Type of its own)


def send(
    stack: Stack,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    url = urlsplit(stack.host.base_url)
    sent = {**principal_headers(ALICE), **(headers or {})}
    if content_type is not None:
        sent["Content-Type"] = content_type
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(method, f"/api/{path}", body=body, headers=sent)
        response = connection.getresponse()
        status, raw = response.status, response.read()
    finally:
        connection.close()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def run_ids(stack: Stack) -> set[str]:
    return {row["instance_id"] for row in stack.host.store.instances()}


def assert_json_error(status: int, answer: Any, *codes: str) -> None:
    """A 4xx whose body is {"error": {"code", "message"}} (one of `codes` when given), with no trace."""
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict) and isinstance(answer.get("error"), dict), answer
    code, message = answer["error"].get("code"), answer["error"].get("message")
    assert isinstance(code, str) and code and isinstance(message, str) and message, answer
    assert "Traceback" not in json.dumps(answer), answer
    if codes:
        assert code in codes, answer


def refused_without_a_run(stack: Stack, door: str, body: bytes, *codes: str, **options: Any) -> dict[str, Any]:
    before = run_ids(stack)
    status, answer = send(stack, "POST", door, body, **options)
    assert_json_error(status, answer, *codes)
    assert run_ids(stack) == before, f"{door} started a run on a refused request"
    return answer["error"]


@pytest.fixture(scope="module")
def doors(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack for the module: refused requests change nothing, so examples cannot disturb each other."""
    stack = Stack(tmp_path_factory.mktemp("hostile"))
    yield stack
    stack.close()


# ---- bodies


def json_values(*, finite: bool = True) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=not finite)
    return st.recursive(
        scalars | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
        max_leaves=12,
    )


def nested(depth: int, opener: str) -> bytes:
    if opener == "[":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


def spliced(text: bytes, at: int, bad: bytes) -> bytes:
    at %= len(text) + 1
    return text[:at] + bad + text[at:]


def body_of_size(size: int) -> bytes:
    head, tail = b'{"reason": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


# Depth past the limit, up to far past the interpreter's recursion limit; small enough to stay under 256 KiB.
deep_bodies = st.builds(nested, st.integers(MAX_JSON_DEPTH + 1, 40_000), st.sampled_from("[{")).map(
    lambda inner: b'{"reason": ' + inner + b"}"
)
huge_bodies = st.integers(MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES).map(body_of_size)
ascii_json = json_values().map(lambda v: json.dumps(v).encode())  # ensure_ascii: any byte offset is a boundary
NOT_UTF8 = [b"\xff", b"\xfe\xff", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc3"]
invalid_utf8 = st.builds(spliced, ascii_json, st.integers(0, 10_000), st.sampled_from(NOT_UTF8))
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
wrong_content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
            "application/jsonx",
            "text/json",
            "",
        ]
    ),
    header_text.filter(lambda t: t.split(";")[0].strip().lower() != JSON),
)
non_objects = json_values().filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode())
lone_surrogates = st.characters(categories=["Cs"]).map(lambda c: json.dumps({"reason": c}).encode())
any_body = st.one_of(
    deep_bodies,
    huge_bodies,
    invalid_utf8,
    non_objects,
    lone_surrogates,
    json_values(finite=False).map(lambda v: json.dumps(v).encode()),
    st.builds(nested, st.integers(1, 5_000), st.sampled_from("[{")).map(lambda b: b[: len(b) // 2]),  # unclosed
    st.binary(max_size=256),
    st.just(b""),
)
any_content_type = st.one_of(st.just(JSON), st.just("application/json; charset=utf-8"), wrong_content_types)


def test_the_doors_under_test_are_the_apps_post_routes() -> None:
    expected = {
        "upgrades",
        "alerts",
        *(f"upgrades/{GHOST_RUN}/{a}" for a in ("approve", "reject", "rollback", "abort")),
    }
    assert expected <= set(POST_DOORS)


@pytest.mark.parametrize("door", POST_DOORS)
@given(body=deep_bodies)
def test_deeply_nested_json_is_a_400(doors: Stack, door: str, body: bytes) -> None:
    error = refused_without_a_run(doors, door, body, "TooDeeplyNested")
    assert str(MAX_JSON_DEPTH) in error["message"]


@pytest.mark.parametrize("door", POST_DOORS)
@given(body=huge_bodies)
def test_bodies_over_the_limit_are_a_413(doors: Stack, door: str, body: bytes) -> None:
    error = refused_without_a_run(doors, door, body, "PayloadTooLarge")
    assert str(MAX_BODY_BYTES) in error["message"]


@pytest.mark.parametrize("door", POST_DOORS)
@given(body=invalid_utf8)
def test_invalid_utf8_is_a_400_naming_the_encoding(doors: Stack, door: str, body: bytes) -> None:
    error = refused_without_a_run(doors, door, body, "InvalidJson")
    assert "UTF-8" in error["message"]


@pytest.mark.parametrize("door", POST_DOORS)
@given(content_type=wrong_content_types)
def test_a_body_that_is_not_declared_json_is_a_415(doors: Stack, door: str, content_type: str | None) -> None:
    error = refused_without_a_run(
        doors, door, b'{"reason": "because"}', "UnsupportedMediaType", content_type=content_type
    )
    assert JSON in error["message"]


@pytest.mark.parametrize("door", POST_DOORS)
@given(body=non_objects)
def test_json_that_is_not_an_object_is_a_400(doors: Stack, door: str, body: bytes) -> None:
    error = refused_without_a_run(doors, door, body, "InvalidRequest")
    assert "object" in error["message"]


@pytest.mark.parametrize("door", POST_DOORS)
@given(body=any_body, content_type=any_content_type, signed_in=st.booleans())
def test_random_requests_never_get_a_500_nor_start_a_run(
    doors: Stack, door: str, body: bytes, content_type: str | None, signed_in: bool
) -> None:
    before = run_ids(doors)
    headers = None if signed_in else {"X-MS-CLIENT-PRINCIPAL-NAME": ""}
    status, answer = send(doors, "POST", door, body, content_type=content_type, headers=headers)
    assert status < 500, (status, answer)
    if status >= 400:
        assert_json_error(status, answer)
        assert run_ids(doors) == before


def test_an_empty_optional_body_needs_no_content_type(doors: Stack) -> None:
    # Past the body: the run does not exist. A refused body would have answered 400/415 first.
    status, answer = send(doors, "POST", f"upgrades/{GHOST_RUN}/approve", b"", content_type=None)
    assert status == 404 and answer["error"]["code"] == "RunNotFound"


@pytest.mark.parametrize(
    "content_type", ["application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"']
)
def test_json_content_types_are_accepted(doors: Stack, content_type: str) -> None:
    status, answer = send(doors, "POST", f"upgrades/{GHOST_RUN}/approve", b"{}", content_type=content_type)
    assert status == 404 and answer["error"]["code"] == "RunNotFound"


def test_the_limits_are_inclusive(doors: Stack) -> None:
    at_depth = b'{"reason": ' + nested(MAX_JSON_DEPTH - 1, "[") + b"}"  # the object is level 1
    assert send(doors, "POST", f"upgrades/{GHOST_RUN}/abort", at_depth)[1]["error"]["code"] == "InvalidRequest"
    at_size = body_of_size(MAX_BODY_BYTES)
    assert send(doors, "POST", f"upgrades/{GHOST_RUN}/abort", at_size)[1]["error"]["code"] == "InvalidRequest"


# ---- the list's query string


query_keys = st.sampled_from(["environment", "limit", "code", "Code", "CODE"]) | st.text(
    st.characters(categories=["L", "Nd"], max_codepoint=0x7F) | st.sampled_from("-_."), min_size=1, max_size=12
)
query_values = st.text(max_size=20) | st.sampled_from(["5", "0", "101", fullwidth("12"), "1_0", "", "nod-prod"])


@given(params=st.dictionaries(query_keys, query_values, max_size=4))
def test_random_list_queries_name_unknown_parameters_and_never_500(doors: Stack, params: dict[str, str]) -> None:
    status, answer = send(doors, "GET", f"upgrades?{urlencode(params)}", content_type=None)
    assert status < 500, (status, answer)
    unknown = [k for k in params if k not in ("environment", "limit") and k.lower() != "code"]
    if unknown:
        assert_json_error(status, answer, "InvalidRequest")
        assert all(name in answer["error"]["message"] for name in unknown), answer
    elif status >= 400:
        assert_json_error(status, answer)


def test_the_function_key_is_accepted_and_other_parameters_are_refused_by_name(doors: Stack) -> None:
    status, answer = send(doors, "GET", "upgrades?code=secret-key", content_type=None)
    assert status == 200 and answer == {"runs": []}
    status, answer = send(doors, "GET", f"upgrades?environment={doors.env}&limit=5&code=k", content_type=None)
    assert status == 200
    status, answer = send(doors, "GET", "upgrades?code=k&colour=blue", content_type=None)
    assert_json_error(status, answer, "InvalidRequest")
    assert "colour" in answer["error"]["message"] and "code" not in answer["error"]["message"]


@pytest.mark.parametrize("limit", [fullwidth("12"), arabic_indic("3"), "1_0", " 5", "5\n", "1e1"])
def test_limit_is_plain_ascii_digits(doors: Stack, limit: str) -> None:
    status, answer = send(doors, "GET", f"upgrades?limit={quote(limit)}", content_type=None)
    assert_json_error(status, answer, "InvalidRequest")
    assert "limit" in answer["error"]["message"]


# ---- Kubernetes versions are ASCII digits


OTHER_DIGITS = [fullwidth("1.33"), "1." + fullwidth("33"), arabic_indic("1.33"), "1.33." + fullwidth("0")]


@pytest.mark.parametrize("version", [*OTHER_DIGITS, "v1.33", "1.33.", "1..33", "1.33 .1"])
def test_versions_in_other_digits_or_shapes_are_refused(version: str) -> None:
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR"):
        models.StartUpgrade.model_validate({"environment": "nod-prod", "targetVersion": version})


@pytest.mark.parametrize("version", ["1.33", "1.33.2", "latest", " 1.33\n"])  # whitespace is stripped first
def test_ascii_versions_are_accepted(version: str) -> None:
    assert models.StartUpgrade.model_validate({"environment": "x", "targetVersion": version}).target_version


def test_a_fullwidth_target_version_is_a_400_and_starts_nothing(doors: Stack) -> None:
    body = json.dumps({"environment": doors.env, "targetVersion": fullwidth("1.33")}).encode()
    error = refused_without_a_run(doors, "upgrades", body, "InvalidRequest")
    assert [f["field"] for f in error["fields"]] == ["targetVersion"]


# ---- the caller's identity header (parsed by triggers/identity.py)


def test_a_deeply_nested_principal_blob_is_refused_not_a_500(doors: Stack) -> None:
    blob = base64.b64encode(b"[" * 5000).decode()  # 6.7 KB: within every HTTP header limit
    status, answer = send(doors, "POST", "upgrades", b"{}", headers={"X-MS-CLIENT-PRINCIPAL": blob})
    assert_json_error(status, answer)


# ---- Event Grid topics: only a well-formed cluster id is a cluster


def delivered(stack: Stack, **changes: Any) -> Any:
    body = stack.rewrite_ids(fixture("eventgrid", "cluster-support-ending.json"))
    body[0].update(changes)
    return stack.eventgrid(body, headers={"aeg-event-type": "Notification"})


def runs(stack: Stack) -> list[dict[str, Any]]:
    status, body = stack.api("GET", f"upgrades?environment={stack.env}")
    assert status == 200
    return body["runs"]


def test_a_malformed_topic_naming_the_live_cluster_starts_nothing(stack: Stack) -> None:
    live = stack.rewrite_ids(fixture("eventgrid", "cluster-support-ending.json"))[0]["topic"]
    malformed = [
        "/junk" + live,
        live.replace("/resourceGroups/", "//resourceGroups/"),
        live.replace("/providers/", "/providers/extra/"),
        live + "/agentPools",
        " " + live,
        live.removeprefix("/"),
    ]
    for number, topic in enumerate(malformed):
        assert delivered(stack, topic=topic, id=f"malformed-{number}")[0] == 200
    assert runs(stack) == []
    # The same event with the well-formed topic (a trailing slash is tolerated) does start the run.
    assert delivered(stack, topic=live + "/", id="well-formed")[0] == 200
    assert len(runs(stack)) == 1


# ---- bursts of duplicate and out-of-order deliveries


def test_a_burst_of_duplicate_and_out_of_order_deliveries_starts_one_run(stack: Stack) -> None:
    ending = stack.rewrite_ids(fixture("eventgrid", "cluster-support-ending.json"))
    ended = stack.rewrite_ids(fixture("eventgrid", "cluster-support-ended.json"))
    deliveries = [ended, ending, ending, ended, ending, ending, ended, ending]  # Ended first: out of order
    # The clock stays still until every delivery is answered: no run can finish and free the environment.
    burst_over = threading.Event()
    stack.host.add_idle_hook(lambda: burst_over.wait(timeout=60) and False)
    start = threading.Barrier(len(deliveries))

    def deliver(body: Any) -> int:
        start.wait(timeout=30)
        return stack.eventgrid(body, headers={"aeg-event-type": "Notification"})[0]

    try:
        with ThreadPoolExecutor(len(deliveries)) as pool:
            statuses = list(pool.map(deliver, deliveries))
    finally:
        burst_over.set()
    assert statuses == [200] * len(deliveries)
    assert len(runs(stack)) == 1
