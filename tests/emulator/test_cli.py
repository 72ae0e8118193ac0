"""`python -m bluegreen emulator` as a user runs it: one JSON line, real SDK call, clean exit on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from azure.mgmt.containerservice import ContainerServiceClient

from tests.emulator.conftest import FIXTURES, RG, SUB, StaticToken

ROOT = Path(__file__).resolve().parents[2]


def test_cli_serves_seeded_cluster_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "bluegreen",
        "emulator",
        "--port",
        "0",
        "--seed",
        str(FIXTURES / "managed-cluster-blue.json"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert set(line) == {"arm_endpoint", "metrics_endpoint", "ca_bundle"}
        client = ContainerServiceClient(
            StaticToken(), SUB, base_url=line["arm_endpoint"], connection_verify=line["ca_bundle"]
        )
        assert client.managed_clusters.get(RG, "aks-nod-prod-blue").current_kubernetes_version == "1.31.8"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_cli_rejects_a_bad_seed_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Web/sites/z"}')
    result = subprocess.run(
        [sys.executable, "-m", "bluegreen", "emulator", "--seed", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "bad.json" in result.stderr and "unsupported resource id" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
