"""`python -m bluegreen plan` as a user runs it: the bundled estate offline, bad input named, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bluegreen", "plan", *args]
    # A shell without the app's settings (BLUEGREEN_ARM_ENDPOINT would point `--azure emulated` at a running one).
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_bundled_estate_plans_offline_as_text_and_as_json():
    text = plan("--environment", "nod-prod", "--azure", "emulated")
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert out.startswith("Plan for nod-prod (clone-then-upgrade): ready to run")
    assert "live     aks-nod-prod-blue at 1.31.8, behind origin blue" in out
    assert "green    aks-nod-prod-green, created at 1.31.11, then 1.32.9 -> 1.33.6 -> 1.34.2" in out
    assert "role assignment       AcrPull on " in out and "for green's kubelet" in out
    assert "federated credential  id-nod-prod-api/" in out
    for section in ("Green's definition, against blue's:", "What green inherits:", "Checks:", "ARM writes"):
        assert section in out
    as_json = plan("--environment", "nod-prod", "--azure", "emulated", "--json", "--target-version", "1.33")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["ok"] and report["target_version"] == "1.33.6" and report["upgrade_path"] == ["1.32.9", "1.33.6"]


def test_bad_input_is_named_with_exit_status_2_and_no_stack_trace():
    unknown = plan("--environment", "nope", "--azure", "emulated")
    assert unknown.returncode == 2 and "--environment: no environment named 'nope'" in unknown.stderr
    version = plan("--environment", "nod-prod", "--azure", "emulated", "--target-version", "1.28")
    assert (
        version.returncode == 2 and "VersionNotOffered" in version.stderr and "1.34 (1.34.1, 1.34.2)" in version.stderr
    )
    seed = plan("--environment", "nod-prod", "--azure", "real", "--seed", "x.json")
    assert seed.returncode == 2 and "--seed: only with --azure emulated" in seed.stderr
    for run in (unknown, version, seed):
        assert "Traceback" not in run.stderr
