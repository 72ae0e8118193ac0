"""What keeps another site from acting through a signed-in operator's browser: the web pages' form posts.

Easy Auth signs the browser in with a cookie, which the browser sends with any request to the app, a
form another site posts included. So a form post (triggers/ui.py) is taken only when both hold:

1. Its `Origin` (or, without one, its `Referer`) names the host the request came to. A browser always
   sends Origin on a cross-site POST; a request without either is refused too.
2. Its hidden token is an HMAC-SHA256, under the app setting `BLUEGREEN_UI_KEY` (else a random key of this
   process), over (the signed-in caller, the run, the action, when it was issued), at most an hour old.
   Another caller's token, another run's or action's, an old one, or one from before a key change fails.

Flash messages (what a post did, shown once on the run page) ride in a cookie signed with the same key.
With more than one instance of the Function App, set `BLUEGREEN_UI_KEY` (a Key Vault reference): each
process otherwise has its own key, and a page served by one is refused by another ("reload the page").
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

KEY_SETTING = "BLUEGREEN_UI_KEY"
TOKEN_SECONDS = 3600
# A token "issued" this far in the future is still taken: another instance's clock may be ahead.
CLOCK_SKEW_SECONDS = 60
_VERSION = "v1"


@functools.cache
def _process_key() -> bytes:
    return secrets.token_bytes(32)


def key() -> bytes:
    configured = os.environ.get(KEY_SETTING, "")
    return configured.encode() if configured.strip() else _process_key()


def _mac(secret: bytes, *parts: str) -> str:
    # Each part is length-prefixed: ("a|b", "c") and ("a", "b|c") never sign the same message.
    message = "".join(f"{len(p)}:{p};" for p in (_VERSION, *parts)).encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _identity(caller: str) -> str:
    return caller.strip().lower()


def issue_token(secret: bytes, caller: str, run_id: str, action: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(secret, 'token', _identity(caller), run_id, action, str(issued))}"


def token_refusal(
    secret: bytes, token: str, caller: str, run_id: str, action: str, now: float | None = None
) -> str | None:
    """Why `token` does not let `caller` do `action` on `run_id` now; None when it does."""
    issued_text, _, mac = token.partition(".")
    if not issued_text.isascii() or not issued_text.isdigit() or len(issued_text) > 12 or not mac:
        return "the form's token is missing or malformed: reload the page"
    issued = int(issued_text)
    expected = _mac(secret, "token", _identity(caller), run_id, action, issued_text)
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return "the form's token is not yours for this run and action: reload the page"
    clock = time.time() if now is None else now
    if issued > clock + CLOCK_SKEW_SECONDS:
        return "the form's token is from the future: check the servers' clocks"
    if clock - issued > TOKEN_SECONDS:
        return "the form is more than an hour old: reload the page and try again"
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key_, value in headers.items():
        if key_.lower() == name:
            return value
    return None


def origin_refusal(headers: Mapping[str, str], url: str) -> str | None:
    """Why this POST may have come from another site; None when it names this app's own host.

    The host is the `Host` header (as the browser addressed the app), else the request URL's. Origin
    `null` (a sandboxed frame, a redirect across sites, a file) is refused like a foreign one.
    """
    own = (_header(headers, "host") or urlsplit(url).netloc).strip().lower()
    origin = _header(headers, "origin")
    claimed = origin if origin is not None else _header(headers, "referer")
    if claimed is None or not claimed.strip():
        return "the request says neither where it comes from (Origin) nor which page sent it (Referer)"
    parts = urlsplit(claimed.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"the request comes from {claimed.strip()[:100]!r}, not from this app's pages"
    if parts.netloc.lower() != own:
        return f"the request comes from {parts.scheme}://{parts.netloc[:100]}, not from this app ({own})"
    return None


# ---- flash messages: what a form post did, shown once on the page it redirects to

FLASH_COOKIE = "bluegreen_flash"


def sign_flash(secret: bytes, level: str, text: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({"level": level, "text": text[:500]}).encode()).decode()
    return f"{payload}.{_mac(secret, 'flash', payload)}"


def read_flash(secret: bytes, value: str) -> tuple[str, str] | None:
    """(level, text) from a cookie value this app signed; None for anything else."""
    payload, _, mac = value.strip().strip('"').partition(".")
    if not payload or not hmac.compare_digest(_mac(secret, "flash", payload).encode(), mac.encode()):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("level") not in ("ok", "error"):
        return None
    return str(data["level"]), str(data.get("text", ""))


def cookie(headers: Mapping[str, str], name: str) -> str | None:
    for part in (_header(headers, "cookie") or "").split(";"):
        key_, _, value = part.strip().partition("=")
        if key_ == name:
            return value
    return None
