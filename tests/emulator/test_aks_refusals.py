"""AKS's refusals of clusters that could never work, through the real ContainerServiceClient."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.containerservice.models import RunCommandRequest

from local.azure_emulator import AzureEmulator
from tests.emulator.conftest import RG, SUB, create_body, fixture
from tests.emulator.identity_helpers import error_code, user_seed

BLUE, GREEN = "aks-nod-prod-blue", "aks-nod-prod-green"
NET = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network"
SP_APP = "5c8e0f2a-1111-4222-8333-444455556666"
SP_OBJECT = "6d9f1a3b-1111-4222-8333-444455556666"


def body(name: str = GREEN, **props: Any) -> dict[str, Any]:
    made = create_body()
    made["properties"].update(nodeResourceGroup=f"MC_{RG}_{name}_eastus2", dnsPrefix=name, **props)
    return made


def refused(aks: ContainerServiceClient, made: dict[str, Any], name: str = GREEN) -> str:
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_create_or_update(RG, name, made).result()
    assert exc.value.status_code == 400, exc.value
    return error_code(exc)


def test_a_service_principal_cluster_needs_its_secret_and_a_known_principal(
    aks: ContainerServiceClient, emu: AzureEmulator
) -> None:
    made = body()
    made.pop("identity")
    made["properties"]["servicePrincipalProfile"] = {"clientId": SP_APP}
    assert refused(aks, made) == "BadRequest"
    made["properties"]["servicePrincipalProfile"]["secret"] = "s3cret"
    assert refused(aks, made) == "ServicePrincipalNotFound"
    emu.seed({**user_seed(SP_OBJECT, "ServicePrincipal"), "appId": SP_APP})
    created = aks.managed_clusters.begin_create_or_update(RG, GREEN, made).result()
    assert created.service_principal_profile.client_id == SP_APP
    assert created.service_principal_profile.secret is None  # never returned
    assert created.identity_profile is None  # the kubelet runs as the service principal
    again = copy.deepcopy(made)
    again["properties"]["servicePrincipalProfile"].pop("secret")
    assert refused(aks, again) == "BadRequest"  # a GET -> PUT round trip must send the secret again
    again["properties"].pop("servicePrincipalProfile")  # or leave the profile out, as the CLI does
    assert (
        aks.managed_clusters.begin_create_or_update(RG, GREEN, again).result().service_principal_profile.client_id
        == SP_APP
    )


def test_dns_prefix_and_fqdn_subdomain_cannot_both_be_given(aks: ContainerServiceClient) -> None:
    made = body(fqdnSubdomain="green-api")
    made["properties"]["apiServerAccessProfile"] = {"enablePrivateCluster": True}
    assert refused(aks, made) == "InvalidParameterConflictingProperties"
    made["properties"].pop("dnsPrefix")
    created = aks.managed_clusters.begin_create_or_update(RG, GREEN, made).result()
    assert (created.dns_prefix, created.fqdn_subdomain) == (None, "green-api")
    assert created.private_fqdn == "green-api.privatelink.eastus2.azmk8s.io"


def _outbound(ips: list[str] | None = None, prefixes: list[str] | None = None) -> dict[str, Any]:
    profile: dict[str, Any] = {"networkPlugin": "azure", "loadBalancerSku": "standard", "outboundType": "loadBalancer"}
    lb: dict[str, Any] = {}
    if ips:
        lb["outboundIPs"] = {"publicIPs": [{"id": i} for i in ips]}
    if prefixes:
        lb["outboundIPPrefixes"] = {"publicIPPrefixes": [{"id": p} for p in prefixes]}
    profile["loadBalancerProfile"] = lb
    return profile


def _public(kind: str, name: str) -> dict[str, Any]:
    return {
        "id": f"{NET}/{kind}/{name}",
        "type": f"Microsoft.Network/{kind}",
        "location": "eastus2",
        "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"} if kind == "publicIPAddresses" else {"prefixLength": 30},
    }


def room_for_clusters(emu: AzureEmulator, cores: int = 1000) -> None:
    """A subscription whose vCPU quota holds several clusters (the emulator's default holds two of these)."""
    limits = {"cores": cores, "standardDDSv5Family": cores}
    emu.seed({"type": "emulator/computeQuota", "subscription": SUB, "location": "eastus2", "limits": limits})


def vnet(*subnets: str) -> dict[str, Any]:
    return {
        "id": f"{NET}/virtualNetworks/vnet-nod",
        "name": "vnet-nod",
        "type": "Microsoft.Network/virtualNetworks",
        "location": "eastus2",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.224.0.0/12"]},
            "subnets": [
                {"name": name, "properties": {"addressPrefix": f"10.{224 + i}.0.0/16"}}
                for i, name in enumerate(subnets)
            ],
        },
    }


def test_an_outbound_ip_or_prefix_is_one_clusters_alone(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    room_for_clusters(emu)
    emu.seed(fixture("managed-cluster-blue.json"))  # blue: two AKS-managed outbound IPs in its MC_ group
    missing = f"{NET}/publicIPAddresses/pip-egress"
    assert refused(aks, body(networkProfile=_outbound([missing]))) == "LoadBalancerProfileOutboundIPNotExist"
    assert (
        refused(aks, body(networkProfile=_outbound(prefixes=[missing])))
        == "LoadBalancerProfileOutboundIPPrefixNotExist"
    )
    emu.seed(
        [
            _public("publicIPAddresses", "pip-egress"),
            _public("publicIPAddresses", "pip-green"),
            _public("publicIPPrefixes", "ippre-egress"),
        ]
    )
    blue_ip = aks.managed_clusters.get(RG, BLUE).network_profile.load_balancer_profile.effective_outbound_i_ps[0].id
    assert (
        refused(aks, body(networkProfile=_outbound([blue_ip])))
        == "LoadBalancerProfileOutboundIPHasManagedOutboundIPTag"
    )
    mine = f"{NET}/publicIPAddresses/pip-egress"
    aks.managed_clusters.begin_create_or_update(
        RG, "aks-one", body("aks-one", networkProfile=_outbound([mine]))
    ).result()
    assert (
        refused(aks, body(networkProfile=_outbound([mine])))
        == "LoadBalancerProfileOutboundIPAttachedToAnotherIPConfiguration"
    )
    prefix = f"{NET}/publicIPPrefixes/ippre-egress"
    aks.managed_clusters.begin_create_or_update(
        RG, "aks-two", body("aks-two", networkProfile=_outbound(prefixes=[prefix]))
    ).result()
    assert refused(aks, body(networkProfile=_outbound(prefixes=[prefix]))) == "PublicIPPrefixIsAttachedToLoadBalancer"
    own = f"{NET}/publicIPAddresses/pip-green"
    created = aks.managed_clusters.begin_create_or_update(RG, GREEN, body(networkProfile=_outbound([own]))).result()
    assert created.network_profile.load_balancer_profile.outbound_i_ps.public_i_ps[0].id == own


def _in_subnet(plugin: str, subnet: str, name: str = GREEN) -> dict[str, Any]:
    network = {"networkPlugin": plugin, "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"}
    made = body(name, networkProfile=network)
    for pool in made["properties"]["agentPoolProfiles"]:
        pool["vnetSubnetID"] = subnet
    return made


def test_kubenet_clusters_cannot_share_a_subnet(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    room_for_clusters(emu)
    emu.seed(vnet("snet-aks", "snet-green"))
    subnet = f"{NET}/virtualNetworks/vnet-nod/subnets/snet-aks"
    aks.managed_clusters.begin_create_or_update(RG, BLUE, _in_subnet("kubenet", subnet, BLUE)).result()
    assert refused(aks, _in_subnet("kubenet", subnet)) == "ExistingRouteTableInSubnetNotSupported"
    assert refused(aks, _in_subnet("kubenet", subnet.upper())) == "ExistingRouteTableInSubnetNotSupported"
    assert aks.managed_clusters.begin_create_or_update(RG, "aks-cni", _in_subnet("azure", subnet, "aks-cni")).result()
    other = _in_subnet("kubenet", subnet.replace("snet-aks", "snet-green"))
    assert aks.managed_clusters.begin_create_or_update(RG, GREEN, other).result().provisioning_state == "Succeeded"


@pytest.mark.parametrize(
    ("addon", "code"),
    [
        ("httpApplicationRouting", "BadRequest"),
        ("kubeDashboard", "AddonInvalid"),
        ("httpapplicationrouting", "BadRequest"),
    ],
)
def test_retired_add_ons_cannot_be_enabled(
    aks: ContainerServiceClient, emu: AzureEmulator, addon: str, code: str
) -> None:
    made = body()
    made["properties"]["addonProfiles"][addon] = {"enabled": True}
    assert refused(aks, made) == code
    made["properties"]["addonProfiles"][addon] = {"enabled": False}  # left disabled: fine
    aks.managed_clusters.begin_create_or_update(RG, GREEN, made).result()
    emu.seed(fixture("managed-cluster-blue.json"))
    update = create_body()
    update["properties"]["addonProfiles"][addon] = {"enabled": True}
    assert refused(aks, update, BLUE) == code


@pytest.mark.parametrize("version", ["1.29.9", "1.29", "1.31.99"])
def test_a_version_the_region_does_not_offer_is_k8s_version_not_supported(
    aks: ContainerServiceClient, version: str
) -> None:
    made = body(kubernetesVersion=version)
    for pool in made["properties"]["agentPoolProfiles"]:
        pool.pop("orchestratorVersion", None)
    assert refused(aks, made) == "K8sVersionNotSupported"


def test_a_create_needs_an_existing_subnet_with_room_for_its_max_nodes(
    aks: ContainerServiceClient, emu: AzureEmulator
) -> None:
    subnet = f"{NET}/virtualNetworks/vnet-nod/subnets/snet-small"
    assert refused(aks, _in_subnet("azure", subnet)) == "SubnetNotFound"
    small = vnet()
    small["properties"]["subnets"] = [{"name": "snet-small", "properties": {"addressPrefix": "10.224.0.0/24"}}]
    emu.seed(small)
    # Azure CNI: maxPods + 1 addresses per node, at the autoscaler's max count: far more than a /24 holds.
    with pytest.raises(HttpResponseError) as refusal:
        aks.managed_clusters.begin_create_or_update(RG, GREEN, _in_subnet("azure", subnet)).result()
    assert error_code(refusal) == "InsufficientSubnetSize"
    assert "exceeds IPs available 251 in Subnet Cidr 10.224.0.0/24" in str(refusal.value)
    # Overlay: one address per node fits.
    assert aks.managed_clusters.begin_create_or_update(RG, GREEN, _in_subnet("kubenet", subnet)).result()


def test_a_create_beyond_the_vcpu_quota_is_quota_exceeded(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    emu.seed({"type": "emulator/computeQuota", "subscription": SUB, "location": "eastus2", "limits": {"cores": 20}})
    with pytest.raises(HttpResponseError) as refusal:
        aks.managed_clusters.begin_create_or_update(RG, GREEN, body()).result()
    assert error_code(refusal) == "QuotaExceeded"
    assert "Maximum allowed: 20, Current in use: 0" in str(refusal.value)


def test_run_command_is_refused_while_disabled(aks: ContainerServiceClient, emu: AzureEmulator) -> None:
    made = body(apiServerAccessProfile={"disableRunCommand": True})
    aks.managed_clusters.begin_create_or_update(RG, GREEN, made).result()
    with pytest.raises(HttpResponseError) as exc:
        aks.managed_clusters.begin_run_command(RG, GREEN, RunCommandRequest(command="kubectl get nodes")).result()
    assert (exc.value.status_code, error_code(exc)) == (409, "OperationNotAllowed")
    assert "disableRunCommand" in str(exc.value)
    made["properties"]["apiServerAccessProfile"]["disableRunCommand"] = False
    aks.managed_clusters.begin_create_or_update(RG, GREEN, made).result()
    result = aks.managed_clusters.begin_run_command(RG, GREEN, RunCommandRequest(command="kubectl get nodes")).result()
    assert result.exit_code == 0
