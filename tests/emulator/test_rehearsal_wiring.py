"""The rehearsal estate's Azure wiring of blue: subnet with room for green, system topic and subscription, alert,
diagnostic setting, quota; read through the SDK clients the app uses."""

from __future__ import annotations

from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.eventgrid import EventGridManagementClient
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.network import NetworkManagementClient

from local.azure_emulator import AzureEmulator
from local.azure_emulator.compute_usages import cluster_vcpus, shortfall
from local.azure_emulator.network_usage import required
from local.clock import VirtualClock
from local.rehearsal.world import build_estate, load_blue
from tests.emulator.conftest import StaticToken, client_kwargs


def test_blue_is_wired_and_has_room_for_green(clock: VirtualClock) -> None:
    estate = build_estate(load_blue(None), "standard")
    emu = AzureEmulator(clock=clock, seed=estate.resources).start()
    try:
        kwargs = client_kwargs(emu, clock)
        sub, rg, blue = estate.subscription, estate.resource_group, estate.blue_name
        network = NetworkManagementClient(StaticToken(), sub, base_url=emu.arm_endpoint, **kwargs)
        eg = EventGridManagementClient(StaticToken(), sub, base_url=emu.arm_endpoint, **kwargs)
        monitor = MonitorManagementClient(StaticToken(), sub, base_url=emu.arm_endpoint, **kwargs)
        compute = ComputeManagementClient(StaticToken(), sub, base_url=emu.arm_endpoint, **kwargs)
        blue_body = next(r for r in emu.resources() if r.get("name") == blue)
        blue_id = blue_body["id"]
        pools = blue_body["properties"]["agentPoolProfiles"]
        assert estate.subnet_id and all(p["vnetSubnetID"] == estate.subnet_id for p in pools)
        parts = estate.subnet_id.split("/")  # /subscriptions/S/resourceGroups/RG/providers/.../VNET/subnets/NAME
        got = network.subnets.get(parts[4], parts[8], parts[10])
        assert got.provisioning_state == "Succeeded" and len(got.ip_configurations) > 0
        # Room for a green twin (same pools, same subnet) with surge, next to blue.
        green = {**blue_body, "properties": {**blue_body["properties"], "agentPoolProfiles": pools}}
        assert emu.free_addresses(estate.subnet_id) >= required(green, estate.subnet_id)
        topic = eg.system_topics.get(rg, estate.system_topic_id.rsplit("/", 1)[-1])
        assert (
            topic.source.lower() == blue_id.lower() and topic.topic_type == "microsoft.containerservice.managedclusters"
        )
        [subscription] = eg.system_topic_event_subscriptions.list_by_system_topic(rg, topic.name)
        assert subscription.id == estate.event_subscription_id
        assert subscription.destination.endpoint_type == "AzureFunction"
        assert subscription.destination.resource_id == estate.event_function_id
        assert subscription.provisioning_state == "Succeeded"
        [alert] = monitor.metric_alerts.list_by_resource_group(rg)
        assert alert.id == estate.metric_alert_ids[0] and [s.lower() for s in alert.scopes] == [blue_id.lower()]
        assert monitor.action_groups.get(rg, estate.action_group_id.rsplit("/", 1)[-1]).enabled
        [setting] = monitor.diagnostic_settings.list(blue_id)
        assert setting.id == estate.diagnostic_setting_ids[0] and setting.workspace_id == estate.workspace_id
        location = blue_body["location"]
        assert {u.name.value: u.current_value for u in compute.usage.list(location)}["cores"] == 44
        with emu.world.lock:
            assert shortfall(emu.world, sub, location, cluster_vcpus(green)) == {}
    finally:
        emu.stop()
