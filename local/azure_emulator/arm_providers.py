"""The Event Grid, Insights, Network and Compute providers as one piece: their routes, their GET bodies for
AzureEmulator.resources(), their seeding (arm_seed) and the helpers tests and the AKS rules use.

Modules, one role each:
- eventgrid_topics (systemTopics), eventgrid_subscriptions (eventSubscriptions, getFullUrl), eventgrid_handshake
- insights_metric_alerts, insights_activity_alerts, insights_action_groups, insights_diagnostics
- network_vnets (virtualNetworks, subnets, usages), network_public_ips (publicIPAddresses, publicIPPrefixes),
  network_rules (what Network refuses), network_usage (addresses AKS pools hold in a subnet)
- compute_usages (locations/{location}/usages), compute_skus (resource SKUs), vm_sizes, node_counts
- arm_store (their state), arm_exists (does an id exist), arm_lro (their long-running writes)
"""

from __future__ import annotations

from typing import Any

from local.azure_emulator import compute_usages, network_public_ips, network_usage
from local.azure_emulator.alerts import Alerts
from local.azure_emulator.arm_store import view
from local.azure_emulator.compute_skus import ComputeSkus
from local.azure_emulator.compute_usages import ComputeUsages
from local.azure_emulator.eventgrid_handshake import Handshake
from local.azure_emulator.eventgrid_subscriptions import EventSubscriptions
from local.azure_emulator.eventgrid_topics import SystemTopics
from local.azure_emulator.insights_action_groups import ActionGroups
from local.azure_emulator.insights_activity_alerts import ActivityLogAlerts
from local.azure_emulator.insights_diagnostics import DiagnosticSettings
from local.azure_emulator.insights_metric_alerts import MetricAlerts
from local.azure_emulator.network_public_ips import PublicIps
from local.azure_emulator.network_vnets import SUBNET_TYPE, VirtualNetworks
from local.azure_emulator.protocol import Route
from local.azure_emulator.world import World


class ArmProviders:
    def __init__(self, world: World, alerts: Alerts) -> None:
        self.world = world
        self.handshake = Handshake()
        self.vnets = VirtualNetworks(world)
        self.public_ips = PublicIps(world)
        self.topics = SystemTopics(world)
        self.subscriptions = EventSubscriptions(world, self.handshake)
        self.action_groups = ActionGroups(world)
        self.metric_alerts = MetricAlerts(world, alerts)
        self.activity_alerts = ActivityLogAlerts(world)
        self.diagnostics = DiagnosticSettings(world)
        self._providers: list[Any] = [
            self.vnets,
            self.public_ips,
            ComputeUsages(world),
            ComputeSkus(world),
            self.topics,
            self.subscriptions,
            self.action_groups,
            self.metric_alerts,
            self.activity_alerts,
            self.diagnostics,
        ]

    def routes(self) -> list[Route]:
        return [r for provider in self._providers for r in provider.routes()]

    def views(self) -> list[dict[str, Any]]:
        """Every stored resource as a GET returns it (subnets inside their VNet; AKS's own outbound IPs left out:
        they are the cluster's)."""
        bodies = []
        for body in self.world.arm.bodies.values():
            rtype = str(body.get("type", "")).lower()
            if rtype == SUBNET_TYPE.lower():
                continue
            if rtype == "microsoft.network/virtualnetworks":
                bodies.append(self.vnets.vnet_view(body))
            elif rtype == "microsoft.network/publicipaddresses":
                bodies.append(self.public_ips.ip_view(body))
            elif rtype == "microsoft.network/publicipprefixes":
                bodies.append(self.public_ips.prefix_view(body))
            else:
                bodies.append(view(body))
        return bodies

    # -- helpers ---------------------------------------------------------------------------------------------

    def free_addresses(self, subnet_id: str) -> int:
        with self.world.lock:
            self.world.settle()
            return network_usage.free(self.world, subnet_id)

    def compute_usage(self, subscription: str, location: str) -> dict[str, tuple[int, int]]:
        """Usage name -> (currentValue, limit)."""
        with self.world.lock:
            self.world.settle()
            return {
                u["name"]["value"]: (u["currentValue"], u["limit"])
                for u in compute_usages.usages(self.world, subscription, location)
            }

    def public_ip_user(self, public_ip_id: str) -> str | None:
        with self.world.lock:
            return network_public_ips.ip_in_use_by(self.world, public_ip_id)
