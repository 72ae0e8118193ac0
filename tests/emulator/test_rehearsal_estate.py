"""The rehearsal's estate: blue runs its application from Flux; green, when created, runs nothing of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import requests
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.kubernetesconfiguration import SourceControlConfigurationClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.rehearsal.world import DEFAULT_BLUE, build_estate, load_blue
from tests.emulator.conftest import RG, StaticToken, client_kwargs

MC = ("Microsoft.ContainerService", "managedClusters")


def probe(emu: AzureEmulator, host: str) -> int:
    return requests.get(f"{emu.arm_endpoint}/_probe/{host}/healthz", verify=emu.ca_bundle, timeout=5).status_code


def start(path: str | None, clock: VirtualClock) -> tuple[AzureEmulator, object]:
    estate = build_estate(load_blue(path), "standard")
    emu = AzureEmulator(clock=clock, seed=estate.resources).start()
    emu.bind_host(estate.hosts["blue"], estate.blue_name)
    emu.bind_host(estate.hosts["green"], estate.green_name)
    return emu, estate


@pytest.mark.parametrize("user_file", [False, True], ids=["bundled-blue", "user-blue-cluster"])
def test_blue_runs_its_application_from_a_compliant_flux_configuration(
    clock: VirtualClock, tmp_path: Path, user_file: bool
) -> None:
    path = None
    if user_file:  # what `az aks show -o json` prints for someone else's cluster (flattened)
        arm = json.loads(DEFAULT_BLUE.read_text())
        arm["id"] = arm["id"].replace("rg-nod-prod", "rg-shop").replace("aks-nod-prod-blue", "aks-shop-blue")
        arm["name"] = "aks-shop-blue"
        flattened = {k: v for k, v in arm.items() if k != "properties"} | copy.deepcopy(arm["properties"])
        flattened["nodeResourceGroup"] = "MC_rg-shop_aks-shop-blue_eastus2"
        file = tmp_path / "blue.json"
        file.write_text(json.dumps(flattened))
        path = str(file)
    emu, estate = start(path, clock)
    try:
        assert estate.flux_extension == "flux" and estate.flux_configuration == "cluster-config"
        assert estate.repository_url == f"https://github.com/contoso/{estate.environment}-gitops"
        assert estate.kustomizations == {"infra": "./infrastructure/ingress-nginx", "apps": "./apps/web"}
        kwargs = client_kwargs(emu, clock)
        kc = SourceControlConfigurationClient(StaticToken(), estate.subscription, base_url=emu.arm_endpoint, **kwargs)
        aks = ContainerServiceClient(StaticToken(), estate.subscription, base_url=emu.arm_endpoint, **kwargs)
        rg, blue = estate.resource_group, estate.blue_name
        assert kc.extensions.get(rg, *MC, blue, estate.flux_extension).provisioning_state == "Succeeded"
        config = kc.flux_configurations.get(rg, *MC, blue, estate.flux_configuration)
        assert (config.compliance_state, config.git_repository.url) == ("Compliant", estate.repository_url)
        objects = emu.kubernetes_objects(blue)
        workloads = {
            (o["metadata"]["namespace"], o["kind"], o["metadata"]["name"]): o["status"].get("availableReplicas")
            for o in objects
            if o["kind"] in ("Deployment", "StatefulSet") and o["metadata"]["namespace"] in estate.app_namespaces
        }
        assert workloads == {
            ("web", "Deployment", "frontend"): 3,
            ("web", "Deployment", "api"): 2,
            ("web", "StatefulSet", "cache"): 1,
            ("ingress-nginx", "Deployment", "ingress-nginx-controller"): 2,
        }
        ingress = next(o for o in objects if o["kind"] == "Service" and o["spec"]["type"] == "LoadBalancer")
        assert ingress["metadata"]["namespace"] == estate.ingress_namespace
        frontend = next(o for o in objects if o["metadata"]["name"] == "frontend" and o["kind"] == "Deployment")
        env = frontend["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env == [{"name": "ENVIRONMENT", "value": estate.environment}]  # substituted by postBuild
        assert (probe(emu, estate.hosts["blue"]), probe(emu, estate.hosts["green"])) == (200, 503)
        # Green as a run creates it: running, and empty of the application.
        blue_body = next(r for r in emu.resources() if r["name"] == blue)
        body = {"location": blue_body["location"], "properties": {"dnsPrefix": estate.green_name}}
        body["properties"]["agentPoolProfiles"] = [
            {k: p[k] for k in ("name", "count", "vmSize", "mode")} for p in blue_body["properties"]["agentPoolProfiles"]
        ]
        aks.managed_clusters.begin_create_or_update(rg, estate.green_name, body).result()
        green_objects = emu.kubernetes_objects(estate.green_name)
        assert not {o["metadata"].get("namespace") for o in green_objects} & set(estate.app_namespaces)
        assert probe(emu, estate.hosts["green"]) == 503
        assert list(kc.flux_configurations.list(rg, *MC, estate.green_name)) == []
        assert RG == "rg-nod-prod"  # the shared constants stay those of the bundled estate
    finally:
        emu.stop()
