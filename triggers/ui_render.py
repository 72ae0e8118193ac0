"""The web pages' HTML: Jinja2 templates (triggers/templates/), loaded on first use, always escaped.

Every page carries a Content-Security-Policy whose only script and style are the page's own inline
ones, by a nonce made for that response: text a run shows (a reason, a comment, an Azure message) is
escaped by Jinja2's autoescape, and even markup that slipped through could not run a script. Pages are
never framed (clickjacking) nor cached (they carry form tokens), and send no Referer to other sites.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import azure.functions as func

from triggers.responses import ApiError, error_response, json_response

if TYPE_CHECKING:
    import jinja2

log = logging.getLogger("bluegreen.triggers")
TEMPLATES = Path(__file__).with_name("templates")
Handler = Callable[..., Awaitable[func.HttpResponse]]


def security_headers(nonce: str | None = None) -> dict[str, str]:
    inline = f"'nonce-{nonce}'" if nonce else "'none'"
    policy = (
        f"default-src 'self'; script-src {inline}; style-src {inline}; img-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


@functools.cache
def templates() -> jinja2.Environment:
    """The template environment, made on the first page (jinja2 is not imported at cold start)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=True, default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    return environment


def when(value: Any) -> str:
    """An ISO 8601 time as `2026-11-20 06:00:12 UTC`; anything else as it is."""
    if value is None or value == "":
        return ""
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if moment.utcoffset() is not None else "")


def page(
    template: str, http_status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> func.HttpResponse:
    nonce = secrets.token_urlsafe(16)
    body = templates().get_template(template).render(nonce=nonce, **context)
    return func.HttpResponse(
        body,
        status_code=http_status,
        headers={**security_headers(nonce), **(headers or {})},
        mimetype="text/html",
        charset="utf-8",
    )


def error_page(status: int, code: str, message: str, *, sign_in: str | None = None) -> func.HttpResponse:
    return page("error.html", status, status=status, code=code, message=message, sign_in=sign_in)


def wants_html(req: func.HttpRequest | None) -> bool:
    """A browser asks for HTML; a script (curl, a test's HTTP client) gets the API's JSON errors instead."""
    accept = (req.headers.get("Accept") or "") if req is not None else ""
    return "text/html" in accept.lower()


def html_page(fn: Handler) -> Handler:
    """ApiError -> a page saying it, with its status (JSON `{"error"}` for a caller that does not ask for HTML);
    anything unexpected -> a generic 500."""

    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> func.HttpResponse:
        req = kwargs.get("req", args[0] if args else None)
        html = wants_html(req if isinstance(req, func.HttpRequest) else None)
        try:
            return await fn(*args, **kwargs)
        except ApiError as error:
            if not html:
                return error_response(error.status, error.code, error.message, **error.extra)
            return error_page(error.status, error.code, error.message, sign_in=error.extra.get("signIn"))
        except Exception:
            log.exception("%s failed", fn.__name__)
            message = "the page could not be made; see the app's logs"
            return error_page(500, "InternalError", message) if html else error_response(500, "InternalError", message)

    return run


def json_data(body: Any) -> func.HttpResponse:
    """JSON for the pages' own script, with the pages' headers (no scripts, no framing, no caching)."""
    return json_response(body, headers=security_headers())


def redirect(location: str, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """303: the browser GETs `location` after a form post (a reload does not post again)."""
    return func.HttpResponse(status_code=303, headers={**security_headers(), "Location": location, **(headers or {})})
