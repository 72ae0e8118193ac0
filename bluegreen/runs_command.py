"""`python -m bluegreen runs ...`: the operator API from a terminal (list, show, watch, start, decide).

    runs list     --app URL [--environment E] [--limit N] [--json]
    runs show     --app URL (RUN_ID | --environment E) [--json]
    runs watch    --app URL (RUN_ID | --environment E) [--interval S]
    runs start    --app URL --environment E [--target-version V] [--strategy S] [--reason R] [--watch]
    runs approve  --app URL (RUN_ID | --environment E) [--comment C]
    runs reject   --app URL (RUN_ID | --environment E) [--comment C]
    runs abort    --app URL (RUN_ID | --environment E) [--reason R]
    runs rollback --app URL (RUN_ID | --environment E) --reason R

Without RUN_ID, `--environment` names the environment's newest run (for a decision: its newest run in progress).

Who calls: `--key` (or BLUEGREEN_FUNCTION_KEY) is sent as `x-functions-key`, which every route asks for on Azure.
The caller's identity comes from App Service Authentication (Easy Auth): the CLI gets a Microsoft Entra token with
azure-identity (DefaultAzureCredential: az login, a managed identity, ...) for `--scope` (default
`api://<client id>/.default`, the client id from `--client-id` or BLUEGREEN_APP_CLIENT_ID) and sends it as
`Authorization: Bearer`. A token is fetched when a scope or client id is given, or when the app is not on this
machine and `--as` is not given. `--as NAME` sends `X-MS-CLIENT-PRINCIPAL-NAME: NAME`, the header Easy Auth
injects: only the local host (`python -m bluegreen serve`) trusts it from a caller; Easy Auth strips it.

Exit status: 0 done (`watch`: the run completed); `watch` (and `start --watch`) 3 rolled_back, 4 rejected or
aborted, 5 failed; 2 bad input, an API error (printed as `error: CODE: message`) or an unreachable app;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

KEY_SETTING = "BLUEGREEN_FUNCTION_KEY"
CLIENT_ID_SETTING = "BLUEGREEN_APP_CLIENT_ID"
APP_SETTING = "BLUEGREEN_APP_URL"
EXIT_BY_OUTCOME = {"completed": 0, "rolled_back": 3, "rejected": 4, "aborted": 4, "failed": 5}
# A run the host ended without an outcome (terminated by hand, or crashed): as aborted, or as failed.
EXIT_BY_RUNTIME = {"Terminated": 4, "Failed": 5, "Canceled": 4}
ACTIVE = ("Running", "Pending", "ContinuedAsNew")
UNREACHABLE_GRACE_SECONDS = 30.0  # `watch` rides out a host restart this long


class CliError(Exception):
    """Printed as `error: ...` with exit status 2."""


class ApiError(CliError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class Unreachable(CliError):
    pass


# ---- arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--app", metavar="URL", help=f"the Function App's base URL (default: {APP_SETTING})")
    common.add_argument("--key", metavar="KEY", help=f"function key, sent as x-functions-key (default: {KEY_SETTING})")
    common.add_argument(
        "--as",
        dest="as_user",
        metavar="NAME",
        help="local host only: send X-MS-CLIENT-PRINCIPAL-NAME (Easy Auth strips it on Azure)",
    )
    common.add_argument(
        "--client-id", metavar="ID", help=f"the app registration Easy Auth accepts (default: {CLIENT_ID_SETTING})"
    )
    common.add_argument("--scope", metavar="SCOPE", help="token scope (default: api://<client id>/.default)")
    common.add_argument("--environment", metavar="NAME", help="the environment (without RUN_ID: its newest run)")

    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="recent runs, newest first, as a table")
    listing.add_argument("--limit", type=int, default=20, help="at most this many runs (default 20)")
    listing.add_argument("--json", action="store_true", help="print the API's JSON")

    def one_run(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common], help=help_text)
        sub.add_argument("run_id", nargs="?", metavar="RUN_ID", help="the run (default: --environment's newest)")
        return sub

    one_run("show", "one run: phase, what it accepts now, timeline").add_argument(
        "--json", action="store_true", help="print the API's JSON"
    )
    watch = one_run("watch", "print the run's timeline as it goes, until it ends; exit status by outcome")
    watch.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between polls (default 2)")
    start = actions.add_parser("start", parents=[common], help="start a run of --environment")
    start.add_argument("--target-version", metavar="V", help="MAJOR.MINOR[.PATCH] or latest (default: the policy's)")
    start.add_argument(
        "--strategy", choices=["clone-then-upgrade", "create-at-target"], help="default: the environment's"
    )
    start.add_argument("--reason", metavar="TEXT", help="why (shown in the run)")
    start.add_argument("--watch", action="store_true", help="then watch it (exit status by outcome)")
    start.add_argument("--interval", type=float, default=2.0, metavar="S", help="with --watch: seconds between polls")
    for verb, what in (
        ("approve", "approve the run awaiting approval"),
        ("reject", "reject the run awaiting approval"),
    ):
        one_run(verb, what).add_argument("--comment", metavar="TEXT", help="recorded with the decision")
    one_run("abort", "abort before the switch: green is removed, blue stays live").add_argument(
        "--reason", metavar="TEXT", help="why (recorded)"
    )
    one_run("rollback", "switch traffic back to blue (switch or bake)").add_argument(
        "--reason", metavar="TEXT", required=True, help="why (required, recorded)"
    )


# ---- HTTP


class Api:
    """The operator API at one Function App, with the caller's key and identity on every request."""

    def __init__(self, args: argparse.Namespace) -> None:
        app = args.app or os.environ.get(APP_SETTING)
        if not app:
            raise CliError(f"--app: give the Function App's URL (e.g. http://127.0.0.1:7071) or set {APP_SETTING}")
        parsed = urllib.parse.urlsplit(app)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CliError(f"--app {app}: not an http(s) URL")
        base = app.rstrip("/")
        self.base = base[: -len("/api")] if base.endswith("/api") else base
        self.local = (parsed.hostname or "") in ("127.0.0.1", "localhost", "::1")
        self.headers: dict[str, str] = {"Accept": "application/json"}
        key = args.key or os.environ.get(KEY_SETTING)
        if key:
            self.headers["x-functions-key"] = key
        if args.as_user:
            if not self.local:
                print(
                    "warning: --as is trusted only by the local host; Easy Auth strips X-MS-CLIENT-PRINCIPAL-NAME",
                    file=sys.stderr,
                )
            self.headers["X-MS-CLIENT-PRINCIPAL-NAME"] = args.as_user
        client_id = args.client_id or os.environ.get(CLIENT_ID_SETTING)
        scope = args.scope or (f"api://{client_id}/.default" if client_id else None)
        if scope is None and not self.local and not args.as_user:
            raise CliError(
                f"--client-id: give the app registration's client id (or {CLIENT_ID_SETTING}, or --scope) to sign in "
                "to the app's App Service Authentication"
            )
        self._scope = scope

    def _authorize(self) -> None:
        if self._scope is None or "Authorization" in self.headers:
            return
        try:
            from azure.identity import DefaultAzureCredential

            token = DefaultAzureCredential(exclude_interactive_browser_credential=True).get_token(self._scope)
        except Exception as exc:  # CredentialUnavailableError, ClientAuthenticationError: say which, no trace
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CliError(f"could not get a token for {self._scope}: {first}") from None
        self.headers["Authorization"] = f"Bearer {token.token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self._authorize()
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}/api/{path}", data=data, method=method)
        for name, value in self.headers.items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as error:
            raise _api_error(error) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach {self.base}: {reason}") from None
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise CliError(f"{method} {path}: the answer is not JSON: {text[:200]}") from None


def _api_error(error: urllib.error.HTTPError) -> ApiError:
    text = error.read().decode("utf-8", errors="replace")
    try:
        found = json.loads(text).get("error") or {}
        return ApiError(error.code, str(found.get("code") or f"HTTP{error.code}"), str(found.get("message") or ""))
    except (ValueError, AttributeError):
        first = text.strip().splitlines()[0][:200] if text.strip() else (error.reason or "")
        return ApiError(error.code, f"HTTP{error.code}", str(first))


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


# ---- rendering


def format_entry(entry: dict[str, Any]) -> str:
    """One timeline line, as `simulate` prints it: virtual or real time, phase, detail."""
    return f"{entry['at']}  {entry.get('phase') or '-':<9} {entry['detail']}"


def render_table(runs: list[dict[str, Any]]) -> str:
    columns = [
        ("RUN", "id"),
        ("ENVIRONMENT", "environment"),
        ("KIND", "kind"),
        ("STATUS", "runtimeStatus"),
        ("PHASE", "phase"),
        ("OUTCOME", "outcome"),
        ("STARTED BY", "startedBy"),
        ("CREATED", "createdTime"),
    ]
    rows = [[str(run.get(key) or "-") for _, key in columns] for run in runs]
    widths = [max([len(title), *(len(row[i]) for row in rows)]) for i, (title, _) in enumerate(columns)]
    lines = ["  ".join(title.ljust(widths[i]) for i, (title, _) in enumerate(columns)).rstrip()]
    lines += ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) if rows else lines[0] + "\n(no runs)"


def render_detail(run: dict[str, Any]) -> str:
    accepts = [name for name, yes in (run.get("accepts") or {}).items() if yes]
    resources = run.get("resources") or {}
    status = f"status     {run.get('runtimeStatus')}, phase {run.get('phase') or '-'}"
    lines = [
        f"run        {run.get('id')} ({run.get('kind') or 'upgrade'} of {run.get('environment')})",
        status + (f", outcome {run['outcome']}" if run.get("outcome") else ""),
    ]
    if run.get("reason"):
        lines.append(f"reason     {run['reason']}")
    if run.get("message"):
        lines.append(f"message    {run['message']}")
    request = run.get("request") or {}
    lines.append(
        f"started    by {run.get('startedBy') or '-'} at {run.get('createdTime') or '-'}"
        + (f", target {request['target_version']}" if request.get("target_version") else "")
        + (f", {request['strategy']}" if request.get("strategy") else "")
    )
    if run.get("approvedBy"):
        lines.append(f"approved   by {run['approvedBy']}")
    lines.append(f"accepts    {', '.join(accepts) if accepts else 'nothing now'}")
    if run.get("deadline"):
        lines.append(f"deadline   {run['deadline']}")
    if run.get("waitingFor"):
        lines.append(f"waiting    for {run['waitingFor']}")
    for role in ("blue", "green", "frontDoor"):
        if resources.get(role):
            lines.append(f"{role:<10} {resources[role]}")
    for item in run.get("leftBehind") or []:
        lines.append(f"left       {item.get('cluster') or item.get('name')}: {item.get('state')} ({item.get('why')})")
    lines += ["", "timeline:"]
    lines += [f"  {format_entry(entry)}" for entry in run.get("timeline") or []]
    return "\n".join(lines)


def _outcome_line(run: dict[str, Any]) -> str:
    outcome = run.get("outcome") or str(run.get("runtimeStatus") or "ended").lower()
    return f"outcome: {outcome}" + (f" ({run['reason']})" if run.get("reason") else "")


def exit_status(run: dict[str, Any]) -> int:
    if run.get("outcome") in EXIT_BY_OUTCOME:
        return EXIT_BY_OUTCOME[str(run["outcome"])]
    return EXIT_BY_RUNTIME.get(str(run.get("runtimeStatus")), 5)


# ---- the actions


def _resolve(api: Api, args: argparse.Namespace, active_only: bool = False) -> str:
    """RUN_ID, else the environment's newest run (in progress, for a decision)."""
    if args.run_id:
        return str(args.run_id)
    if not args.environment:
        raise CliError("give RUN_ID, or --environment NAME for its newest run")
    query = urllib.parse.urlencode({"environment": args.environment, "limit": 50})
    runs = (api.call("GET", f"upgrades?{query}") or {}).get("runs") or []
    chosen = [r for r in runs if r.get("runtimeStatus") in ACTIVE] if active_only else runs
    if not chosen:
        raise CliError(f"--environment {args.environment}: no run {'in progress' if active_only else 'yet'}")
    return str(chosen[0]["id"])


def _list(api: Api, args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CliError("--limit must be at least 1")
    query = {"limit": args.limit, **({"environment": args.environment} if args.environment else {})}
    body = api.call("GET", f"upgrades?{urllib.parse.urlencode(query)}") or {}
    print(json.dumps(body, indent=2) if args.json else render_table(body.get("runs") or []))
    return 0


def _show(api: Api, args: argparse.Namespace) -> int:
    run = api.call("GET", f"upgrades/{_quote(_resolve(api, args))}")
    print(json.dumps(run, indent=2) if args.json else render_detail(run))
    return 0


def watch(api: Api, run_id: str, interval: float, out: Callable[[str], None] = print) -> int:
    """Print the run's new timeline entries every `interval` seconds until it ends; the exit status by outcome."""
    printed, hinted, unreachable_since = 0, False, None
    while True:
        try:
            run = api.call("GET", f"upgrades/{_quote(run_id)}")
            unreachable_since = None
        except Unreachable:
            unreachable_since = unreachable_since or time.monotonic()
            if time.monotonic() - unreachable_since > UNREACHABLE_GRACE_SECONDS:
                raise
            time.sleep(interval)
            continue
        timeline = run.get("timeline") or []
        for entry in timeline[printed:]:
            out(format_entry(entry))
        printed = max(printed, len(timeline))
        if run.get("runtimeStatus") not in ACTIVE:
            out(_outcome_line(run))
            return exit_status(run)
        if (run.get("accepts") or {}).get("approval") and not hinted:
            hinted = True
            print(
                f"(awaiting approval until {run.get('deadline') or '?'}: python -m bluegreen runs approve "
                f"--app {api.base} {run_id})",
                file=sys.stderr,
                flush=True,
            )
        time.sleep(interval)


def _watch(api: Api, args: argparse.Namespace) -> int:
    if args.interval <= 0:
        raise CliError("--interval must be more than 0")
    return watch(api, _resolve(api, args), args.interval, lambda line: print(line, flush=True))


def _start(api: Api, args: argparse.Namespace) -> int:
    if not args.environment:
        raise CliError("--environment: name the environment to upgrade")
    body: dict[str, Any] = {"environment": args.environment}
    if args.target_version:
        body["targetVersion"] = normalize_version(args.target_version, "--target-version")
    if args.strategy:
        body["strategy"] = args.strategy
    if args.reason:
        body["reason"] = args.reason
    started = api.call("POST", "upgrades", body) or {}
    run_id = str(started.get("runId"))
    print(f"started {run_id} ({args.environment}); status: {started.get('statusUrl')}", flush=True)
    if not args.watch:
        return 0
    if args.interval <= 0:
        raise CliError("--interval must be more than 0")
    return watch(api, run_id, args.interval, lambda line: print(line, flush=True))


def _decide(verb: str) -> Callable[[Api, argparse.Namespace], int]:
    def act(api: Api, args: argparse.Namespace) -> int:
        run_id = _resolve(api, args, active_only=True)
        body: dict[str, Any] = {}
        if verb in ("approve", "reject") and args.comment:
            body["comment"] = args.comment
        if verb in ("abort", "rollback") and args.reason:
            body["reason"] = args.reason
        answer = api.call("POST", f"upgrades/{_quote(run_id)}/{verb}", body) or {}
        by = answer.get("by")
        print(
            f"{run_id}: {answer.get('event') or verb} {answer.get('result') or 'sent'}" + (f" (by {by})" if by else "")
        )
        return 0

    return act


def normalize_version(value: str, flag: str) -> str:
    """`v1.33` is `1.33`; anything but latest, MAJOR.MINOR or MAJOR.MINOR.PATCH is refused (CliError)."""
    text = value.strip()
    text = text[1:] if text[:1] in ("v", "V") and text[1:2].isdigit() else text
    parts = text.split(".")
    if text != "latest" and not (2 <= len(parts) <= 3 and all(p.isascii() and p.isdigit() for p in parts)):
        raise CliError(f"{flag} {value}: must be latest, MAJOR.MINOR or MAJOR.MINOR.PATCH (e.g. 1.33 or v1.33.2)")
    return text


ACTIONS: dict[str, Callable[[Api, argparse.Namespace], int]] = {
    "list": _list,
    "show": _show,
    "watch": _watch,
    "start": _start,
    **{verb: _decide(verb) for verb in ("approve", "reject", "abort", "rollback")},
}


def run(args: argparse.Namespace) -> int:
    try:
        return ACTIONS[args.action](Api(args), args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
