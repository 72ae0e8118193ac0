"""Microsoft.Compute usages and resource SKUs through azure-mgmt-compute: the vCPUs clusters hold, the quota."""

from __future__ import annotations

import pytest
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.containerservice import ContainerServiceClient

from local.azure_emulator import AzureEmulator
from local.azure_emulator.compute_usages import cluster_vcpus, shortfall
from local.clock import VirtualClock
from tests.emulator.arm_helpers import cluster
from tests.emulator.conftest import RG, SUB, StaticToken, begin, client_kwargs, finish


@pytest.fixture
def compute(emu: AzureEmulator, clock: VirtualClock) -> ComputeManagementClient:
    return ComputeManagementClient(StaticToken(), SUB, base_url=emu.arm_endpoint, **client_kwargs(emu, clock))


def usage(compute: ComputeManagementClient, location: str = "eastus2") -> dict[str, tuple[int, int, str]]:
    return {u.name.value: (u.current_value, u.limit, u.name.localized_value) for u in compute.usage.list(location)}


def test_usages_count_every_clusters_vcpus_by_family_and_in_total(
    emu: AzureEmulator, compute: ComputeManagementClient
) -> None:
    # blue: 3 x Standard_D4ds_v5 + 4 x Standard_D8ds_v5 = 44 vCPUs of the DDSv5 family
    emu.seed(
        [
            cluster(subnet=None),
            {
                "type": "emulator/computeQuota",
                "subscription": SUB,
                "location": "East US 2",
                "limits": {"cores": 120, "standardDDSv5Family": 100},
                "otherUsage": {"cores": 8, "standardDSv3Family": 8},
            },
        ]
    )
    found = usage(compute)
    assert found["cores"] == (52, 120, "Total Regional vCPUs")
    assert found["standardDDSv5Family"] == (44, 100, "Standard DDSv5 Family vCPUs")
    assert found["standardDSv3Family"][:2] == (8, 100)  # default family limit
    assert found["virtualMachines"][:2] == (7, 25000)
    assert found["virtualMachineScaleSets"][0] == 2
    assert usage(compute, "westeurope")["cores"][0] == 0
    first = next(iter(compute.usage.list("eastus2")))
    assert first.unit == "Count"
    # What green (blue's twin) needs with surge (33%: +1 and +2 nodes): 44 + 4 + 16 = 64 vCPUs.
    green = cluster("aks-nod-prod-green", subnet=None)
    need = cluster_vcpus(green)
    assert need == {"cores": 64, "standardDDSv5Family": 64}
    with emu.world.lock:
        assert shortfall(emu.world, SUB, "eastus2", need) == {"standardDDSv5Family": 8}


def test_surge_nodes_count_while_an_upgrade_runs(
    emu: AzureEmulator, clock: VirtualClock, compute: ComputeManagementClient, aks: ContainerServiceClient
) -> None:
    emu.seed(cluster(subnet=None))
    assert usage(compute)["standardDDSv5Family"][0] == 44
    body = aks.managed_clusters.get(RG, "aks-nod-prod-blue")
    for pool in body.agent_pool_profiles:
        pool.orchestrator_version = "1.32.9"
    body.kubernetes_version = "1.32.9"
    begin(aks.managed_clusters.begin_create_or_update, RG, "aks-nod-prod-blue", body)
    assert usage(compute)["standardDDSv5Family"][0] == 44 + 4 + 2 * 8
    finish(emu, clock)
    assert usage(compute)["standardDDSv5Family"][0] == 44


def test_resource_skus_name_each_sizes_family_and_vcpus(compute: ComputeManagementClient) -> None:
    skus = {s.name: s for s in compute.resource_skus.list(filter="location eq 'eastus2'")}
    d8 = skus["Standard_D8ds_v5"]
    assert (d8.resource_type, d8.family, d8.locations) == ("virtualMachines", "standardDDSv5Family", ["eastus2"])
    assert {c.name: c.value for c in d8.capabilities}["vCPUs"] == "8"
    assert {c.name: c.value for c in skus["Standard_DS3_v2"].capabilities}["vCPUs"] == "4"
