"""The web pages over real HTTP: what they show is escaped, and a form post is taken only from this app's own
pages, with the signed-in caller's own fresh token; then it is the JSON door's decision, checks included."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.triggers.conftest import ALICE, BOB, Stack, principal_headers
from triggers import ui, ui_csrf
from triggers.responses import MAX_BODY_BYTES

CAROL = "carol@example.com"
KEY = "ui-test-key"  # BLUEGREEN_UI_KEY of these stacks: the tests mint tokens with it
FORM = "application/x-www-form-urlencoded"
HOLD_SECONDS = 90
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def ui_stack(make_stack, **overrides) -> Stack:
    return make_stack(approval="manual", four_eyes=True, app_settings={ui_csrf.KEY_SETTING: KEY}, **overrides)


class Hold:
    """A run that awaits approval, with virtual time held still (no approval timeout) until `release()`.

    An idle hook that blocks keeps the host from moving its clock; HTTP requests and the run's
    episodes go on meanwhile, so the run takes a decision made while it is held at once.
    """

    def __init__(self, stack: Stack) -> None:
        self.stack, self.run_id = stack, ""
        self._reached, self._release = threading.Event(), threading.Event()

    def _hold(self) -> bool:
        if not self.run_id or self._reached.is_set():
            return False
        if (self.stack.status(self.run_id).get("customStatus") or {}).get("awaiting") != "approval":
            return False
        self._reached.set()
        self._release.wait(HOLD_SECONDS)
        return True

    def release(self) -> None:
        self._release.set()


@contextmanager
def held_at_approval(stack: Stack, **body) -> Iterator[Hold]:
    hold = Hold(stack)
    stack.host.add_idle_hook(hold._hold)
    hold.run_id = stack.start(**body)
    try:
        assert hold._reached.wait(60), "the run never came to await approval"
        yield hold
    finally:
        hold.release()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a 303 is the answer under test, not followed
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def request(stack: Stack, method: str, path: str, *, user: str | None = None, data: bytes | None = None, headers=None):
    """(status, headers, text), redirects not followed; asking for HTML, as a browser does."""
    all_headers = {"Accept": BROWSER_ACCEPT, **(principal_headers(user) if user else {}), **(headers or {})}
    url = f"{stack.host.base_url}/api/{path.lstrip('/')}"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with _OPENER.open(req, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def page(stack: Stack, path: str, user: str | None = None, cookie: str | None = None):
    return request(stack, "GET", path, user=user, headers={"Cookie": cookie} if cookie else None)


def post_form(stack: Stack, path: str, fields: dict[str, str], *, user: str | None, origin: str | None = "own", **more):
    headers = {"Content-Type": FORM, **more}
    if origin is not None:
        headers["Origin"] = stack.host.base_url if origin == "own" else origin
    return request(stack, "POST", path, user=user, data=urlencode(fields).encode(), headers=headers)


def token_in(html: str, action: str) -> str:
    found = re.search(rf'name="token_{action}" value="([^"]+)"', html)
    assert found, f"no {action} form on the page"
    return found.group(1)


def test_what_a_run_says_is_shown_escaped(make_stack) -> None:
    stack = ui_stack(make_stack)
    run: dict[str, str] = {}
    comment = "<script>alert('comment')</script> ok & <b>bold</b>"
    approve = {"comment": comment}
    approved = stack.at_phase(
        "approval", lambda i: stack.api("POST", f"upgrades/{i}/approve", approve, user=BOB), lambda: run.get("id")
    )
    run["id"] = stack.start(reason="<script>alert('reason')</script>")
    assert stack.finish(run["id"])["output"]["outcome"] == "completed"
    assert approved["result"][0] == 202

    status, headers, html = page(stack, f"ui/runs/{run['id']}", user=BOB)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt; ok &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "approved by bob@example.com" in html
    # When the edge really carried the switch (edge convergence), as the run measured it.
    moves = re.findall(r'<tr class="move"><td>[^<]*</td><td>(\w+)</td><td>(\d+%)</td>\s*<td>([^<]*)</td>', html)
    assert moves and moves[-1][:2] == ("green", "100%") and moves[-1][2].endswith("%"), moves
    assert "<script" not in html  # a finished run's page has nothing to refresh: no script at all
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy

    status, headers, html = page(stack, "ui", user=None)
    assert status == 200 and f"/api/ui/runs/{run['id']}" in html
    assert "<script>alert" not in html
    assert "sign in" in html.lower() and "<form" not in html


def test_a_form_post_needs_this_apps_origin_and_the_callers_own_fresh_token(make_stack) -> None:
    stack = ui_stack(make_stack)
    with held_at_approval(stack) as hold:
        run_id = hold.run_id
        path = f"ui/runs/{run_id}"
        _, _, bobs_page = page(stack, path, user=BOB)
        token = token_in(bobs_page, "approve")
        fields = {"token_approve": token, "comment": "looks good"}

        refused = {
            "carol with bob's token": post_form(stack, f"{path}/approve", fields, user=CAROL),
            "no Origin, no Referer": post_form(stack, f"{path}/approve", fields, user=BOB, origin=None),
            "another site": post_form(stack, f"{path}/approve", fields, user=BOB, origin="https://evil.example"),
            "another port": post_form(stack, f"{path}/approve", fields, user=BOB, origin="http://127.0.0.1:1"),
            "origin null": post_form(stack, f"{path}/approve", fields, user=BOB, origin="null"),
            "reject's token to approve": post_form(
                stack, f"{path}/approve", {"token_approve": token_in(bobs_page, "reject")}, user=BOB
            ),
            "an hour old": post_form(
                stack,
                f"{path}/approve",
                {"token_approve": ui_csrf.issue_token(KEY.encode(), BOB, run_id, "approve", time.time() - 3601)},
                user=BOB,
            ),
            "another run's": post_form(
                stack,
                f"{path}/approve",
                {"token_approve": ui_csrf.issue_token(KEY.encode(), BOB, "other-1", "approve")},
                user=BOB,
            ),
        }
        for why, (status, headers, _) in refused.items():
            assert status == 403, why
            assert headers["Content-Type"].startswith("text/html"), why
        assert "CrossSiteRequest" in refused["another site"][2] and "InvalidFormToken" in refused["an hour old"][2]
        assert "more than an hour old" in refused["an hour old"][2]
        _, _, timeline = request(stack, "GET", f"{path}/timeline")
        assert '"approval": true' in timeline  # nothing refused reached the run

        status, _, html = post_form(stack, f"{path}/approve", fields, user=None)
        assert status == 401 and "Sign in" in html
        status, _, _ = request(
            stack,
            "POST",
            f"{path}/approve",
            user=BOB,
            data=b"{}",
            headers={"Content-Type": "application/json", "Origin": stack.host.base_url},
        )
        assert status == 415

        # A valid token does not get past the door's own rules: alice started the run (four-eyes).
        alices = {"token_approve": ui_csrf.issue_token(KEY.encode(), ALICE, run_id, "approve")}
        status, headers, _ = post_form(stack, f"{path}/approve", alices, user=ALICE)
        assert status == 303 and headers["Location"] == f"/api/{path}"
        flash = headers["Set-Cookie"].split(";", 1)[0]
        _, _, shown = page(stack, path, user=ALICE, cookie=flash)
        assert "four-eyes needs someone else to decide" in shown and 'class="flash error"' in shown

        # Signed out, the page offers nothing but a sign-in.
        _, _, anonymous = page(stack, path)
        assert "<form" not in anonymous and "sign in to approve this run" in anonymous

        # Bob's own form, from bob's page (the Referer names it when a browser sends no Origin): taken.
        referer = f"{stack.host.base_url}/api/{path}"
        status, headers, _ = post_form(stack, f"{path}/approve", fields, user=BOB, origin=None, Referer=referer)
        assert status == 303 and headers["Location"] == f"/api/{path}"
        flash = headers["Set-Cookie"].split(";", 1)[0]
        assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
        _, headers, shown = page(stack, path, user=BOB, cookie=flash)
        assert "Approved: the run took your decision" in shown
        assert "Max-Age=0" in headers["Set-Cookie"]  # shown once
        tampered = flash[:-3] + "xyz"
        assert "Approved:" not in page(stack, path, user=BOB, cookie=tampered)[2]
    output = stack.finish(run_id)["output"]
    assert output["outcome"] == "completed"
    assert (output["approval"]["by"], output["approval"]["comment"]) == (BOB, "looks good")


def test_an_unknown_run_is_a_404_page_and_other_methods_are_refused(stack: Stack) -> None:
    for missing in ("ui/runs/nod-prod-404", "ui/runs/not%20an%20id"):
        status, headers, html = page(stack, missing, user=BOB)
        assert status == 404 and headers["Content-Type"].startswith("text/html"), missing
        assert "RunNotFound" in html and headers["Content-Security-Policy"]
    assert request(stack, "GET", "ui/runs/nod-prod-404/timeline")[0] == 404
    # A script that does not ask for HTML gets the API's JSON error.
    status, headers, body = request(stack, "GET", "ui/runs/nod-prod-404", headers={"Accept": "application/json"})
    assert status == 404 and json.loads(body)["error"]["code"] == "RunNotFound"
    # A form post about a run that does not exist: refused by its token first (none was issued for it).
    token = ui_csrf.issue_token(ui_csrf.key(), BOB, "nod-prod-404", "abort")
    status, _, html = post_form(stack, "ui/runs/nod-prod-404/abort", {"token_abort": token}, user=BOB)
    assert status == 404 and "RunNotFound" in html
    for method, path in [
        ("GET", "ui/runs/nod-prod-1/approve"),
        ("POST", "ui"),
        ("POST", "ui/runs/nod-prod-1"),
        ("PUT", "ui/runs/nod-prod-1/abort"),
        ("DELETE", "ui/runs/nod-prod-1"),
    ]:
        assert request(stack, method, path, user=BOB, data=b"" if method != "GET" else None)[0] == 405, (method, path)


FORM_DOORS = [f"ui/runs/nod-prod-7/{action}" for action in ("approve", "reject", "abort", "rollback")]
form_bodies = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from(["token_approve", "token_abort", "comment", "reason", "x"]), st.text(max_size=40)
    ).map(lambda fields: urlencode(fields).encode()),
    st.integers(0, 40).map(lambda n: ("&".join(f"f{i}=v" for i in range(n))).encode()),  # more fields than taken
    st.just(b"reason=" + b"x" * (MAX_BODY_BYTES + 1)),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    door=st.sampled_from(FORM_DOORS),
    body=form_bodies,
    content_type=st.sampled_from([FORM, FORM + "; charset=utf-8", "application/json", "text/plain", ""]),
    origin=st.sampled_from(["own", None, "https://evil.example"]),
    user=st.sampled_from([BOB, None]),
)
def test_random_form_posts_never_get_a_500_nor_reach_a_run(stack: Stack, door, body, content_type, origin, user):
    """The form doors' hostile input (the JSON doors' is tests/triggers/test_hostile_input.py's)."""
    headers = {"Content-Type": content_type, "Accept": "application/json"}
    if origin is not None:
        headers["Origin"] = stack.host.base_url if origin == "own" else origin
    status, _, text = request(stack, "POST", door, user=user, data=body, headers=headers)
    assert 400 <= status < 500, (status, text)
    error = json.loads(text)["error"]
    assert error["code"] and error["message"] and "Traceback" not in text
    assert stack.host.store.instances() == []


# ---- the pieces, on their own


def test_a_token_is_bound_to_its_caller_run_action_and_hour() -> None:
    key, now = b"k" * 32, 1_800_000_000.0
    token = ui_csrf.issue_token(key, "Bob@Example.com", "nod-prod-3", "approve", now)
    assert ui_csrf.token_refusal(key, token, "bob@example.com", "nod-prod-3", "approve", now + 10) is None
    refusals = {
        "another caller": ui_csrf.token_refusal(key, token, CAROL, "nod-prod-3", "approve", now),
        "another run": ui_csrf.token_refusal(key, token, BOB, "nod-prod-4", "approve", now),
        "another action": ui_csrf.token_refusal(key, token, BOB, "nod-prod-3", "reject", now),
        "another key": ui_csrf.token_refusal(b"x" * 32, token, BOB, "nod-prod-3", "approve", now),
        "expired": ui_csrf.token_refusal(key, token, BOB, "nod-prod-3", "approve", now + 3601),
        "from the future": ui_csrf.token_refusal(key, token, BOB, "nod-prod-3", "approve", now - 61),
        "missing": ui_csrf.token_refusal(key, "", BOB, "nod-prod-3", "approve", now),
        "malformed": ui_csrf.token_refusal(key, "١٢٣.abc", BOB, "nod-prod-3", "approve", now),
        "issued-at changed": ui_csrf.token_refusal(
            key, f"{int(now) + 5}.{token.split('.', 1)[1]}", BOB, "nod-prod-3", "approve", now + 5
        ),
    }
    assert all(refusals.values()), refusals
    assert "more than an hour old" in str(refusals["expired"])


def test_the_key_is_the_app_setting_else_one_random_key_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ui_csrf.KEY_SETTING, "configured")
    assert ui_csrf.key() == b"configured"
    monkeypatch.delenv(ui_csrf.KEY_SETTING)
    assert ui_csrf.key() == ui_csrf.key() and len(ui_csrf.key()) == 32


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Host": "app.example", "Origin": "https://app.example"}, True),
        ({"Host": "APP.example", "Origin": "https://app.EXAMPLE"}, True),
        ({"Host": "app.example", "Referer": "https://app.example/api/ui/runs/x"}, True),
        ({"Host": "app.example", "Origin": "https://evil.example", "Referer": "https://app.example/"}, False),
        ({"Host": "app.example:443", "Origin": "https://app.example"}, False),
        ({"Host": "app.example", "Origin": "https://app.example.evil.example"}, False),
        ({"Host": "app.example", "Origin": "null"}, False),
        ({"Host": "app.example", "Referer": "ftp://app.example/"}, False),
        ({"Host": "app.example"}, False),
        ({"Host": "app.example", "Origin": ""}, False),
    ],
)
def test_a_post_must_name_this_apps_own_host(headers: dict[str, str], allowed: bool) -> None:
    refusal = ui_csrf.origin_refusal(headers, "https://app.example/api/ui/runs/x/approve")
    assert (refusal is None) is allowed, refusal


def test_a_flash_is_shown_only_as_this_app_signed_it() -> None:
    key = b"k" * 32
    value = ui_csrf.sign_flash(key, "ok", "Approved <b>")
    assert ui_csrf.read_flash(key, value) == ("ok", "Approved <b>")
    assert ui_csrf.read_flash(b"x" * 32, value) is None
    assert ui_csrf.read_flash(key, value.replace(".", "x.", 1)) is None
    assert ui_csrf.read_flash(key, "garbage") is None


def test_on_azure_the_pages_answer_only_behind_app_service_authentication(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSITE_INSTANCE_ID", raising=False)
    assert ui.easy_auth_refusal() is None  # the local host, Core Tools
    monkeypatch.setenv("WEBSITE_INSTANCE_ID", "abc123")
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    refused = ui.easy_auth_refusal()
    assert refused is not None and refused.status == 403 and refused.code == "AuthenticationOff"
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    assert ui.easy_auth_refusal() is None
