"""Green's definition from blue's GET body: what cannot be copied is handled or refused, each with its reason."""

import copy
import json
from pathlib import Path

import pytest

from bluegreen.contract import GreenOverrides
from bluegreen.green import define

BLUE = json.loads((Path(__file__).parents[1] / "fixtures" / "arm" / "managed-cluster-blue.json").read_text())
SUB = "/subscriptions/5f1c2a7e-3b9d-4c61-9e2a-7d4b8c0f1a23/resourceGroups/rg-nod-prod/providers"
SUBNET = f"{SUB}/Microsoft.Network/virtualNetworks/vnet/subnets/aks"
OTHER_SUBNET = f"{SUB}/Microsoft.Network/virtualNetworks/vnet/subnets/aks-green"
EGRESS_IP = f"{SUB}/Microsoft.Network/publicIPAddresses/egress-1"


def blue(**changes):
    body = copy.deepcopy(BLUE)
    for path, value in changes.items():
        target = body["properties"]
        *parents, last = path.split("__")
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value
    return body


def green_of(body, overrides=None, secret=None):
    return define(
        body,
        name="aks-nod-prod-green",
        version="1.31.11",
        run_id="run-1",
        environment="nod-prod",
        origin="green",
        overrides=overrides or GreenOverrides(),
        service_principal_secret=secret,
    )


def change(definition, field):
    return next(c for c in definition.changes if c.field == field)


def blocks(definition):
    return {c.name: c.detail for c in definition.checks if c.status == "block"}


def test_a_managed_identity_blue_makes_a_green_with_its_own_names_identities_and_version():
    green = green_of(blue())
    props = green.body["properties"]
    assert props["dnsPrefix"] == "aks-nod-prod-green" and "fqdnSubdomain" not in props
    assert "nodeResourceGroup" not in props and "servicePrincipalProfile" not in props
    assert "kubeletidentity" not in props.get("identityProfile", {})  # AKS-managed, in blue's node group
    assert {p["orchestratorVersion"] for p in props["agentPoolProfiles"]} == {"1.31.11"}
    assert green.body["tags"]["bluegreen-run"] == "run-1" and green.body["tags"]["app"] == "nod-web"
    assert change(green, "kubernetesVersion").blue == "1.31.8"
    assert change(green, "oidcIssuerProfile").change == "carried"
    assert blocks(green) == {}


@pytest.mark.parametrize(("cluster_identity", "carried"), [("UserAssigned", True), ("SystemAssigned", False)])
def test_a_pre_created_kubelet_identity_is_carried_only_with_a_user_assigned_cluster_identity(
    cluster_identity, carried
):
    own = f"{SUB}/Microsoft.ManagedIdentity/userAssignedIdentities/id-kubelet"
    body = blue(identityProfile={"kubeletidentity": {"resourceId": own, "clientId": "c", "objectId": "o"}})
    body["identity"] = {"type": cluster_identity}
    kept = green_of(body).body["properties"].get("identityProfile", {}).get("kubeletidentity")
    assert (kept is not None and kept["resourceId"] == own) == carried


def test_a_service_principal_blue_is_refused_naming_both_ways_forward():
    green = green_of(blue(servicePrincipalProfile={"clientId": "0e1f2a3b-0000-4000-8000-000000000099"}))
    detail = blocks(green)["ServicePrincipalSecret"]
    assert "clusters.service_principal_secret" in detail and "managed identity" in detail


def test_a_service_principal_blue_uses_the_configured_secret_and_never_shows_it():
    reference = "https://kv-nod.vault.azure.net/secrets/aks-sp"
    overrides = GreenOverrides(service_principal_secret=reference)
    sp = blue(servicePrincipalProfile={"clientId": "0e1f2a3b-0000-4000-8000-000000000099"})
    green = green_of(sp, overrides, secret="s3cret-value")
    assert green.body["properties"]["servicePrincipalProfile"]["secret"] == "s3cret-value"
    assert blocks(green) == {}
    shown = json.dumps([c.model_dump() for c in green.changes])
    assert reference in shown and "s3cret-value" not in shown
    # The plan defines green without the value: only the reference appears.
    assert "secret" not in green_of(sp, overrides).body["properties"]["servicePrincipalProfile"]


def test_a_private_cluster_with_a_subdomain_keeps_fqdn_subdomain_and_no_dns_prefix():
    private = blue(apiServerAccessProfile={"enablePrivateCluster": True}, fqdnSubdomain="aks-nod-prod-blue")
    props = green_of(private).body["properties"]
    assert props["fqdnSubdomain"] == "aks-nod-prod-green" and "dnsPrefix" not in props


def test_blues_outbound_ips_stay_blues_with_a_warning_or_come_from_the_configuration():
    byo = blue(networkProfile__loadBalancerProfile={"outboundIPs": {"publicIPs": [{"id": f"{SUB}/x/blue-ip"}]}})
    left_to_aks = green_of(byo)
    balancer = left_to_aks.body["properties"]["networkProfile"]["loadBalancerProfile"]
    assert "outboundIPs" not in balancer and balancer["managedOutboundIPs"] == {"count": 1}
    assert [c.name for c in left_to_aks.checks if c.status == "warn"] == ["EgressAddresses"]
    configured = green_of(byo, GreenOverrides(outbound_ips=[EGRESS_IP]))
    balancer = configured.body["properties"]["networkProfile"]["loadBalancerProfile"]
    assert balancer["outboundIPs"] == {"publicIPs": [{"id": EGRESS_IP}]} and not configured.checks


def test_retired_add_ons_are_dropped_with_a_note():
    addons = dict(BLUE["properties"]["addonProfiles"], httpApplicationRouting={"enabled": True})
    green = green_of(blue(addonProfiles=addons))
    assert "httpApplicationRouting" not in green.body["properties"]["addonProfiles"]
    assert "retired" in change(green, "addonProfiles.httpApplicationRouting").reason
    assert "omsagent" in green.body["properties"]["addonProfiles"]


def test_run_command_disabled_is_refused_with_the_setting_to_change():
    green = green_of(blue(apiServerAccessProfile={"disableRunCommand": True}))
    assert "disableRunCommand" in blocks(green)["RunCommandDisabled"]


@pytest.mark.parametrize("plugin", ["kubenet", "azure"])
def test_a_kubenet_green_never_shares_blues_subnet(plugin):
    body = blue(networkProfile={"networkPlugin": plugin})
    for pool in body["properties"]["agentPoolProfiles"]:
        pool["vnetSubnetID"] = SUBNET
    shared = green_of(body)
    assert ("SubnetCannotBeShared" in blocks(shared)) == (plugin == "kubenet")
    own = green_of(body, GreenOverrides(subnet_id=OTHER_SUBNET))
    assert blocks(own) == {}
    assert {p["vnetSubnetID"] for p in own.body["properties"]["agentPoolProfiles"]} == {OTHER_SUBNET}
