"""`python -m bluegreen serve` as a subprocess: start over HTTP, watch, raise an event, SIGTERM."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.host.conftest import call

ROOT = Path(__file__).resolve().parents[2]


def _poll(url, done, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = call("GET", url)[2]
        if done(status):
            return status
    raise AssertionError(f"gave up polling {url}: {status}")


@pytest.fixture
def served(tmp_path):
    log = (tmp_path / "host.log").open("w")
    command = [
        sys.executable,
        "-m",
        "bluegreen",
        "serve",
        "--app",
        "tests/apps/web_app.py",
        "--port",
        "0",
        "--azure",
        "real",
        "--state",
        str(tmp_path / "state.db"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True)
    lines = []
    while not any(line.startswith("  durable management API") for line in lines):
        line = process.stdout.readline()
        assert line, f"serve exited early: {lines}"
        lines.append(line.rstrip("\n"))
    yield process, lines
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
    log.close()


def test_serve_runs_an_app_driven_over_http_and_stops_on_sigterm(served):
    process, lines = served
    base = next(line.split(": ", 1)[1] for line in lines if line.startswith("Functions host: "))
    assert f"  http_start: [POST] {base}/api/orchestrators/{{name}}/{{instance_id?}}" in lines
    assert f"  on_aks_event: [POST] {base}/runtime/webhooks/eventgrid?functionName=on_aks_event" in lines

    status, _, links = call("POST", f"{base}/api/orchestrators/approval_flow/cli-run", {"cluster": "aks-1"})
    assert status == 202
    _poll(links["statusQueryGetUri"], lambda s: (s.get("customStatus") or {}).get("stage") == "approval")
    assert call("POST", links["sendEventPostUri"].replace("{eventName}", "Approval"), {"by": "ops"})[0] == 202
    final = _poll(links["statusQueryGetUri"], lambda s: s["runtimeStatus"] in ("Completed", "Failed"))
    assert final["output"] == {
        "prepared": "prepared aks-1",
        "health": "aks-1 healthy after 2 checks",
        "decision": {"by": "ops"},
    }

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_serve_with_a_missing_app_is_one_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen", "serve", "--app", "no/such/app.py", "--azure", "real"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: function app file not found: {Path('no/such/app.py')}"]
