"""The operator's web pages, served by the Function App itself: server-rendered HTML, no build step.

- `GET /api/ui`: every environment (live cluster and version, the idle slot, whether a revert is
  possible) and the recent runs.
- `GET /api/ui/runs/{id}`: one run: phase, message, timeline, the verification report, green's
  definition from the plan, then the doors this caller may use (approve / reject with a comment, abort,
  roll back), or why not. `GET /api/ui/runs/{id}/timeline` is the JSON its script refreshes from.
- `POST /api/ui/runs/{id}/{approve|reject|abort|rollback}`: a form post; the same decision as the JSON
  door (triggers/actions.py), then 303 back to the run page with what happened.

The pages sit behind App Service Authentication (Easy Auth), which signs the browser in; they take no
function key (a browser cannot send one), so on Azure they answer only while Easy Auth is on: its
X-MS-CLIENT-PRINCIPAL headers are trusted only when it sets them. Signed out, a page is read-only.
Form posts must come from this app's own pages (triggers/ui_csrf.py).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import azure.durable_functions as df
import azure.functions as func

from triggers import actions, ui_csrf, ui_render, ui_views
from triggers.environments import environment_status
from triggers.http_api import detail, summary
from triggers.http_common import bp, environments_config, find_run, models, require_caller
from triggers.identity import Caller, IdentityMismatch, caller_from_headers
from triggers.responses import MAX_BODY_BYTES, ApiError, invalid, json_api
from triggers.runs import RunView, list_runs

PAGE_AUTH = func.AuthLevel.ANONYMOUS  # Easy Auth guards the pages; see the module's docstring
RECENT_RUNS = 20
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
SIGN_IN = "/.auth/login/aad?post_login_redirect_uri="


def easy_auth_refusal() -> ApiError | None:
    """On Azure (WEBSITE_INSTANCE_ID is set) without Easy Auth, anyone could send the identity headers."""
    on_azure = bool(os.environ.get("WEBSITE_INSTANCE_ID"))
    if on_azure and os.environ.get("WEBSITE_AUTH_ENABLED", "").strip().lower() != "true":
        return ApiError(
            403,
            "AuthenticationOff",
            "App Service Authentication is off for this Function App; the web pages are served only behind it",
        )
    return None


def page_caller(req: func.HttpRequest) -> tuple[Caller | None, str | None]:
    """(the signed-in caller or None, a note when the sign-in headers could not be believed)."""
    try:
        return caller_from_headers(req.headers), None
    except IdentityMismatch:
        return None, "your sign-in headers contradict each other: shown as signed out"


def root_of(path: str) -> str:
    """The pages' root (`/api/ui`, whatever the host's route prefix) from a page's own path."""
    head, found, _ = path.rpartition("/ui/runs/")
    return head + "/ui" if found else path.rstrip("/")


def frame(req: func.HttpRequest) -> dict[str, Any]:
    """What every page's layout shows: who is signed in, where the pages are, how to sign in."""
    caller, note = page_caller(req)
    path = urlsplit(req.url).path
    return {"caller": caller, "identity_note": note, "root": root_of(path), "sign_in": SIGN_IN + quote(path, safe="")}


# ---- pages


@bp.route(route="ui", methods=["GET"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_environments(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    actions.refuse(easy_auth_refusal())
    statuses = [await environment_status(client, env) for env in environments_config().environment]
    runs = [summary(r) for r in (await list_runs(client))[:RECENT_RUNS]]
    return ui_render.page("environments.html", environments=statuses, runs=runs, **frame(req))


@bp.route(route="ui/runs/{id}", methods=["GET"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    actions.refuse(easy_auth_refusal())
    run = await find_run(client, req)
    context = frame(req)
    env = ui_views.configured_environment(run)
    secret = ui_csrf.key()
    headers: dict[str, str] = {}
    flash = None
    if (flash_cookie := ui_csrf.cookie(req.headers, ui_csrf.FLASH_COOKIE)) is not None:
        flash = ui_csrf.read_flash(secret, flash_cookie)
        headers["Set-Cookie"] = flash_cookie_header(req, "", max_age=0)  # shown once
    facts = detail(run)
    return ui_render.page(
        "run.html",
        headers=headers,
        run=facts,
        view=run,
        state_key=state_key(facts),
        verification=run.output.verification if run.output else run.status.verification,
        env=env,
        flash=flash,
        doors=ui_views.doors(run, context["caller"], env, secret),
        plan=await ui_views.plan_view(run, env),
        shown=ui_views.shown,
        **context,
    )


def state_key(run: dict[str, Any]) -> str:
    """What the page's doors depend on: the script reloads the page when it changes (the same in run.html)."""
    accepts = sorted(name for name, yes in run["accepts"].items() if yes)
    return f"{run['runtimeStatus']}|{','.join(accepts)}"


@bp.route(route="ui/runs/{id}/timeline", methods=["GET"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@json_api
async def ui_run_timeline(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """What the run page's script refreshes: the phase, the message, the timeline and what the run accepts."""
    actions.refuse(easy_auth_refusal())
    run = detail(await find_run(client, req))
    fields = ("id", "runtimeStatus", "phase", "outcome", "message", "reason", "accepts", "timeline")
    return ui_render.json_data({name: run[name] for name in fields})


# ---- form posts


def flash_cookie_header(req: func.HttpRequest, value: str, max_age: int = 120) -> str:
    path = urlsplit(req.url).path
    run_page = path.rsplit("/", 1)[0] if req.method == "POST" else path
    secure = urlsplit(req.url).scheme == "https" or req.headers.get("X-Forwarded-Proto", "").lower() == "https"
    attributes = f"Path={run_page}; Max-Age={max_age}; HttpOnly; SameSite=Strict" + ("; Secure" if secure else "")
    return f"{ui_csrf.FLASH_COOKIE}={value}; {attributes}"


def read_form(req: func.HttpRequest) -> dict[str, str]:
    """The posted fields (the first of each name), from an application/x-www-form-urlencoded UTF-8 body."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "PayloadTooLarge", f"the form is {len(raw)} bytes; at most {MAX_BODY_BYTES} are accepted")
    media_type = (req.headers.get("Content-Type") or "").partition(";")[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise ApiError(415, "UnsupportedMediaType", f"post the page's form ({FORM_MEDIA_TYPE})")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "InvalidForm", "the form is not UTF-8 url-encoded fields") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def text_field(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name, "").strip()
    return value or None


async def perform(
    action: str, client: df.DurableOrchestrationClient, run: RunView, caller: Caller, fields: dict[str, str]
) -> actions.Raised:
    """The JSON door's decision, with the form's words validated by the door's own body model."""
    try:
        if action in ("approve", "reject"):
            decision = models.Decision.model_validate({"comment": text_field(fields, "comment")})
            return await actions.decide_run(client, run, caller, action == "approve", decision.comment)
        if action == "abort":
            abort = models.AbortRequest.model_validate({"reason": text_field(fields, "reason")})
            return await actions.abort_run(client, run, caller, abort.reason)
        rollback = models.RollbackRequest.model_validate({"reason": text_field(fields, "reason") or ""})
        return await actions.roll_back_run(client, run, caller, rollback.reason)
    except ValueError as exc:  # pydantic's ValidationError
        raise invalid(exc, "form") from None


DONE = {
    "approve": ("Approved: the run took your decision and goes on to the switch.", "Approval sent"),
    "reject": ("Rejected: the run removes green; blue stays live.", "Rejection sent"),
    "abort": ("Abort taken: the run removes green; blue stays live.", "Abort sent"),
    "rollback": ("Rollback taken: traffic goes back to blue.", "Rollback sent"),
}


def said(action: str, raised: actions.Raised) -> str:
    taken, sent = DONE[action]
    if raised.result == "taken":
        return taken
    if raised.result == "accepted":
        return f"{sent}: the run has not acted on it yet; this page shows when it does."
    return f"{sent}, but the run is {raised.result}."


async def act(req: func.HttpRequest, client: df.DurableOrchestrationClient, action: str) -> func.HttpResponse:
    actions.refuse(easy_auth_refusal())
    if (cross_site := ui_csrf.origin_refusal(req.headers, req.url)) is not None:
        raise ApiError(403, "CrossSiteRequest", cross_site)
    try:
        caller = require_caller(req)
    except ApiError as error:
        raise ApiError(error.status, error.code, error.message, signIn=frame(req)["sign_in"]) from None
    fields = read_form(req)
    run_id = req.route_params.get("id", "")
    token = fields.get(f"token_{action}", "")
    if (forged := ui_csrf.token_refusal(ui_csrf.key(), token, caller.name, run_id, action)) is not None:
        raise ApiError(403, "InvalidFormToken", forged)
    run = await find_run(client, req)
    try:
        level, text = "ok", said(action, await perform(action, client, run, caller, fields))
    except ApiError as refused:  # what the door decided: the run page says it, with the run as it is now
        level, text = "error", refused.message
    run_page = urlsplit(req.url).path.rsplit("/", 1)[0]
    flash = ui_csrf.sign_flash(ui_csrf.key(), level, text)
    return ui_render.redirect(run_page, headers={"Set-Cookie": flash_cookie_header(req, flash)})


@bp.route(route="ui/runs/{id}/approve", methods=["POST"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_approve(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await act(req, client, "approve")


@bp.route(route="ui/runs/{id}/reject", methods=["POST"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_reject(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await act(req, client, "reject")


@bp.route(route="ui/runs/{id}/abort", methods=["POST"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_abort(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await act(req, client, "abort")


@bp.route(route="ui/runs/{id}/rollback", methods=["POST"], auth_level=PAGE_AUTH)
@bp.durable_client_input(client_name="client")
@ui_render.html_page
async def ui_rollback(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await act(req, client, "rollback")
