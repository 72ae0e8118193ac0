"""`python -m bluegreen simulate` as a user runs it: one JSON object, a user's blue cluster, the state file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bluegreen.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "arm" / "managed-cluster-blue.json"


def simulate(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", "simulate", "--json", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout  # exactly one JSON object on stdout
    return json.loads(lines[0])


def _az_aks_show(body: dict) -> dict:
    """The flattened camelCase shape `az aks show -o json` prints."""
    flat = {k: v for k, v in body.items() if k != "properties"}
    flat.update(body["properties"])
    flat["resourceGroup"] = "rg-shop-prod"
    flat["id"] = body["id"].replace("rg-nod-prod", "rg-shop-prod").replace("aks-nod-prod-blue", "aks-shop-blue")
    flat["name"] = "aks-shop-blue"
    flat["dnsPrefix"] = "aks-shop-blue"
    flat["nodeResourceGroup"] = "MC_rg-shop-prod_aks-shop-blue_eastus2"
    return flat


def test_user_blue_cluster_three_minors_below_gives_three_hops_and_a_faithful_green(tmp_path):
    blue = _az_aks_show(json.loads(FIXTURE.read_text()))
    blue_file, state = tmp_path / "blue.json", tmp_path / "state.json"
    blue_file.write_text(json.dumps(blue))
    report = simulate("--blue-cluster", str(blue_file), "--target-version", "1.34.2", "--state-out", str(state))

    assert report["outcome"] == "completed", report["reason"]
    assert set(report) >= {
        "scenario",
        "outcome",
        "reason",
        "instance_id",
        "live",
        "blue",
        "green",
        "resources",
        "upgrade_path",
        "timeline",
        "arm",
        "rollback",
        "history_events",
        "history_events_max_instance",
        "virtual_seconds",
        "wall_seconds",
    }
    assert report["upgrade_path"] == ["1.32.9", "1.33.6", "1.34.2"]
    assert report["live"] == {"cluster": "aks-shop-green", "version": "1.34.2"}
    by_operation = report["arm"]["by_operation"]
    # The create, one per hop, and the tags that mark blue as retained before it is stopped.
    assert by_operation["Microsoft.ContainerService/managedClusters/write"] == 1 + 3 + 1
    pools = len(blue["agentPoolProfiles"])
    assert by_operation["Microsoft.ContainerService/managedClusters/agentPools/write"] == 3 * pools
    assert {e["phase"] for e in report["timeline"]} >= {"clone", "upgrade", "verify", "approval", "switch", "bake"}

    resources = json.loads(state.read_text())
    clusters = {r["name"]: r for r in resources if r["type"].lower() == "microsoft.containerservice/managedclusters"}
    green = clusters["aks-shop-green"]["properties"]
    for key in (
        "networkProfile",
        "aadProfile",
        "addonProfiles",
        "autoUpgradeProfile",
        "securityProfile",
        "oidcIssuerProfile",
        "storageProfile",
        "workloadAutoScalerProfile",
        "autoScalerProfile",
    ):
        expected = blue[key]
        got = green[key]
        if key == "networkProfile":  # effective outbound IPs are read-only and belong to each cluster
            expected = {
                **expected,
                "loadBalancerProfile": {
                    k: v for k, v in expected["loadBalancerProfile"].items() if k != "effectiveOutboundIPs"
                },
            }
            got = {
                **got,
                "loadBalancerProfile": {
                    k: v for k, v in got["loadBalancerProfile"].items() if k != "effectiveOutboundIPs"
                },
            }
        if key == "oidcIssuerProfile":
            expected, got = expected["enabled"], got["enabled"]  # the issuer URL is new per cluster
        if key == "addonProfiles":  # the same add-ons, each with the identity AKS made for green
            expected = {name: {k: v for k, v in a.items() if k != "identity"} for name, a in expected.items()}
            got = {name: {k: v for k, v in a.items() if k != "identity"} for name, a in got.items()}
        assert got == expected, key
    assert green["dnsPrefix"] != blue["dnsPrefix"] and green["nodeResourceGroup"] != blue["nodeResourceGroup"]
    assert clusters["aks-shop-green"]["tags"]["app"] == blue["tags"]["app"]


def test_same_options_give_the_same_resource_ids():
    first, second = simulate("--scenario", "reject"), simulate("--scenario", "reject")
    assert first["outcome"] == second["outcome"] == "rejected"
    assert first["resources"] == second["resources"] and first["instance_id"] == second["instance_id"]


def test_bad_blue_cluster_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "blue.json"
    bad.write_text('{"name": "no id"}')
    done = subprocess.run(
        [sys.executable, "-m", "bluegreen", "simulate", "--blue-cluster", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--blue-cluster" in done.stderr and "Traceback" not in done.stderr


def test_a_configured_environment_is_rehearsed_with_its_own_front_door_and_settings(tmp_path, capsys, monkeypatch):
    blue = _az_aks_show(json.loads(FIXTURE.read_text()))
    blue_file, config = tmp_path / "blue.json", tmp_path / "environments.toml"
    blue_file.write_text(json.dumps(blue))
    sub = blue["id"].split("/")[2]
    config.write_text(
        f"""
[[environment]]
name = "shop"
strategy = "create-at-target"

[environment.clusters]
subscription = "{sub}"
resource_group = "rg-shop-prod"
names = ["aks-shop-blue", "aks-shop-green"]

[environment.front_door]
kind = "classic"
id = "/subscriptions/{sub}/resourceGroups/rg-shop-prod/providers/Microsoft.Network/frontDoors/fd-shop"
origin_group = "shop-pool"
origins = ["blue.shop.example", "green.shop.example"]

[environment.approval]
approvers = ["ops@example.com"]
"""
    )
    monkeypatch.chdir(ROOT)  # in this process: a rehearsal's few seconds without a new interpreter's imports
    argv = ["simulate", "--json", "--config", str(config), "--environment", "shop", "--blue-cluster", str(blue_file)]
    settings = dict(os.environ)  # the host puts the app's settings in os.environ, as Azure would
    try:
        code = main([*argv, "--target-version", "v1.33", "--fail-on-outcome", "failed,completed"])
    finally:
        os.environ.clear()
        os.environ.update(settings)
    out, err = capsys.readouterr()
    assert code == 1, err[-2000:]  # completed, which --fail-on-outcome names
    assert "the run ended completed (--fail-on-outcome)" in err
    report = json.loads(out)
    assert report["outcome"] == "completed", report["reason"]
    assert report["live"] == {"cluster": "aks-shop-green", "version": "1.33.6"}
    details = "\n".join(entry["detail"] for entry in report["timeline"])
    assert report["upgrade_path"] == ["1.33.6"] and "(create-at-target)" in details  # the environment's strategy
    assert "origin green.shop.example enabled in shop-pool" in details  # its classic Front Door's backend pool
    assert "approved by rehearsal-approver@example.com" in details  # added to the environment's approvers
    assert report["resources"]["front_door"].endswith("/Microsoft.Network/frontDoors/fd-shop")
