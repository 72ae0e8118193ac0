"""Microsoft.Network through azure-mgmt-network: VNets, subnets and the addresses AKS pools hold; public IPs."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.network import NetworkManagementClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.arm_helpers import SUBNET_ID, VNET_ID, cluster, vnet
from tests.emulator.conftest import RG, SUB, StaticToken, begin, client_kwargs, finish, status_document


@pytest.fixture
def network(emu: AzureEmulator, clock: VirtualClock) -> NetworkManagementClient:
    return NetworkManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


def _code(exc: pytest.ExceptionInfo[HttpResponseError]) -> str:
    return str(exc.value.error.code if exc.value.error else "")


def test_vnet_and_subnet_writes_are_long_running_and_read_back(
    emu: AzureEmulator, clock: VirtualClock, network: NetworkManagementClient
) -> None:
    url = begin(
        network.virtual_networks.begin_create_or_update,
        RG,
        "vnet-nod",
        {"location": "eastus2", "properties": {"addressSpace": {"addressPrefixes": ["10.240.0.0/16"]}}},
    )
    assert status_document(emu, url)["status"] == "InProgress"
    finish(emu, clock)
    assert status_document(emu, url)["status"] == "Succeeded"
    body = {
        "properties": {
            "addressPrefix": "10.240.0.0/22",
            "delegations": [
                {"name": "aks", "properties": {"serviceName": "Microsoft.ContainerService/managedClusters"}}
            ],
        }
    }
    subnet = network.subnets.begin_create_or_update(RG, "vnet-nod", "snet-aks", body).result()
    assert (subnet.address_prefix, subnet.provisioning_state) == ("10.240.0.0/22", "Succeeded")
    assert subnet.id.lower() == SUBNET_ID.lower()
    delegation = subnet.delegations[0]
    assert delegation.service_name == "Microsoft.ContainerService/managedClusters"
    assert delegation.actions == ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    assert [s.name for s in network.subnets.list(RG, "vnet-nod")] == ["snet-aks"]
    assert [s.name for s in network.virtual_networks.get(RG, "vnet-nod").subnets] == ["snet-aks"]
    assert [v.name for v in network.virtual_networks.list(RG)] == ["vnet-nod"]
    assert emu.free_addresses(SUBNET_ID) == 1024 - 5
    network.subnets.begin_delete(RG, "vnet-nod", "snet-aks").result()
    assert list(network.subnets.list(RG, "vnet-nod")) == []


@pytest.mark.parametrize(
    ("plugin", "mode", "per_node"),
    [("azure", None, 31), ("azure", "overlay", 1), ("kubenet", None, 1)],
    ids=["azure-cni", "overlay", "kubenet"],
)
def test_a_subnet_reports_what_cluster_nodes_use(
    emu: AzureEmulator, network: NetworkManagementClient, plugin: str, mode: str | None, per_node: int
) -> None:
    emu.seed([vnet(), cluster(plugin=plugin, mode=mode, max_pods=30)])  # 3 + 4 nodes
    subnet = network.subnets.get(RG, "vnet-nod", "snet-aks")
    assert len(subnet.ip_configurations) == 7 * per_node
    first = subnet.ip_configurations[0].id
    assert "/resourceGroups/MC_rg-nod-prod_aks-nod-prod-blue_eastus2/providers/Microsoft.Compute/" in first
    assert first.endswith(
        "/virtualMachines/0/networkInterfaces/"
        + first.split("/networkInterfaces/")[1].split("/")[0]
        + "/ipConfigurations/ipconfig1"
    )
    assert emu.free_addresses(SUBNET_ID) == 1019 - 7 * per_node
    usage = next(iter(network.virtual_networks.list_usage(RG, "vnet-nod")))
    assert (usage.id.lower(), usage.limit, usage.current_value) == (SUBNET_ID.lower(), 1019, 7 * per_node)


def test_surge_nodes_hold_addresses_while_an_upgrade_runs(
    emu: AzureEmulator, clock: VirtualClock, network: NetworkManagementClient, aks: ContainerServiceClient
) -> None:
    emu.seed([vnet(), cluster(max_pods=30)])
    before = emu.free_addresses(SUBNET_ID)
    assert before == 1019 - 7 * 31
    body = aks.managed_clusters.get(RG, "aks-nod-prod-blue")
    for pool in body.agent_pool_profiles:
        pool.orchestrator_version = "1.32.9"
    body.kubernetes_version = "1.32.9"
    begin(aks.managed_clusters.begin_create_or_update, RG, "aks-nod-prod-blue", body)
    # maxSurge 33%: one more node in the system pool (3), two in userpool1 (4)
    assert emu.free_addresses(SUBNET_ID) == before - 3 * 31
    assert len(network.subnets.get(RG, "vnet-nod", "snet-aks").ip_configurations) == 10 * 31
    finish(emu, clock)
    assert emu.free_addresses(SUBNET_ID) == before


def test_what_network_refuses_in_a_subnet(emu: AzureEmulator, network: NetworkManagementClient) -> None:
    emu.seed([vnet(), cluster()])
    cases = [
        ("10.9.0.0/24", "NetcfgSubnetRangeOutsideVnet"),
        ("10.240.1.0/24", "NetcfgSubnetRangesOverlap"),
        ("10.240.8.5/24", "InvalidCIDRNotation"),
        ("10.240.8.0/30", "NetcfgInvalidSubnet"),
    ]
    for prefix, code in cases:
        with pytest.raises(HttpResponseError) as exc:
            network.subnets.begin_create_or_update(RG, "vnet-nod", "other", {"properties": {"addressPrefix": prefix}})
        assert _code(exc) == code, prefix
    with pytest.raises(HttpResponseError) as exc:
        network.subnets.begin_delete(RG, "vnet-nod", "snet-aks").result()
    assert _code(exc) == "InUseSubnetCannotBeDeleted"
    assert "is in use by /subscriptions/" in str(exc.value)
    with pytest.raises(HttpResponseError) as exc:
        network.subnets.begin_create_or_update(
            RG, "vnet-nod", "snet-aks", {"properties": {"addressPrefix": "10.240.0.0/21"}}
        )
    assert _code(exc) == "InUseSubnetCannotBeUpdated"
    # A VNet PUT that leaves the used subnet out would delete it: refused the same way.
    with pytest.raises(HttpResponseError) as exc:
        network.virtual_networks.begin_create_or_update(
            RG,
            "vnet-nod",
            {"location": "eastus2", "properties": {"addressSpace": {"addressPrefixes": ["10.240.0.0/16"]}}},
        )
    assert _code(exc) == "InUseSubnetCannotBeDeleted"
    with pytest.raises(HttpResponseError) as exc:
        network.virtual_networks.begin_create_or_update(
            RG, "vnet-2", {"properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}}}
        )
    assert _code(exc) == "LocationRequired"
    assert network.virtual_networks.get(RG, "vnet-nod").id.lower() == VNET_ID.lower()


def test_aks_outbound_ips_live_in_the_node_resource_group_and_say_who_uses_them(
    emu: AzureEmulator, network: NetworkManagementClient
) -> None:
    blue = cluster(subnet=None)
    blue["properties"]["networkProfile"]["loadBalancerProfile"] = {"managedOutboundIPs": {"count": 2}}
    emu.seed(blue)
    node_rg = "MC_rg-nod-prod_aks-nod-prod-blue_eastus2"
    ips = list(network.public_ip_addresses.list(node_rg))
    assert len(ips) == 2
    lb = f"/subscriptions/{SUB}/resourceGroups/{node_rg}/providers/Microsoft.Network/loadBalancers/kubernetes"
    assert all(ip.ip_configuration.id.startswith(lb + "/frontendIPConfigurations/") for ip in ips)
    assert network.public_ip_addresses.get(node_rg, ips[0].name).ip_address == ips[0].ip_address
    with pytest.raises(HttpResponseError) as exc:
        network.public_ip_addresses.begin_delete(node_rg, ips[0].name).result()
    assert _code(exc) == "PublicIPAddressInUse"
    # A customer-owned IP: unused until a cluster lists it as an outbound IP.
    ip = network.public_ip_addresses.begin_create_or_update(
        RG, "pip-green-egress", {"location": "eastus2", "sku": {"name": "Standard"}}
    ).result()
    assert (ip.provisioning_state, ip.public_ip_allocation_method, ip.ip_configuration) == ("Succeeded", "Static", None)
    green = cluster("aks-nod-prod-green", subnet=None)
    green["properties"]["networkProfile"]["loadBalancerProfile"] = {"outboundIPs": {"publicIPs": [{"id": ip.id}]}}
    emu.seed(green)
    used = network.public_ip_addresses.get(RG, "pip-green-egress").ip_configuration.id
    assert used.startswith(f"/subscriptions/{SUB}/resourceGroups/MC_rg-nod-prod_aks-nod-prod-green_eastus2/")
    assert emu.arm.public_ip_user(ip.id) == used
    assert len(list(network.public_ip_addresses.list(f"MC_{RG}_aks-nod-prod-green_eastus2"))) == 0
    prefix = network.public_ip_prefixes.begin_create_or_update(
        RG, "ippre-egress", {"location": "eastus2", "properties": {"prefixLength": 30}}
    ).result()
    assert prefix.ip_prefix.endswith("/30") and prefix.load_balancer_frontend_ip_configuration is None
