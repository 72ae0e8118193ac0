"""Notifications: a run's moments as a Teams card, a Slack message or a signed JSON webhook, and their delivery.

One `Notice`, three payloads (docs/notifications.md shows each):
- teams: a message for a Teams Workflows webhook ("When a Teams webhook request is received", then "Post card
  in a chat or channel"): an Adaptive Card in `attachments`. Workflows take Adaptive Cards only, not the retired
  connectors' MessageCard.
- slack: an incoming-webhook message: `text` (what the notification shows) and Block Kit `blocks`.
- webhook: the notice as JSON, signed as the pipeline's notice is (`X-BlueGreen-Signature-256: sha256=<hex
  HMAC-SHA256 of the raw body>`), with `X-BlueGreen-Event`, `X-BlueGreen-Delivery` (also `deliveryId` in the body)
  and `X-BlueGreen-Timestamp` (a copy of the signed `sentAt`): a receiver refuses a body whose `sentAt` is more
  than REPLAY_WINDOW_SECONDS away, or a delivery id it has seen (`verify_delivery`).

Delivery is best effort: TIMEOUT_SECONDS per attempt, RETRIES quick retries on a 5xx, a timeout or a refused
connection, and `send_all` always returns one result per target: a notification never fails or holds up a run.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bluegreen.config import NOTIFY_EVENTS, Environments, Notification, is_secret_reference, load_environments
from bluegreen.contract import Notice, NotifyResult, TargetResult
from bluegreen.pipeline import SIGNATURE_HEADER, sign, verify

EVENT_HEADER = "X-BlueGreen-Event"
DELIVERY_HEADER = "X-BlueGreen-Delivery"
TIMESTAMP_HEADER = "X-BlueGreen-Timestamp"
PUBLIC_URL_SETTING = "BLUEGREEN_PUBLIC_URL"  # the app's public base URL: the run's page is {it}/api/ui/runs/{id}
# A notice minutes late is worth little, and a run waits for its delivery: 5 s per attempt, two retries
# (at once, then after a second), never Retry-After (a throttled channel must not hold the run up).
TIMEOUT_SECONDS = 5.0
RETRIES = 2
BACKOFF_SECONDS = 0.5
RETRY_STATUSES = (500, 502, 503, 504)
REPLAY_WINDOW_SECONDS = 300
# Adaptive Cards: Teams renders schema 1.4 on every client (adaptivecards.io/designer, "Teams" host).
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Block Kit limits (docs.slack.dev/reference/block-kit/blocks): a header's text 150 characters, a section's text
# 3000, a field 2000 (10 at most), a button's text 75; a message's `text` is cut by Slack past 4000.
SLACK_HEADER, SLACK_SECTION, SLACK_FIELD, SLACK_FIELDS, SLACK_BUTTON, SLACK_TEXT = 150, 3000, 2000, 10, 75, 3000
OPEN_RUN = "Open the run"

_HEADLINES = {
    "awaiting-approval": "awaiting approval",
    "approval-expiring": "approval expires in 1 h",
    "switch": "traffic moving to green",
    "rollback": "rolled back to blue",
    "completed": "completed",
    "failed": "failed",
}
# Adaptive Card TextBlock colours: what a glance at the channel should tell.
_COLOURS = {"approval-expiring": "Warning", "rollback": "Attention", "failed": "Attention", "completed": "Good"}


# ---- the words, the same in every payload


def headline(notice: Notice) -> str:
    if notice.event == "ended":
        return f"ended ({str(notice.outcome).replace('_', ' ')})" if notice.outcome else "ended"
    if notice.event == "rollback" and notice.trigger is not None:
        return f"rolled back to blue ({notice.trigger})"
    return _HEADLINES[notice.event]


def title(notice: Notice) -> str:
    return f"{notice.environment}: {'revert ' if notice.kind == 'revert' else ''}{headline(notice)}"


def summary(notice: Notice) -> str:
    """One line, without the environment: what a timeline or a phone's notification shows."""
    line = headline(notice)
    if notice.deadline and notice.event in ("awaiting-approval", "approval-expiring"):
        line += f" (deadline {notice.deadline})"
    elif notice.event == "switch" and notice.green:
        line += f" ({notice.green})"
    elif notice.event == "completed" and notice.green:
        line += f": {notice.green} is live" + (f" at {notice.target_version}" if notice.target_version else "")
    elif notice.reason:
        line += f": {notice.reason}"
    return _cut(line, 300)


def facts(notice: Notice) -> list[tuple[str, str]]:
    rows = [
        ("Environment", notice.environment),
        ("Run", f"{notice.run_id} ({notice.kind})"),
        ("Outcome", str(notice.outcome).replace("_", " ") if notice.outcome else None),
        ("Deadline", notice.deadline),
        ("Trigger", str(notice.trigger) if notice.trigger else None),
        ("Reason", notice.reason),
        ("Blue", notice.blue),
        ("Green", notice.green),
        ("Target version", notice.target_version),
        ("Started by", notice.started_by),
        ("At", notice.at),
    ]
    return [(name, value) for name, value in rows if value]


def run_link(run_id: str, env: Mapping[str, str] | None = None) -> str | None:
    """The run's page, when the app knows its public URL (BLUEGREEN_PUBLIC_URL); else no link at all."""
    base = (os.environ if env is None else env).get(PUBLIC_URL_SETTING, "").strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        return None
    return f"{base}/api/ui/runs/{run_id}"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- the payloads


def teams_message(notice: Notice, link: str | None) -> dict[str, Any]:
    """A Workflows webhook message: one Adaptive Card (title, what happened, the facts, a button to the run)."""
    heading: dict[str, Any] = {
        "type": "TextBlock",
        "id": f"event-{notice.event}",  # which moment this card is, for whoever reads the card's JSON
        "text": title(notice),
        "size": "Medium",
        "weight": "Bolder",
        "wrap": True,
    }
    if notice.event in _COLOURS:
        heading["color"] = _COLOURS[notice.event]
    text = {"type": "TextBlock", "text": notice.message or summary(notice), "wrap": True}
    body: list[dict[str, Any]] = [heading, text]
    body.append({"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in facts(notice)]})
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": f"{notice.environment}: {summary(notice)}",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": OPEN_RUN, "url": link}]
    return {"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped (docs.slack.dev: formatting text, escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(notice: Notice, link: str | None) -> dict[str, Any]:
    """An incoming-webhook message: the fallback `text`, then header, section (with facts), context, a button."""
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{name}*\n{_mrkdwn(value)}", SLACK_FIELD)}
        for name, value in facts(notice)
        if name not in ("Environment", "At")
    ][:SLACK_FIELDS]
    at = notice.at
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "block_id": notice.event,  # which moment this message is
            "text": {"type": "plain_text", "text": _cut(title(notice), SLACK_HEADER), "emoji": True},
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(notice.message or summary(notice)), SLACK_SECTION)},
            "fields": fields,
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _mrkdwn(f"{notice.environment} · run {notice.run_id} · {at}")}],
        },
    ]
    if link:
        text = {"type": "plain_text", "text": OPEN_RUN}
        button = {"type": "button", "text": text, "url": link, "action_id": "open-run"}
        blocks.append({"type": "actions", "elements": [button]})
    return {"text": _cut(_mrkdwn(f"{notice.environment}: {summary(notice)}"), SLACK_TEXT), "blocks": blocks}


def delivery_id(notice: Notice) -> str:
    """The same for every delivery of one notice (an activity runs at least once): a receiver's idempotency key."""
    return hashlib.sha256(f"{notice.run_id}|{notice.event}|{notice.at}".encode()).hexdigest()[:32]


def webhook_body(notice: Notice, link: str | None, sent_at: str) -> dict[str, Any]:
    return {
        "event": notice.event,
        "deliveryId": delivery_id(notice),
        "runId": notice.run_id,
        "environment": notice.environment,
        "kind": notice.kind,
        "phase": notice.phase,
        "outcome": notice.outcome,
        "reason": notice.reason,
        "trigger": notice.trigger,
        "deadline": notice.deadline,
        "link": link,
        "at": notice.at,
        "summary": summary(notice),
        "message": notice.message,
        "blue": notice.blue,
        "green": notice.green,
        "targetVersion": notice.target_version,
        "startedBy": notice.started_by,
        "sentAt": sent_at,
    }


def encode(
    notice: Notice, kind: str, link: str | None, key: str | None = None, now: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers of one delivery (a webhook's signed with `key`)."""
    headers = {"Content-Type": "application/json", "User-Agent": "aks-bluegreen"}
    if kind == "teams":
        payload = teams_message(notice, link)
    elif kind == "slack":
        payload = slack_message(notice, link)
    else:
        assert key is not None, "a webhook is always signed (the configuration requires its secret)"
        sent_at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = webhook_body(notice, link, sent_at)
    raw = json.dumps(payload, ensure_ascii=False).encode()
    if kind == "webhook":
        headers |= {
            SIGNATURE_HEADER: sign(str(key), raw),
            EVENT_HEADER: notice.event,
            DELIVERY_HEADER: payload["deliveryId"],
            TIMESTAMP_HEADER: payload["sentAt"],
        }
    return raw, headers


def verify_delivery(
    key: str, raw: bytes, headers: Mapping[str, str], now: datetime, seen: Collection[str] = ()
) -> str | None:
    """What a webhook receiver checks, in order; None when the delivery is genuine and new, else why not.
    Header names in any case (HTTP/2 lower-cases them)."""
    named = {name.lower(): value for name, value in headers.items()}
    if not verify(key, raw, named.get(SIGNATURE_HEADER.lower(), "")):
        return "the signature does not verify"
    body = json.loads(raw)
    if named.get(TIMESTAMP_HEADER.lower()) != body.get("sentAt"):
        return "the timestamp header is not the signed sentAt"
    sent = datetime.strptime(str(body.get("sentAt")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs((now - sent).total_seconds()) > REPLAY_WINDOW_SECONDS:
        return f"sentAt is more than {REPLAY_WINDOW_SECONDS} s away: a replay"
    if body.get("deliveryId") in seen:
        return "a delivery already received"
    return None


# ---- delivery


def session() -> requests.Session:
    retry = Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        other=0,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"POST"}),  # a repeated notice is harmless (and has the same delivery id)
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    s = requests.Session()
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s


def _why(exc: BaseException) -> str:
    """A failed request in a few words: never its message, which names the URL (for Teams and Slack, the secret)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(exc, requests.Timeout) or "timeout" in type(reason).__name__.lower():
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return f"unreachable ({type(reason or exc).__name__})"
    return type(exc).__name__


def deliver(
    notice: Notice, target: Notification, name: str, link: str | None, resolve: Callable[[str], str], http: Any
) -> TargetResult:
    """One target: its URL and key read now, the payload posted; the result, never an exception."""
    failed = TargetResult(target=name, kind=target.kind, sent=False)
    try:
        url = resolve(target.url) if is_secret_reference(target.url) else target.url
        key = resolve(target.secret) if target.secret else None
    except Exception as exc:  # SecretNotFound, Key Vault unavailable, no credential
        code = getattr(exc, "code", type(exc).__name__)
        return failed.model_copy(update={"error": f"{code}: {getattr(exc, 'message', '')}".rstrip(": ")})
    if not url.startswith(("https://", "http://")):
        return failed.model_copy(update={"error": f"{target.url} does not hold an http(s) URL"})
    raw, headers = encode(notice, target.kind, link, key)
    try:
        # No redirects: a signed body goes where it was configured to, or nowhere (a 3xx is a failure).
        response = http.post(url, data=raw, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        return failed.model_copy(update={"error": _why(exc)})
    status = response.status_code
    if 200 <= status < 300:
        return TargetResult(target=name, kind=target.kind, sent=True, status=status)
    return failed.model_copy(update={"status": status, "error": f"HTTP {status}"})


def send_all(
    notice: Notice,
    resolve: Callable[[str], str],
    load: Callable[[], Environments] = load_environments,
    http: Any = None,
) -> NotifyResult:
    """The notice to every target of its environment that takes its event. Never raises."""
    try:
        environment = load().get(notice.environment)
    except Exception as exc:  # an unreadable configuration costs this notice, not the run
        return NotifyResult(event=notice.event, problem=_cut(str(exc).splitlines()[0] if str(exc) else repr(exc), 300))
    if environment is None:
        return NotifyResult(event=notice.event, configured=[], problem=f"{notice.environment} is not configured")
    targets = environment.notifications
    configured = [event for event in NOTIFY_EVENTS if any(event in t.events for t in targets)]
    link = run_link(notice.run_id)
    own = http is None
    http = session() if own else http
    try:
        results = [
            deliver(notice, target, target.name or f"{target.kind}#{n}", link, resolve, http)
            for n, target in enumerate(targets, start=1)
            if notice.event in target.events
        ]
    finally:
        if own:
            http.close()
    return NotifyResult(event=notice.event, results=results, configured=configured)
