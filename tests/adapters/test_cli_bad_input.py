"""Bad input to every subcommand, as a user types it: exit status 2, a message naming it, never a stack trace.

The commands run as subprocesses, all at once (each is a fresh interpreter; together they take a few seconds).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bluegreen.cli import main

ROOT = Path(__file__).resolve().parents[2]
MISSING = "no/such/file.json"
APP = "http://127.0.0.1:9"  # nothing listens on the discard port: only reached by input that passed validation

# (id, arguments, a fragment stderr must contain): for each subcommand, the kinds of bad input it can get.
CASES = [
    ("simulate-unknown-flag", ["simulate", "--colour", "blue"], "unrecognized arguments: --colour"),
    ("simulate-bad-version", ["simulate", "--target-version", "1.x"], "--target-version 1.x"),
    ("simulate-missing-file", ["simulate", "--blue-cluster", MISSING], "--blue-cluster"),
    ("simulate-bad-enum", ["simulate", "--scenario", "sunny"], "invalid choice: 'sunny'"),
    ("serve-unknown-flag", ["serve", "--colour", "blue"], "unrecognized arguments: --colour"),
    ("serve-missing-file", ["serve", "--config", MISSING, "--port", "0"], MISSING),
    ("serve-bad-enum", ["serve", "--clock", "sundial"], "invalid choice: 'sundial'"),
    ("emulator-unknown-flag", ["emulator", "--colour", "blue"], "unrecognized arguments: --colour"),
    ("emulator-missing-file", ["emulator", "--seed", MISSING], MISSING),
    ("emulator-bad-enum", ["emulator", "--clock", "sundial"], "invalid choice: 'sundial'"),
    ("plan-unknown-flag", ["plan", "--environment", "nod-prod", "--colour"], "unrecognized arguments: --colour"),
    (
        "plan-bad-version",
        ["plan", "--environment", "nod-prod", "--azure", "emulated", "--target-version", "1.x"],
        "1.x",
    ),
    ("plan-missing-file", ["plan", "--environment", "nod-prod", "--config", MISSING], MISSING),
    ("plan-bad-enum", ["plan", "--environment", "nod-prod", "--azure", "mars"], "invalid choice: 'mars'"),
    ("runs-unknown-flag", ["runs", "list", "--app", APP, "--colour"], "unrecognized arguments: --colour"),
    (
        "runs-bad-version",
        ["runs", "start", "--app", APP, "--environment", "e", "--target-version", "one"],
        "--target-version one",
    ),
    ("runs-bad-action", ["runs", "restart", "--app", APP], "invalid choice: 'restart'"),
    ("runs-bad-enum", ["runs", "start", "--app", APP, "--strategy", "yolo"], "invalid choice: 'yolo'"),
    ("check-config-unknown-flag", ["check-config", "--colour"], "unrecognized arguments: --colour"),
    ("check-config-missing-file", ["check-config", MISSING], MISSING),
    ("no-command", [], "required"),
    ("unknown-command", ["deploy"], "invalid choice: 'deploy'"),
]

# Refused before anything starts, so cheap to run in this process: main() returns 2 and raises nothing.
IN_PROCESS = [
    (["simulate", "--fail-on-outcome", "done"], "--fail-on-outcome done"),
    (["simulate", "--scenario", "upgrade-fails", "--strategy", "create-at-target"], "no upgrade"),
    (["simulate", "--scenario", "reject", "--alert", "tests/fixtures/alerts/x.json"], "ends before the bake"),
    (["simulate", "--fault", "rollback:500x3", "--scenario", "happy"], "only --scenario error-spike rolls back"),
    (["simulate", "--fault", "bake:500x3", "--scenario", "verify-fails"], "ends in verify, before bake"),
    (["simulate", "--event", "e.json", "--target-version", "1.33"], "policy target"),
    (["simulate", "--config", MISSING, "--environment", "x"], MISSING),
    (["simulate", "--environment", "nod-prod"], "give --blue-cluster FILE"),
    (["simulate", "--environment", "nope", "--blue-cluster", "b.json"], "no environment named 'nope'"),
    (
        ["simulate", "--environment", "nod-prod", "--blue-cluster", "b.json", "--front-door", "classic"],
        "--front-door",
    ),
    (["runs", "list"], "--app"),
    (["runs", "list", "--app", "ftp://example"], "not an http(s) URL"),
    (["runs", "list", "--app", APP, "--limit", "0"], "--limit"),
    (["runs", "show", "--app", APP], "give RUN_ID"),
    (["runs", "show", "--app", APP, "x-1"], "cannot reach"),
    (["runs", "watch", "--app", APP, "x-1", "--interval", "0"], "--interval"),
    (["runs", "list", "--app", "https://app.example"], "--client-id"),
    (["runs", "rollback", "--app", APP, "x-1"], "--reason"),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, subprocess.CompletedProcess[str]]:
    # A shell without the app's settings, in a folder of its own (serve must not find an environments file there).
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
    env["PYTHONPATH"] = str(ROOT)
    cwd = tmp_path_factory.mktemp("bad-input")
    (cwd / "function_app.py").symlink_to(ROOT / "function_app.py")

    def run(case: tuple[str, list[str], str]) -> tuple[str, subprocess.CompletedProcess[str]]:
        command = [sys.executable, "-m", "bluegreen", *case[1]]
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
        return case[0], done

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize(("case", "fragment"), [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_exit_2_named_and_without_a_stack_trace(results, case, fragment):
    done = results[case]
    assert done.returncode == 2, (done.returncode, done.stdout[-1000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    assert fragment in done.stderr, done.stderr


@pytest.mark.parametrize(("argv", "fragment"), IN_PROCESS, ids=[" ".join(a[:3]) for a, _ in IN_PROCESS])
def test_refused_before_anything_starts(argv, fragment, capsys, monkeypatch):
    for name in [k for k in os.environ if k.startswith("BLUEGREEN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(ROOT)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    assert fragment in capsys.readouterr().err
