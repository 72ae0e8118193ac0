"""The rehearsal's notification channels, on 127.0.0.1: a Teams Workflows webhook (/teams), a Slack incoming
webhook (/slack) and a team's own signed webhook (/hook).

Each records what it received and the one line its channel would show. /teams and /slack answer only at their
secret URL (a `sig` token, as a Workflows URL carries one), which the environment names by an app setting, as a
real one would keep it; /hook refuses (401) a delivery whose HMAC-SHA256 signature, timestamp or delivery id does
not check out (`bluegreen.notify.verify_delivery`), and answers 204 otherwise.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bluegreen.notify import PUBLIC_URL_SETTING, verify_delivery

# The app settings the rehearsal's environment names (notifications[].url / .secret).
TEAMS_URL_SETTING = "BLUEGREEN_REHEARSAL_TEAMS_URL"
SLACK_URL_SETTING = "BLUEGREEN_REHEARSAL_SLACK_URL"
HOOK_KEY_SETTING = "BLUEGREEN_REHEARSAL_HOOK_KEY"
# The rehearsal's app has no public address; its run pages are named as if it had one.
PUBLIC_URL = "https://func-bluegreen-rehearsal.example.net"
CHANNELS = ("teams", "slack", "hook")


@dataclass(frozen=True)
class Received:
    """One notification a channel accepted."""

    channel: str  # teams | slack | hook
    event: str | None
    line: str  # what the channel shows, without the environment
    body: dict[str, Any]
    raw: bytes
    headers: dict[str, str]
    at: datetime  # the rehearsal's (virtual) time

    def entry(self) -> dict[str, Any]:
        """As a timeline entry, for the rehearsal's printout: `notify    teams: awaiting approval (...)`."""
        return {
            "at": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "phase": "notify",
            "detail": f"{self.channel}: {self.line}",
        }


def _read(channel: str, body: dict[str, Any]) -> tuple[str | None, str]:
    """The moment (event) and the one line each payload carries."""
    if channel == "teams":
        card = body["attachments"][0]["content"]
        event, line = str(card["body"][0].get("id", "")).removeprefix("event-") or None, str(card["fallbackText"])
    elif channel == "slack":
        event, line = body["blocks"][0].get("block_id"), html.unescape(str(body["text"]))
    else:
        return body.get("event"), str(body.get("summary"))
    return event, line.split(": ", 1)[-1]  # "<environment>: <summary>"


class NotificationReceiver:
    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self.key = secrets.token_hex(32)  # the webhook's HMAC key
        self.token = secrets.token_urlsafe(16)  # what makes the Teams and Slack URLs secret
        self.received: list[Received] = []
        self.refused: list[tuple[str, str]] = []  # (channel, why)
        self._now = now or (lambda: datetime.now(UTC))
        self._seen: set[str] = set()
        self._shown = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._take(urlsplit(self.path), raw, {k: v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # the rehearsal prints its own timeline
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="notifications", daemon=True)

    def _take(self, url: Any, raw: bytes, headers: dict[str, str]) -> int:
        channel = url.path.strip("/")
        if channel not in CHANNELS:
            return 404
        why = None
        if channel == "hook":
            with self._lock:
                why = verify_delivery(self.key, raw, headers, datetime.now(UTC), self._seen)
        elif parse_qs(url.query).get("sig") != [self.token]:
            why = "not its secret URL"
        if why is None:
            try:
                body = json.loads(raw)
                event, line = _read(channel, body)
            except (ValueError, LookupError, TypeError) as exc:
                why = f"not a {channel} payload ({type(exc).__name__})"
        if why is not None:
            with self._lock:
                self.refused.append((channel, why))
            return 401 if channel == "hook" else 403
        with self._lock:
            if channel == "hook":
                self._seen.add(str(body.get("deliveryId")))
            self.received.append(Received(channel, event, line, body, raw, headers, self._now()))
        return {"teams": 202, "slack": 200}.get(channel, 204)  # what Workflows and Slack answer

    # ---- what the rehearsal configures

    def url(self, channel: str) -> str:
        base = f"http://127.0.0.1:{self._server.server_address[1]}/{channel}"
        return base if channel == "hook" else f"{base}?sig={self.token}"

    def targets(self) -> list[dict[str, Any]]:
        """The environment's `notifications`: all three channels, every event."""
        return [
            {"kind": "teams", "url": f"appsetting:{TEAMS_URL_SETTING}", "name": "teams"},
            {"kind": "slack", "url": f"appsetting:{SLACK_URL_SETTING}", "name": "slack"},
            {"kind": "webhook", "url": self.url("hook"), "secret": f"appsetting:{HOOK_KEY_SETTING}", "name": "hook"},
        ]

    def app_settings(self) -> dict[str, str]:
        return {
            TEAMS_URL_SETTING: self.url("teams"),
            SLACK_URL_SETTING: self.url("slack"),
            HOOK_KEY_SETTING: self.key,
            PUBLIC_URL_SETTING: PUBLIC_URL,
        }

    # ---- reading what arrived

    def take_new(self) -> list[Received]:
        """What arrived since the last call (the rehearsal prints each once)."""
        with self._lock:
            new = self.received[self._shown :]
            self._shown = len(self.received)
        return new

    def events(self, channel: str) -> list[str | None]:
        with self._lock:
            return [r.event for r in self.received if r.channel == channel]

    def start(self) -> NotificationReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
