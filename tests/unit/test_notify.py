"""Notifications: each payload has the shape its receiver takes, a webhook's signature proves it, and a delivery
that fails is a result, never an exception."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bluegreen import notify
from bluegreen.config import NOTIFY_EVENTS, ConfigError, Environments, parse_environments
from bluegreen.contract import Notice, Outcome, Phase, RollbackTrigger
from bluegreen.errors import PermanentError
from bluegreen.pipeline import SIGNATURE_HEADER, sign, verify

FD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd"
LINK = "https://func-shop.example.net/api/ui/runs/shop-7"
KEY = "hook-hmac-key-3f9a"
NOW = datetime(2026, 11, 19, 7, 0, tzinfo=UTC)


def notice(event: str = "awaiting-approval", **changes: Any) -> Notice:
    fields: dict[str, Any] = {
        "event": event,
        "run_id": "shop-7",
        "environment": "shop",
        "at": "2026-11-19T07:00:00Z",
        "message": "waiting for approval until 2026-11-20T07:00:00Z",
        "phase": Phase.APPROVAL,
        "deadline": "2026-11-20T07:00:00Z",
        "blue": "aks-shop-1 (1.31.8)",
        "green": "aks-shop-2",
        "target_version": "1.34.2",
        "started_by": "alice@example.com",
    }
    return Notice.model_validate({**fields, **changes})


def rollback_notice() -> Notice:
    return notice(
        "rollback",
        phase=Phase.ROLLBACK,
        deadline=None,
        trigger=RollbackTrigger.METRICS,
        reason="5xx 31.0% of 1000 requests > 5.0%",
        message="traffic is back on aks-shop-1: 5xx 31.0% of 1000 requests > 5.0%",
    )


# ---- the words


def test_summary_names_the_moment_and_what_matters_in_it():
    assert notify.summary(notice()) == "awaiting approval (deadline 2026-11-20T07:00:00Z)"
    assert notify.summary(notice("approval-expiring")).startswith("approval expires in 1 h (deadline ")
    assert notify.summary(notice("switch")) == "traffic moving to green (aks-shop-2)"
    assert notify.summary(rollback_notice()) == "rolled back to blue (metrics): 5xx 31.0% of 1000 requests > 5.0%"
    assert notify.summary(notice("completed")) == "completed: aks-shop-2 is live at 1.34.2"
    ended = notice("ended", outcome=Outcome.REJECTED, reason="approval timed out")
    assert notify.summary(ended) == "ended (rejected): approval timed out"
    assert notify.title(notice(kind="revert")) == "shop: revert awaiting approval"


def test_the_runs_link_needs_the_public_url_and_is_omitted_without_it():
    assert notify.run_link("shop-7", {"BLUEGREEN_PUBLIC_URL": "https://func-shop.example.net/"}) == LINK
    assert notify.run_link("shop-7", {}) is None
    assert notify.run_link("shop-7", {"BLUEGREEN_PUBLIC_URL": "func-shop.example.net"}) is None


# ---- Teams: a Workflows webhook message carrying one Adaptive Card


def _card(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


@pytest.mark.parametrize("event", NOTIFY_EVENTS)
def test_teams_message_is_an_adaptive_card_of_at_least_1_4_with_text_facts_and_a_button(event):
    card = _card(notify.teams_message(notice(event, outcome=Outcome.COMPLETED), LINK))
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert tuple(int(p) for p in card["version"].split(".")) >= (1, 4)
    assert card["fallbackText"].startswith("shop: ")
    assert card["body"], "a card needs a body"
    for element in card["body"]:
        assert element["type"] in ("TextBlock", "FactSet")
        if element["type"] == "TextBlock":
            assert isinstance(element["text"], str) and element["text"] and element["wrap"] is True
        else:
            assert element["facts"] and all(set(f) == {"title", "value"} for f in element["facts"])
            assert all(isinstance(f["title"], str) and isinstance(f["value"], str) for f in element["facts"])
    assert card["body"][0]["id"] == f"event-{event}"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open the run", "url": LINK}]
    assert len(json.dumps(card)) < 28 * 1024  # Teams refuses a message over 28 KB


def test_teams_card_without_a_public_url_has_no_action_and_colours_trouble():
    card = _card(notify.teams_message(rollback_notice(), None))
    assert "actions" not in card
    assert card["body"][0]["color"] == "Attention"
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Trigger"] == "metrics" and facts["Reason"].startswith("5xx 31.0%")


# ---- Slack: an incoming-webhook message in Block Kit


@pytest.mark.parametrize("event", NOTIFY_EVENTS)
def test_slack_message_has_fallback_text_and_blocks_within_block_kit_limits(event):
    message = notify.slack_message(notice(event, outcome=Outcome.FAILED, reason="VerificationFailed: web 0/3"), LINK)
    assert 0 < len(message["text"]) <= 3000
    header, section, context, actions = message["blocks"]
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "context", "actions"]
    assert header["block_id"] == event
    assert header["text"]["type"] == "plain_text" and 0 < len(header["text"]["text"]) <= 150
    assert section["text"]["type"] == "mrkdwn" and 0 < len(section["text"]["text"]) <= 3000
    assert 0 < len(section["fields"]) <= 10 and all(len(f["text"]) <= 2000 for f in section["fields"])
    assert 0 < len(context["elements"]) <= 10
    (button,) = actions["elements"]
    assert button["type"] == "button" and button["url"] == LINK and len(button["text"]["text"]) <= 75


def test_slack_cuts_long_text_to_its_limits_and_escapes_its_control_characters():
    long_reason = "<script> & " + "x" * 5000
    message = notify.slack_message(
        notice("failed", environment="e" * 32, reason=long_reason, message=long_reason), None
    )
    header, section, _context = message["blocks"]  # no link: no actions block
    assert len(header["text"]["text"]) <= 150 and len(section["text"]["text"]) <= 3000
    assert len(message["text"]) <= 3000
    assert section["text"]["text"].startswith("&lt;script&gt; &amp; ")
    assert "<script>" not in json.dumps(message)


# ---- webhook: signed JSON


def test_webhook_body_carries_the_notice_and_is_signed_over_its_raw_bytes():
    raw, headers = notify.encode(rollback_notice(), "webhook", LINK, KEY, now=NOW)
    body = json.loads(raw)
    assert {k: body[k] for k in ("event", "runId", "environment", "phase", "outcome", "trigger", "link", "at")} == {
        "event": "rollback",
        "runId": "shop-7",
        "environment": "shop",
        "phase": "rollback",
        "outcome": None,
        "trigger": "metrics",
        "link": LINK,
        "at": "2026-11-19T07:00:00Z",
    }
    assert body["reason"].startswith("5xx") and body["deadline"] is None and body["sentAt"] == "2026-11-19T07:00:00Z"
    assert headers[SIGNATURE_HEADER] == sign(KEY, raw) and verify(KEY, raw, headers[SIGNATURE_HEADER])
    assert headers[notify.EVENT_HEADER] == "rollback"
    assert headers[notify.TIMESTAMP_HEADER] == body["sentAt"]
    assert headers[notify.DELIVERY_HEADER] == body["deliveryId"]
    assert KEY not in raw.decode() and KEY not in json.dumps(headers).replace(headers[SIGNATURE_HEADER], "")


def test_a_webhook_delivery_verifies_only_with_its_key_its_body_and_in_time():
    raw, headers = notify.encode(notice(), "webhook", LINK, KEY, now=NOW)
    assert notify.verify_delivery(KEY, raw, headers, NOW + timedelta(seconds=20)) is None
    assert notify.verify_delivery("another-key", raw, headers, NOW) == "the signature does not verify"
    tampered = raw.replace(b'"shop-7"', b'"shop-8"')
    assert tampered != raw and notify.verify_delivery(KEY, tampered, headers, NOW) == "the signature does not verify"
    assert "replay" in str(notify.verify_delivery(KEY, raw, headers, NOW + timedelta(minutes=6)))
    moved = {**headers, notify.TIMESTAMP_HEADER: "2026-11-19T07:05:00Z"}
    assert notify.verify_delivery(KEY, raw, moved, NOW) == "the timestamp header is not the signed sentAt"
    seen = {json.loads(raw)["deliveryId"]}
    assert notify.verify_delivery(KEY, raw, headers, NOW, seen) == "a delivery already received"


def test_the_same_notice_sent_twice_has_one_delivery_id_and_another_notice_another():
    first, _ = notify.encode(notice(), "webhook", None, KEY, now=NOW)
    again, _ = notify.encode(notice(), "webhook", None, KEY, now=NOW + timedelta(seconds=30))
    other, _ = notify.encode(notice("switch"), "webhook", None, KEY, now=NOW)
    ids = [json.loads(raw)["deliveryId"] for raw in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]


# ---- the configuration


def _env(notifications: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "environment": [
            {
                "name": "shop",
                "clusters": {"subscription": "s", "resource_group": "rg", "names": ["aks-a", "aks-b"]},
                "front_door": {"id": FD, "origin_group": "og", "origins": ["origin-a", "origin-b"]},
                "notifications": notifications,
            }
        ]
    }


def test_a_target_takes_every_event_by_default_and_an_environment_needs_none():
    (target,) = (
        parse_environments(_env([{"kind": "teams", "url": "appsetting:TEAMS_URL"}])).environment[0].notifications
    )
    assert target.events == list(NOTIFY_EVENTS)
    assert parse_environments(_env([])).environment[0].notifications == []


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ({"kind": "teams", "url": "https://prod.logic.azure.com/workflows/1?sig=x"}, "is a credential"),
        ({"kind": "slack", "url": "appsetting:SLACK_URL", "secret": "appsetting:K"}, "`secret` is for kind `webhook`"),
        ({"kind": "webhook", "url": "https://hooks.example.net/bg"}, "needs `secret`"),
        ({"kind": "webhook", "url": "ftp://hooks.example.net", "secret": "appsetting:K"}, "http(s) URL"),
        ({"kind": "webhook", "url": "https://h.example.net", "secret": "K"}, "secret reference is"),
        ({"kind": "slack", "url": "appsetting:S", "events": ["switch", "switch"]}, "repeats switch"),
        ({"kind": "slack", "url": "appsetting:S", "events": ["deployed"]}, "notifications.0.events.0"),
        ({"kind": "slack", "url": "appsetting:S", "events": []}, "at least 1 item"),
        ({"kind": "email", "url": "appsetting:S"}, "notifications.0.kind"),
    ],
)
def test_a_bad_notification_target_is_refused_naming_its_field(target, says):
    with pytest.raises(ConfigError) as refused:
        parse_environments(_env([target]))
    assert "environment.0.notifications.0" in str(refused.value) and says in str(refused.value)


# ---- delivery, against a local endpoint


class Endpoint:
    """127.0.0.1 answering POSTs with the statuses it is given, one per request (then 200), or never in time."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.delay = 0.0
        self.received: list[tuple[str, bytes, dict[str, str]]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.received.append((self.path, raw, dict(self.headers.items())))
                time.sleep(endpoint.delay)
                self.send_response(endpoint.statuses.pop(0) if endpoint.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    made = Endpoint()
    yield made
    made.server.shutdown()
    made.server.server_close()


def _send(endpoint: Endpoint, targets: list[dict[str, Any]], secrets: dict[str, str], event: str = "switch"):
    def resolve(reference: str) -> str:
        if reference not in secrets:
            raise PermanentError("SecretNotFound", f"app setting {reference.removeprefix('appsetting:')} is not set")
        return secrets[reference]

    environments: Environments = parse_environments(_env(targets))
    return notify.send_all(notice(event), resolve=resolve, load=lambda: environments)


def test_every_target_that_takes_the_event_gets_it_and_the_result_names_each_without_its_url(endpoint):
    secrets = {"appsetting:TEAMS_URL": endpoint.url("/teams?sig=s3cr3t"), "appsetting:HOOK_KEY": KEY}
    targets = [
        {"kind": "teams", "url": "appsetting:TEAMS_URL", "name": "ops channel"},
        {"kind": "webhook", "url": endpoint.url("/hook"), "secret": "appsetting:HOOK_KEY"},
        {"kind": "slack", "url": "appsetting:SLACK_URL", "events": ["completed", "failed"]},
    ]
    result = _send(endpoint, targets, secrets)
    assert [(r.target, r.kind, r.sent, r.status) for r in result.results] == [
        ("ops channel", "teams", True, 200),
        ("webhook#2", "webhook", True, 200),
    ]
    assert result.configured == list(NOTIFY_EVENTS)
    assert [path for path, _, _ in endpoint.received] == ["/teams?sig=s3cr3t", "/hook"]
    _, raw, headers = endpoint.received[1]
    assert notify.verify_delivery(KEY, raw, headers, datetime.now(UTC)) is None
    assert "s3cr3t" not in result.model_dump_json()


def test_a_5xx_is_retried_twice_quickly_and_then_reported_with_its_status(endpoint):
    endpoint.statuses = [503, 500]
    (recovered,) = _send(
        endpoint, [{"kind": "teams", "url": "appsetting:U"}], {"appsetting:U": endpoint.url("/t")}
    ).results
    assert recovered.sent and recovered.status == 200 and len(endpoint.received) == 3

    endpoint.statuses, endpoint.received = [500, 502, 504], []
    (failed,) = _send(
        endpoint, [{"kind": "teams", "url": "appsetting:U"}], {"appsetting:U": endpoint.url("/t")}
    ).results
    assert (failed.sent, failed.status, failed.error) == (False, 504, "HTTP 504") and len(endpoint.received) == 3


@pytest.mark.parametrize("status", [404, 302])
def test_a_4xx_or_a_redirect_is_not_retried_nor_followed(endpoint, status):
    endpoint.statuses = [status]
    (result,) = _send(
        endpoint, [{"kind": "slack", "url": "appsetting:U"}], {"appsetting:U": endpoint.url("/s")}
    ).results
    assert (result.sent, result.status, result.error) == (False, status, f"HTTP {status}")
    assert len(endpoint.received) == 1


def test_a_target_that_does_not_answer_in_time_is_a_timeout_and_the_next_target_still_gets_its_notice(
    endpoint, monkeypatch
):
    monkeypatch.setattr(notify, "TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(notify, "BACKOFF_SECONDS", 0.0)
    endpoint.delay = 0.5
    targets = [{"kind": "teams", "url": "appsetting:SLOW"}, {"kind": "slack", "url": "appsetting:DOWN"}]
    secrets = {"appsetting:SLOW": endpoint.url("/slow"), "appsetting:DOWN": "http://127.0.0.1:9/nobody"}
    slow, down = _send(endpoint, targets, secrets).results
    assert (slow.sent, slow.error) == (False, "timed out")
    assert not down.sent and str(down.error).startswith("unreachable")
    assert "127.0.0.1" not in f"{slow.error} {down.error}"


def test_a_secret_that_cannot_be_read_fails_that_target_only(endpoint):
    targets = [{"kind": "teams", "url": "appsetting:GONE"}, {"kind": "slack", "url": "appsetting:S"}]
    gone, ok = _send(endpoint, targets, {"appsetting:S": endpoint.url("/s")}).results
    assert (gone.sent, gone.error) == (False, "SecretNotFound: app setting GONE is not set")
    assert ok.sent


def test_only_the_targets_that_take_the_event_are_sent_it_and_the_result_says_which_events_any_takes(endpoint):
    targets = [{"kind": "slack", "url": "appsetting:S", "events": ["completed", "failed"]}]
    result = _send(endpoint, targets, {"appsetting:S": endpoint.url("/s")}, event="switch")
    assert result.results == [] and result.configured == ["completed", "failed"] and endpoint.received == []


def test_an_unreadable_configuration_is_a_problem_in_the_result_never_an_exception():
    def broken() -> Environments:
        raise ConfigError("environments.toml: no such file")

    result = notify.send_all(notice(), resolve=lambda ref: ref, load=broken)
    assert (result.results, result.configured, result.problem) == ([], None, "environments.toml: no such file")
    unknown = notify.send_all(
        notice(environment="nobody"), resolve=lambda ref: ref, load=lambda: Environments(environment=[])
    )
    assert unknown.configured == [] and unknown.problem == "nobody is not configured"
