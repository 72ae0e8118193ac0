"""`python -m bluegreen runs ...` against the local host and the emulated Azure: the operator's terminal.

The commands run in this process (bluegreen.cli.main), over real HTTP to a Stack (tests/triggers/conftest.py).
A decision is taken from the host's idle hook, as an operator in another terminal would while the run waits.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bluegreen import runs_command
from bluegreen.cli import main
from tests.triggers.conftest import ALICE, BOB, Stack


@pytest.fixture
def stack(tmp_path, monkeypatch):
    for name in (runs_command.KEY_SETTING, runs_command.CLIENT_ID_SETTING, runs_command.APP_SETTING):
        monkeypatch.delenv(name, raising=False)
    made = Stack(tmp_path, approval="manual", four_eyes=True)
    yield made
    made.close()


def cli(*argv: str) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse's refusals
        return int(exc.code or 0)


def decide_at_approval(stack: Stack, run_id: str, *argv: str) -> dict:
    """At the approval, once: the initiator tries (four-eyes refuses), then `runs <argv>` as the second person."""

    def act(instance_id: str) -> dict:
        base = stack.host.base_url
        own = cli("runs", "approve", "--app", base, instance_id, "--as", ALICE)
        return {"own": own, "second": cli("runs", *argv[:1], "--app", base, instance_id, *argv[1:])}

    return stack.at_phase("approval", act, lambda: run_id)


def test_watch_prints_the_timeline_and_exits_0_once_a_second_person_approved(stack, capsys):
    base = stack.host.base_url
    assert cli("runs", "start", "--app", base, "--environment", stack.env, "--as", ALICE, "--reason", "cli") == 0
    started = capsys.readouterr().out
    run_id = f"{stack.env}-1"
    assert started.startswith(f"started {run_id} ({stack.env}); status: {base}/api/upgrades/{run_id}")
    decided = decide_at_approval(stack, run_id, "approve", "--as", BOB, "--comment", "looks good")

    assert cli("runs", "watch", "--app", base, "--environment", stack.env, "--interval", "0.05") == 0
    captured = capsys.readouterr()
    assert decided["result"] == {"own": 2, "second": 0}
    assert f"error: FourEyes: {ALICE} started this run" in captured.err
    assert f"{run_id}: Approval taken (by {BOB})" in captured.out
    lines = captured.out.splitlines()
    timeline = stack.finish(run_id)["output"]["timeline"]
    printed = [runs_command.format_entry(entry) for entry in timeline]
    assert [line for line in lines if line in printed] == printed  # every entry, once, in order
    assert printed[0].startswith("2026-11-20T06:00:00Z  clone     ")  # the format simulate prints
    assert lines[-1] == "outcome: completed"
    assert "Traceback" not in captured.err

    assert cli("runs", "show", "--app", base, run_id, "--json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["outcome"] == "completed" and shown["approvedBy"] == BOB and shown["startedBy"] == ALICE

    assert cli("runs", "show", "--app", base, run_id) == 0
    text = capsys.readouterr().out
    assert f"run        {run_id} (upgrade of {stack.env})" in text and f"approved   by {BOB}" in text

    assert cli("runs", "list", "--app", base, "--environment", stack.env) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["RUN", "ENVIRONMENT", "KIND", "STATUS", "PHASE", "OUTCOME", "STARTED", "BY", "CREATED"]
    assert table[1].split()[:6] == [run_id, stack.env, "upgrade", "Completed", "retire", "completed"]
    assert cli("runs", "list", "--app", base, "--json") == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [run_id]

    # A decision that can no longer apply: the API's 409, printed as `error: CODE: message`.
    assert cli("runs", "approve", "--app", base, run_id, "--as", BOB) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: NotAwaitingApproval: run {run_id} is not waiting for approval")
    assert "Traceback" not in err


def test_a_rejected_run_exits_4_and_api_errors_are_named(stack, capsys):
    base = stack.host.base_url
    run_id = stack.start()
    decide_at_approval(stack, run_id, "reject", "--as", BOB, "--comment", "not today")
    assert cli("runs", "watch", "--app", base, run_id, "--interval", "0.05") == 4
    out = capsys.readouterr().out
    assert f"{run_id}: Approval taken (by {BOB})" in out and "outcome: rejected" in out

    refusals = [
        (("runs", "start", "--app", base, "--environment", "nope", "--as", ALICE), "error: UnknownEnvironment: "),
        (("runs", "start", "--app", base, "--environment", stack.env), "error: Unauthenticated: "),
        (("runs", "show", "--app", base, "--environment", "nope"), "error: UnknownEnvironment: "),
        (
            ("runs", "abort", "--app", base, "--environment", stack.env, "--as", BOB),
            f"error: --environment {stack.env}: no run in progress",
        ),
        (("runs", "rollback", "--app", base, run_id, "--as", BOB, "--reason", "x"), "error: NothingToRollBack: "),
    ]
    for argv, expected in refusals:
        assert cli(*argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(expected) and "Traceback" not in err, (argv, err)


def test_exit_status_by_outcome():
    assert [runs_command.exit_status({"outcome": o}) for o in runs_command.EXIT_BY_OUTCOME] == [0, 3, 4, 4, 5]
    assert runs_command.exit_status({"outcome": None, "runtimeStatus": "Terminated"}) == 4
    assert runs_command.exit_status({"outcome": None, "runtimeStatus": "Failed"}) == 5


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    answer: tuple[int, bytes] = (200, b'{"runs": []}')

    def do_GET(self) -> None:
        _Recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
        status, body = _Recorder.answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder(monkeypatch):
    for name in (runs_command.KEY_SETTING, runs_command.CLIENT_ID_SETTING, runs_command.APP_SETTING):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.seen, _Recorder.answer = [], (200, b'{"runs": []}')
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_key_the_principal_header_and_an_entra_token_are_sent(recorder, monkeypatch, capsys):
    scopes = []

    class FakeCredential:
        def __init__(self, **kwargs):
            pass

        def get_token(self, scope):
            scopes.append(scope)
            return type("Token", (), {"token": "tok-123"})()

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", FakeCredential)
    monkeypatch.setenv(runs_command.KEY_SETTING, "key-from-env")
    assert cli("runs", "list", "--app", recorder + "/api/", "--as", "carol@example.com") == 0
    assert cli("runs", "list", "--app", recorder, "--key", "k1", "--client-id", "1111-2222") == 0
    first, second = _Recorder.seen
    assert first["x-functions-key"] == "key-from-env" and first["x-ms-client-principal-name"] == "carol@example.com"
    assert "authorization" not in first  # the local host: no token unless asked for
    assert second["x-functions-key"] == "k1" and second["authorization"] == "Bearer tok-123"
    assert scopes == ["api://1111-2222/.default"]
    assert "(no runs)" in capsys.readouterr().out


def test_a_failed_sign_in_and_a_non_json_error_are_one_line(recorder, monkeypatch, capsys):
    class NoCredential:
        def __init__(self, **kwargs):
            pass

        def get_token(self, scope):
            raise RuntimeError("DefaultAzureCredential failed to retrieve a token\nmore detail")

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", NoCredential)
    assert cli("runs", "list", "--app", recorder, "--scope", "api://x/.default") == 2
    assert capsys.readouterr().err == (
        "error: could not get a token for api://x/.default: DefaultAzureCredential failed to retrieve a token\n"
    )
    _Recorder.answer = (502, b"<html>Bad Gateway</html>")
    assert cli("runs", "list", "--app", recorder) == 2
    assert capsys.readouterr().err == "error: HTTP502: <html>Bad Gateway</html>\n"
