"""The README's walk-through, as printed by `python -m bluegreen serve`: seeded from an environments file, a run
started with the printed curl command, watched and approved with the printed CLI commands, on a virtual clock;
then a restart on the same --state resumes against the same emulated Azure. And the file's validation
(`serve` at start, `check-config` standalone)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bluegreen.cli import main
from tests.host.conftest import call

ROOT = Path(__file__).resolve().parents[2]
SUB = "0b6e9d1c-2f4a-4e8b-9c3d-5a7f1e2d4c6b"
ENVIRONMENTS = f"""
[[environment]]
name = "shop-prod"
strategy = "create-at-target"  # one create, no hops: a short run

[environment.clusters]
subscription = "{SUB}"
resource_group = "rg-shop"
names = ["aks-shop-blue", "aks-shop-green"]

[environment.front_door]
id = "/subscriptions/{SUB}/resourceGroups/rg-shop/providers/Microsoft.Cdn/profiles/afd-shop"
origin_group = "og-shop"
origins = ["shop-blue", "shop-green"]

[environment.approval]
mode = "manual"
four_eyes = true

[environment.bake]
window_minutes = 5
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BLUEGREEN_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _serve(tmp_path: Path, config: Path, log_name: str) -> tuple[subprocess.Popen[str], list[str]]:
    command = [sys.executable, "-m", "bluegreen", "serve", "--port", "0", "--clock", "virtual"]
    command += ["--config", str(config), "--state", str(tmp_path / "state.db")]
    log = (tmp_path / log_name).open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=log, text=True)
    lines: list[str] = []
    while not (lines and lines[-1].startswith("  python -m bluegreen runs list")):
        line = process.stdout.readline()
        assert line, f"serve exited early: {lines}\n{(tmp_path / log_name).read_text()[-3000:]}"
        lines.append(line.rstrip("\n"))
    return process, lines


def _printed(lines: list[str], start: str) -> list[str]:
    """A printed command's words (a curl command continues on the next line after `\\`)."""
    at = next(i for i, line in enumerate(lines) if line.startswith(f"  {start}"))
    text = lines[at]
    while text.endswith("\\"):
        at += 1
        text = text[:-1] + lines[at]
    words = shlex.split(text)
    return [sys.executable, *words[1:]] if words[0] == "python" else words


def _curl(words: list[str]) -> tuple[int, dict]:
    """Replay a printed `curl -s -X METHOD URL -H ... -d BODY` with urllib (no curl needed)."""
    method, url, headers, data = "GET", "", {}, None
    items = iter(words[1:])
    for word in items:
        if word == "-X":
            method = next(items)
        elif word == "-H":
            name, _, value = next(items).partition(": ")
            headers[name] = value
        elif word == "-d":
            data = next(items).encode()
        elif not word.startswith("-"):
            url = word
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def _poll(url: str, done, seconds: float = 60.0) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = call("GET", url)[2]
        if done(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"gave up polling {url}: {status}")


def _stop(process: subprocess.Popen[str], sig: int) -> int:
    process.send_signal(sig)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_the_printed_walkthrough_runs_an_upgrade_and_a_restart_resumes_the_same_world(tmp_path):
    config = tmp_path / "environments.toml"
    config.write_text(ENVIRONMENTS)
    process, lines = _serve(tmp_path, config, "serve-1.log")
    try:
        base = next(line.split(": ", 1)[1] for line in lines if line.startswith("Functions host: "))
        assert f"Environments ({config}):" in lines
        assert any(line.startswith("  shop-prod: clusters aks-shop-blue, aks-shop-green in rg-shop") for line in lines)
        assert "    emulated: aks-shop-blue live behind origin shop-blue (shop-blue.shop-prod.example); " in "\n".join(
            lines
        )

        status, started = _curl(_printed(lines, "curl"))
        assert status == 202 and started["runId"] == "shop-prod-1"
        watch = _printed(lines, "python -m bluegreen runs watch")
        watching = subprocess.Popen(
            [*watch, "--interval", "0.2"], cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        run_url = f"{base}/api/upgrades/shop-prod-1"
        _poll(run_url, lambda s: (s.get("accepts") or {}).get("approval"))  # virtual time waits for a person
        approve = subprocess.run(
            _printed(lines, "python -m bluegreen runs approve"),
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert approve.returncode == 0, approve.stderr
        assert approve.stdout.strip() == "shop-prod-1: Approval taken (by bob@example.com)"
        out, err = watching.communicate(timeout=90)
        assert watching.returncode == 0, err
        printed = out.decode().splitlines()
        assert "verify    green verified: nodes Ready" in "\n".join(printed)
        assert printed[-1] == "outcome: completed"
    finally:
        code = _stop(process, signal.SIGINT)
    assert code == 130
    saved = json.loads((tmp_path / "state.db.emulator.json").read_text())
    assert any(r.get("name") == "aks-shop-green" for r in saved["resources"])

    process, lines = _serve(tmp_path, config, "serve-2.log")
    try:
        assert any(line.startswith("Emulated Azure: resumed from ") for line in lines)
        base = next(line.split(": ", 1)[1] for line in lines if line.startswith("Functions host: "))
        status, _, environment = call("GET", f"{base}/api/environments/shop-prod")
        assert status == 200, environment
        assert environment["live"]["name"] == "aks-shop-green" and environment["live"]["version"] == "1.34.2"
        assert environment["idle"]["state"] == "retained" and environment["idle"]["name"] == "aks-shop-blue"
        assert [r["id"] for r in environment["runs"]] == ["shop-prod-1"]
    finally:
        assert _stop(process, signal.SIGTERM) == 0


# ---- the environments file, validated


def test_serve_refuses_a_bad_environments_file_naming_the_field(tmp_path, capsys):
    bad = tmp_path / "environments.toml"
    bad.write_text(ENVIRONMENTS.replace('origin_group = "og-shop"', 'kind = "premium"\norigin_group = "og-shop"'))
    assert main(["serve", "--config", str(bad), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err == f"serve: {bad}: environment.0.front_door.kind: Input should be 'standard' or 'classic'\n"


def test_serve_without_an_environments_file_serves_the_bundled_estate(tmp_path, monkeypatch, capsys):
    from local.functions_host.cli import _environments

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BLUEGREEN_CONFIG", raising=False)
    world = _environments(argparse.Namespace(config=None), True, tmp_path)
    assert world.bundled and [e.name for e in world.environments] == ["nod-prod"]
    assert [(e.blue_name, e.green_name) for e in world.estates] == [("aks-nod-prod-blue", "aks-nod-prod-green")]
    assert capsys.readouterr().out.startswith("No environments.toml here: serving the rehearsal's bundled estate")


def test_check_config_passes_a_good_file_and_names_every_problem_of_a_bad_one(tmp_path, capsys, monkeypatch):
    good = tmp_path / "environments.toml"
    good.write_text(ENVIRONMENTS)
    assert main(["check-config", str(good)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{good}: valid, 1 environment"
    assert out[1].startswith("  shop-prod: clusters aks-shop-blue, aks-shop-green in rg-shop; Front Door standard")

    bad = tmp_path / "bad.toml"
    bad.write_text(
        ENVIRONMENTS.replace('name = "shop-prod"', 'name = "Shop Prod"').replace("window_minutes = 5", "window = 5")
    )
    assert main(["check-config", str(bad)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"check-config: {bad}: environment.0.name: lowercase letters, digits and '-', 1-32 characters",
        f"check-config: {bad}: environment.0.bake.window: Extra inputs are not permitted",
    ]
    monkeypatch.setenv("BLUEGREEN_CONFIG", str(good))
    assert main(["check-config"]) == 0  # the file the app would read
    assert capsys.readouterr().out.startswith(f"{good}: valid")
    (tmp_path / "not.toml").write_text("[[environment]\n")
    assert main(["check-config", str(tmp_path / "not.toml")]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_the_checked_in_environments_file_is_valid(capsys):
    assert main(["check-config", str(ROOT / "environments.toml")]) == 0


# ---- what serve keeps beside --state


_VOLATILE = {"createdOn", "updatedOn", "createdAt", "lastModifiedAt", "lastUpdatedTime", "etag", "systemData"}
_VOLATILE |= {"sourceUpdatedAt", "statusUpdatedAt", "lastTransitionTime", "creationTimestamp"}


def _stable(value):
    """A body without what a re-seed writes afresh (timestamps, etags)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_a_snapshot_seeds_the_same_world():
    from local.azure_emulator import AzureEmulator
    from local.rehearsal.world import build_estate, load_blue

    estate = build_estate(load_blue(None), "standard")
    first = AzureEmulator(seed=estate.resources)
    vault = estate.vault_id
    first.seed(
        {
            "id": f"{vault}/secrets/db-password",
            "type": "Microsoft.KeyVault/vaults/secrets",
            "properties": {"value": "s3cret"},
        }
    )
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra", "namespace": "web"}}
    assert first.apply_objects(estate.blue_name, [config_map])["exitCode"] == 0
    second = AzureEmulator(seed=first.snapshot())
    assert _stable(second.resources()) == _stable(first.resources())
    assert _stable(second.kubernetes_objects(estate.blue_name)) == _stable(first.kubernetes_objects(estate.blue_name))
    assert _stable(second.snapshot()) == _stable(first.snapshot())
    assert any(i.get("properties", {}).get("value") == "s3cret" for i in second.snapshot())
