"""Plan, inheritance and pre-checks with the real SDK clients against the emulated Azure.

The bundled estate's blue pulls from an ACR (its kubelet identity holds AcrPull), reads a Key Vault through its
CSI add-on identity, runs a workload-identity pod (a federated credential on blue's issuer), and is wired to
Event Grid, a metric alert, an activity-log alert and a diagnostic setting. The plan must find all of it without
writing; the activities must give green its own and remove it again.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from activities.inherit import unwire_cluster, wire_green
from bluegreen import azure as azure_module
from bluegreen.arm_ids import ResourceId
from bluegreen.azure import AzureClients, AzureSettings
from bluegreen.clusters import Clusters
from bluegreen.config import Environment, parse_environments
from bluegreen.contract import ClusterTarget, ResolveInput, RunRequest, RunTrigger, WireGreen
from bluegreen.errors import PermanentError
from bluegreen.green import define
from bluegreen.inheritance import ClusterIdentities
from bluegreen.planning import green_overrides, plan_report, preview_run, resolve_run_plan
from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from local.rehearsal.world import build_estate, environment_config

BLUE = json.loads((Path(__file__).resolve().parents[2] / "local/rehearsal/fixtures/blue-cluster.json").read_text())
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


class Estate:
    def __init__(self, blue: dict[str, Any], extra_seed: list[dict[str, Any]] | None = None) -> None:
        self.clock = VirtualClock()
        self.estate = build_estate(blue, "standard")
        # An extra item with the id of an estate item replaces it (before anything uses it).
        replaced = {str(r["id"]).lower(): r for r in extra_seed or [] if r.get("id")}
        seed = [replaced.pop(str(r.get("id", "")).lower(), r) for r in self.estate.resources]
        seed += list(replaced.values()) + [r for r in extra_seed or [] if not r.get("id")]
        self.emulator = AzureEmulator(clock=self.clock, seed=seed).start()
        settings = AzureSettings.from_env(self.emulator.app_settings())
        self.clients = AzureClients(settings)
        self.env: Environment = parse_environments(environment_config(self.estate, "clone-then-upgrade")).environment[0]
        self.blue_id = next(
            r["id"] for r in self.estate.resources if r.get("type", "").lower().endswith("managedclusters")
        )
        self.green_id = str(ResourceId.parse(self.blue_id).sibling(self.estate.green_name))

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.emulator.requests() if r["method"] not in ("GET", "HEAD")]

    def resolve(self) -> ResolveInput:
        request = RunRequest(environment=self.env.name, started_by="alice", trigger=RunTrigger(kind="http"))
        return ResolveInput(run_id="nod-prod-1", request=request)

    def create_green(self) -> dict[str, Any]:
        plan = preview_run(self.clients, self.env, self.resolve()).plan
        aks = Clusters(self.clients)
        blue = aks.get(self.blue_id)
        assert blue is not None
        body = define(
            blue,
            name=self.estate.green_name,
            version=plan.clone_version,
            run_id=plan.run_id,
            environment=plan.environment,
            origin="green",
            overrides=green_overrides(self.env),
        ).body
        operation = aks.start_create(self.green_id, body)
        for _ in range(200):
            if aks.operation_status(self.green_id, operation).status != "InProgress":
                break
            self.clock.advance_to(self.emulator.next_event_time() or self.clock.now() + timedelta(seconds=30))
        green = aks.get(self.green_id)
        assert green is not None and green["properties"]["provisioningState"] == "Succeeded"
        self.plan = plan
        return green

    def resources_of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.emulator.resources() if str(r.get("type", "")).lower() == kind.lower()]

    def stop(self) -> None:
        self.emulator.stop()


@pytest.fixture
def estate(monkeypatch):
    made: list[Estate] = []

    def build(blue: dict[str, Any] = BLUE, extra_seed: list[dict[str, Any]] | None = None) -> Estate:
        world = Estate(copy.deepcopy(blue), extra_seed)
        for key, value in world.emulator.app_settings().items():
            monkeypatch.setenv(key, value)  # the activities read their clients from the app settings
        azure_module.reset_clients()
        azure_module.use_sleep(world.clock.sleep)
        made.append(world)
        return world

    yield build
    azure_module.use_sleep(None)
    azure_module.reset_clients()
    for world in made:
        world.stop()


# ---- plan


def test_the_plan_finds_everything_green_inherits_and_writes_nothing(estate):
    world = estate()
    world.emulator.clear_requests()
    report = plan_report(AzureClients(world.clients.settings, read_only=True), world.env)
    assert world.writes() == []
    assert report.ok, [c for c in report.checks if c.status != "ok"]
    assert (report.blue.version, report.clone_version, report.target_version) == ("1.31.8", "1.31.11", "1.34.2")
    assert report.upgrade_path == ["1.32.9", "1.33.6", "1.34.2"]
    grants = {(g.identity, g.role_definition_id.rsplit("/", 1)[-1]) for g in report.inheritance.grants}
    assert grants == {("kubelet", ACR_PULL), ("addon:azureKeyvaultSecretsProvider", KEY_VAULT_SECRETS_USER)}
    (federation,) = report.inheritance.federations
    assert federation.subject == "system:serviceaccount:web:api"
    assert {w.kind for w in report.inheritance.wiring} == {
        "system_topic",
        "metric_alert",
        "activity_log_alert",
        "diagnostic_setting",
    }
    checks = {c.name: c.status for c in report.checks}
    assert checks["SubnetAddresses"] == checks["VcpuQuota"] == checks["FederatedCredentialLimit"] == "ok"
    changes = {c.field: c.change for c in report.definition}
    assert changes["dnsPrefix"] == "changed" and changes["nodeResourceGroup"] == "dropped"
    assert changes["aadProfile"] == "carried"
    assert report.writes[0].method == "PUT" and report.writes[0].resource == world.green_id
    assert sum("roleAssignments" in w.resource for w in report.writes) == 2


def test_read_only_clients_refuse_a_write_before_it_leaves(estate):
    world = estate()
    world.emulator.clear_requests()
    read_only = Clusters(AzureClients(world.clients.settings, read_only=True))
    with pytest.raises(PermanentError) as refused:
        read_only.start_stop(world.blue_id)
    assert "read-only clients refuse POST" in refused.value.message
    assert world.writes() == []


def with_props(**changes: Any) -> dict[str, Any]:
    blue = copy.deepcopy(BLUE)
    blue["properties"].update(changes)
    return blue


def service_principal_blue() -> dict[str, Any]:
    """A blue authenticating with a service principal: no managed identities (its add-ons use the principal)."""
    blue = with_props(servicePrincipalProfile={"clientId": "0e1f2a3b-0000-4000-8000-000000000099"})
    blue.pop("identity")
    for addon in blue["properties"]["addonProfiles"].values():
        addon.pop("identity", None)
    return blue


def kubenet_blue() -> dict[str, Any]:
    blue = copy.deepcopy(BLUE)
    blue["properties"]["networkProfile"] = {"networkPlugin": "kubenet", "podCidr": "10.244.0.0/16"}
    return blue


def extra_credentials(count: int) -> list[dict[str, Any]]:
    identity = "/subscriptions/5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23/resourceGroups/rg-nod-prod/providers/"
    identity += "Microsoft.ManagedIdentity/userAssignedIdentities/id-nod-prod-api"
    return [
        {
            "id": f"{identity}/federatedIdentityCredentials/other-{i}",
            "name": f"other-{i}",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {
                "issuer": f"https://eastus2.oic.prod-aks.azure.com/tenant/other-{i}/",
                "subject": "system:serviceaccount:web:api",
                "audiences": ["api://AzureADTokenExchange"],
            },
        }
        for i in range(count)
    ]


SMALL_QUOTA = [{"type": "emulator/computeQuota", "subscription": BLUE["id"].split("/")[2], "location": "eastus2"}]
SMALL_QUOTA[0]["limits"] = {"cores": 60, "standardDDSv5Family": 60}  # blue holds 44 vCPUs; green needs as many


@pytest.mark.parametrize(
    ("blue", "extra_seed", "check"),
    [
        (
            with_props(servicePrincipalProfile={"clientId": "0e1f2a3b-0000-4000-8000-000000000099"}),
            None,
            "ServicePrincipalSecret",
        ),
        (with_props(apiServerAccessProfile={"disableRunCommand": True}), None, "RunCommandDisabled"),
        (kubenet_blue(), None, "SubnetCannotBeShared"),
        (BLUE, SMALL_QUOTA, "VcpuQuota"),
        (BLUE, extra_credentials(19), "FederatedCredentialLimit"),
    ],
    ids=["service-principal", "run-command-disabled", "kubenet-subnet", "vcpu-quota", "credential-limit"],
)
def test_each_conflict_blocks_the_run_before_any_write(estate, blue, extra_seed, check):
    world = estate(blue, extra_seed)
    world.emulator.clear_requests()
    report = plan_report(world.clients, world.env)
    assert not report.ok
    assert check in {c.name for c in report.checks if c.status == "block"}
    with pytest.raises(PermanentError) as refused:
        resolve_run_plan_for(world)
    assert refused.value.code == "PlanBlocked" and check in refused.value.message
    assert world.writes() == []


def resolve_run_plan_for(world: Estate):
    import bluegreen.planning as planning

    original = planning.load_environment
    planning.load_environment = lambda name: world.env  # the environments file, as the run would load it
    try:
        return resolve_run_plan(world.clients, world.resolve())
    finally:
        planning.load_environment = original


def test_a_subnet_without_room_for_greens_max_nodes_blocks(estate):
    roomy = estate()
    subnet = BLUE["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    (check,) = [c for c in plan_report(roomy.clients, roomy.env).checks if c.name == "SubnetAddresses"]
    assert check.status == "ok" and f"{roomy.emulator.free_addresses(subnet)} free" in check.detail
    # Flat Azure CNI in a /21: blue's 7 nodes hold 7 x 111 addresses; green's pools at their max counts plus
    # surge (3 + 1 and 12 + 4 nodes) need 20 x 111 = 2220, more than the 1266 left.
    flat = copy.deepcopy(BLUE)
    flat["properties"]["networkProfile"].pop("networkPluginMode")
    vnet_id, _, name = subnet.rpartition("/subnets/")
    small = {
        "id": vnet_id,
        "name": vnet_id.rsplit("/", 1)[-1],
        "type": "Microsoft.Network/virtualNetworks",
        "location": "eastus2",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
            "subnets": [{"name": name, "properties": {"addressPrefix": "10.224.0.0/21"}}],
        },
    }
    tight = estate(flat, [small])
    assert tight.emulator.free_addresses(subnet) == 2043 - 777
    (check,) = [c for c in plan_report(tight.clients, tight.env).checks if c.name == "SubnetAddresses"]
    assert check.status == "block" and "need 2220 addresses" in check.detail and "1266 are free" in check.detail


# ---- green inherits, and gives it back


def test_green_gets_blues_grants_credentials_and_wiring_and_loses_them_with_green(estate):
    world = estate()
    green = world.create_green()
    assert (
        ClusterIdentities.of(green).principals["kubelet"]
        != ClusterIdentities.of(Clusters(world.clients).get(world.blue_id) or {}).principals["kubelet"]
    )
    kubelet = ClusterIdentities.of(green).principals["kubelet"]
    registry = world.estate.registry_id
    assert not world.emulator.has_role(kubelet, ACR_PULL, registry)  # AKS made green's identity: no grants

    request = WireGreen(
        blue_id=world.blue_id, green_id=world.green_id, run_id="nod-prod-1", inheritance=world.plan.inheritance
    )
    wired = wire_green.fn(request)
    assert world.emulator.has_role(kubelet, ACR_PULL, registry)
    kinds = sorted(i.kind for i in wired.created)
    assert kinds == sorted(
        [
            "role_assignment",
            "role_assignment",
            "federated_credential",
            "system_topic",
            "event_subscription",
            "metric_alert",
            "activity_log_alert",
            "diagnostic_setting",
        ]
    )
    issuer = ClusterIdentities.of(green).issuer
    credentials = world.resources_of("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
    assert [c["properties"]["subject"] for c in credentials if c["properties"]["issuer"] == issuer] == [
        "system:serviceaccount:web:api"
    ]
    topics = world.resources_of("Microsoft.EventGrid/systemTopics")
    assert sorted(t["properties"]["source"].lower() for t in topics) == sorted(
        [world.blue_id.lower(), world.green_id.lower()]
    )
    again = wire_green.fn(request)  # a retried activity converges on the same resources
    assert sorted(i.id.lower() for i in again.created) == sorted(i.id.lower() for i in wired.created)

    unwired = unwire_cluster.fn(ClusterTarget(cluster_id=world.green_id, only_if_run="nod-prod-1"))
    assert not unwired.failed
    assert {i.lower() for i in unwired.removed} == {i.id.lower() for i in wired.created}
    assert not world.emulator.has_role(kubelet, ACR_PULL, registry)
    topics = world.resources_of("Microsoft.EventGrid/systemTopics")
    assert [t["properties"]["source"].lower() for t in topics] == [world.blue_id.lower()]  # blue's untouched


def test_another_runs_cluster_is_never_unwired(estate):
    world = estate()
    world.create_green()
    world.emulator.clear_requests()
    assert unwire_cluster.fn(ClusterTarget(cluster_id=world.green_id, only_if_run="another-run")).removed == []
    assert world.writes() == []


def test_deleting_blue_takes_its_grants_credentials_and_wiring_first(estate):
    world = estate()
    blue = Clusters(world.clients).get(world.blue_id)
    assert blue is not None
    kubelet = ClusterIdentities.of(blue).principals["kubelet"]
    assert world.emulator.has_role(kubelet, ACR_PULL, world.estate.registry_id)
    unwired = unwire_cluster.fn(ClusterTarget(cluster_id=world.blue_id))
    assert not unwired.failed and unwired.removed
    assert not world.emulator.has_role(kubelet, ACR_PULL, world.estate.registry_id)
    assert world.resources_of("Microsoft.EventGrid/systemTopics") == []
    issuer = ClusterIdentities.of(blue).issuer
    credentials = world.resources_of("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials")
    assert not [c for c in credentials if c["properties"]["issuer"] == issuer]
