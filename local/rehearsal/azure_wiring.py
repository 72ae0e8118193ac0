"""Blue's Azure wiring in the rehearsal estate: its subnet (with room for green), its Event Grid system topic and
subscription, a metric alert and a diagnostic setting scoped to it, and a vCPU quota with room for green.

- Network: every subnet blue's pools name (vnetSubnetID, podSubnetID) is seeded in its VNet (10.240.0.0/16 for the
  first VNet, 10.241.0.0/16 for the next ...), sized for blue and a green twin side by side at their maximum node
  counts (maxCount when autoscaling) plus upgrade surge, at least a /22. A blue without a subnet (AKS manages its
  VNet) gets none: subnet_id is "".
- Event Grid: the system topic `{blue}-events` (source blue, type Microsoft.ContainerService.ManagedClusters, blue's
  region) and its subscription `bluegreen` for ClusterSupportEnding / ClusterSupportEnded. The rehearsal's host URL
  is not known when the estate is built, so the destination is an AzureFunction: the app's `aks_lifecycle_events`
  function in the Function App `func-{env}-bluegreen` (declared as an emulator/resource), which is also what a
  deployed app uses (no handshake, no key in a URL).
- Monitor: the action group `ag-{env}-bluegreen` (a common-alert-schema webhook receiver to the Function App's
  /api/alerts: a placeholder URL, never called, since a cluster metric alert is stored but not evaluated), the
  metric alert `{blue}-node-cpu` (node_cpu_usage_percentage > 80, scoped to blue) and the diagnostic setting
  `{blue}-logs` sending kube-audit-admin, kube-apiserver and guard logs and AllMetrics to blue's Log Analytics
  workspace (the omsagent add-on's, declared as an emulator/resource).
- Compute: an emulator/computeQuota for blue's subscription and region whose `cores` and family limits hold blue and
  a green twin with surge, plus headroom.
"""

from __future__ import annotations

import ipaddress
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from local.azure_emulator import network_usage, node_counts, vm_sizes

AKS_TOPIC_TYPE = "Microsoft.ContainerService.ManagedClusters"
START_EVENTS = ["Microsoft.ContainerService.ClusterSupportEnding", "Microsoft.ContainerService.ClusterSupportEnded"]
SMALLEST_AKS_SUBNET = 22


@dataclass
class BlueWiring:
    resources: list[dict[str, Any]] = field(default_factory=list)
    vnet_id: str = ""
    subnet_id: str = ""
    system_topic_id: str = ""
    event_subscription_id: str = ""
    event_function_id: str = ""
    action_group_id: str = ""
    metric_alert_ids: tuple[str, ...] = ()
    diagnostic_setting_ids: tuple[str, ...] = ()
    workspace_id: str = ""


def _props(blue: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = blue.get("properties", blue)  # ARM GET body, or `az aks show` (flattened)
    return props


def _max_nodes(pool: dict[str, Any]) -> dict[str, Any]:
    most = int(pool.get("maxCount") or 0) if pool.get("enableAutoScaling") else 0
    return {**pool, "count": max(int(pool.get("count") or 0), most)}


def _subnets(blue: dict[str, Any]) -> dict[str, int]:
    """Subnet id -> addresses blue and a green twin need there (max nodes plus surge, each)."""
    props = _props(blue)
    need: dict[str, int] = defaultdict(int)
    for pool in props.get("agentPoolProfiles") or []:
        widest = _max_nodes(pool)
        for key in ("vnetSubnetID", "podSubnetID"):
            subnet = pool.get(key)
            if subnet:
                need[subnet] += 2 * node_counts.nodes(widest, True) * network_usage.per_node(props, pool, subnet)
    return dict(need)


def network(blue: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str]:
    """VNets with their subnets sized for blue and green; (items, first VNet id, blue's node subnet id)."""
    by_vnet: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for subnet, need in sorted(_subnets(blue).items()):
        vnet = subnet.split("/subnets/")[0]
        by_vnet[vnet].append((subnet.rsplit("/", 1)[-1], need))
    items: list[dict[str, Any]] = []
    for index, (vnet, subnets) in enumerate(sorted(by_vnet.items())):
        space = ipaddress.ip_network(f"10.{240 + index}.0.0/16")
        cursor = int(space.network_address)
        bodies = []
        for name, need in subnets:
            length = min(SMALLEST_AKS_SUBNET, 32 - math.ceil(math.log2(need + network_usage.RESERVED_PER_SUBNET)))
            size = 2 ** (32 - length)
            cursor = -(-cursor // size) * size  # align the block to its size
            bodies.append({"name": name, "properties": {"addressPrefix": f"{ipaddress.ip_address(cursor)}/{length}"}})
            cursor += size
        location = str(blue.get("location", "eastus"))
        items.append(
            {
                "id": vnet,
                "name": vnet.rsplit("/", 1)[-1],
                "type": "Microsoft.Network/virtualNetworks",
                "location": location,
                "properties": {"addressSpace": {"addressPrefixes": [str(space)]}, "subnets": bodies},
            }
        )
    pools = _props(blue).get("agentPoolProfiles") or []
    node_subnet = next((str(p["vnetSubnetID"]) for p in pools if p.get("vnetSubnetID")), "")
    return items, (str(items[0]["id"]) if items else ""), node_subnet


def quota(blue: dict[str, Any], sub: str) -> dict[str, Any]:
    """Limits holding blue and a green twin at their max node counts with surge, plus headroom."""
    need: dict[str, int] = defaultdict(int)
    for pool in _props(blue).get("agentPoolProfiles") or []:
        size = vm_sizes.lookup(node_counts.vm_size(pool))
        vcpus = node_counts.nodes(_max_nodes(pool), True) * size.vcpus
        need["cores"] += vcpus
        if size.family:
            need[size.family] += vcpus
    limits = {name: max(100, math.ceil((2 * value + 16) / 10) * 10) for name, value in need.items()}
    return {
        "type": "emulator/computeQuota",
        "subscription": sub,
        "location": str(blue.get("location")),
        "limits": limits,
    }


def blue_wiring(blue: dict[str, Any], env: str, sub: str, rg: str) -> BlueWiring:
    blue_id, name = str(blue["id"]), str(blue["id"]).rstrip("/").rsplit("/", 1)[-1]
    location = str(blue.get("location", "eastus"))
    group = f"/subscriptions/{sub}/resourceGroups/{rg}/providers"
    items, vnet_id, subnet_id = network(blue)
    function_id = f"{group}/Microsoft.Web/sites/func-{env}-bluegreen/functions/aks_lifecycle_events"
    oms = ((_props(blue).get("addonProfiles") or {}).get("omsagent") or {}).get("config") or {}
    workspace = str(
        oms.get("logAnalyticsWorkspaceResourceID") or f"{group}/Microsoft.OperationalInsights/workspaces/log-{env}"
    )
    topic_id = f"{group}/Microsoft.EventGrid/systemTopics/{name}-events"
    action_group_id = f"{group}/microsoft.insights/actionGroups/ag-{env}-bluegreen"
    alert_id = f"{group}/microsoft.insights/metricAlerts/{name}-node-cpu"
    setting_id = f"{blue_id}/providers/microsoft.insights/diagnosticSettings/{name}-logs"
    health_alert_id = f"{group}/microsoft.insights/activityLogAlerts/{name}-health"
    items += [
        {"type": "emulator/resource", "id": function_id, "location": location},
        {"type": "emulator/resource", "id": workspace, "location": location},
        quota(blue, sub),
        {
            "id": topic_id,
            "name": topic_id.rsplit("/", 1)[-1],
            "type": "Microsoft.EventGrid/systemTopics",
            "location": location,
            "properties": {"source": blue_id, "topicType": AKS_TOPIC_TYPE},
        },
        {
            "id": f"{topic_id}/eventSubscriptions/bluegreen",
            "name": "bluegreen",
            "type": "Microsoft.EventGrid/systemTopics/eventSubscriptions",
            "properties": {
                "destination": {"endpointType": "AzureFunction", "properties": {"resourceId": function_id}},
                "filter": {"includedEventTypes": list(START_EVENTS)},
            },
        },
        {
            "id": action_group_id,
            "name": action_group_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Insights/actionGroups",
            "location": "Global",
            "properties": {
                "groupShortName": "bluegreen",
                "enabled": True,
                "webhookReceivers": [
                    {
                        "name": "rollback",
                        "serviceUri": f"https://func-{env}-bluegreen.azurewebsites.net/api/alerts",
                        "useCommonAlertSchema": True,
                    }
                ],
            },
        },
        {
            "id": alert_id,
            "name": alert_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Insights/metricAlerts",
            "location": "global",
            "properties": {
                "description": f"{name}: node CPU above 80%",
                "severity": 2,
                "enabled": True,
                "scopes": [blue_id],
                "evaluationFrequency": "PT5M",
                "windowSize": "PT15M",
                "criteria": {
                    "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                    "allOf": [
                        {
                            "criterionType": "StaticThresholdCriterion",
                            "name": "node-cpu",
                            "metricName": "node_cpu_usage_percentage",
                            "metricNamespace": "Microsoft.ContainerService/managedClusters",
                            "operator": "GreaterThan",
                            "threshold": 80,
                            "timeAggregation": "Average",
                        }
                    ],
                },
                "actions": [{"actionGroupId": action_group_id}],
            },
        },
        {
            "id": health_alert_id,
            "name": health_alert_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Insights/activityLogAlerts",
            "location": "Global",
            "properties": {
                "description": f"{name}: resource health degraded",
                "enabled": True,
                "scopes": [f"/subscriptions/{sub}/resourceGroups/{rg}"],
                "condition": {
                    "allOf": [
                        {"field": "category", "equals": "ResourceHealth"},
                        {"field": "resourceId", "equals": blue_id},
                    ]
                },
                "actions": {"actionGroups": [{"actionGroupId": action_group_id}]},
            },
        },
        {
            "id": setting_id,
            "name": setting_id.rsplit("/", 1)[-1],
            "type": "Microsoft.Insights/diagnosticSettings",
            "properties": {
                "workspaceId": workspace,
                "logs": [
                    {"category": category, "enabled": True}
                    for category in ("kube-audit-admin", "kube-apiserver", "guard")
                ],
                "metrics": [{"category": "AllMetrics", "enabled": True}],
            },
        },
    ]
    return BlueWiring(
        items,
        vnet_id=vnet_id,
        subnet_id=subnet_id,
        system_topic_id=topic_id,
        event_subscription_id=f"{topic_id}/eventSubscriptions/bluegreen",
        event_function_id=function_id,
        action_group_id=action_group_id,
        metric_alert_ids=(alert_id,),
        diagnostic_setting_ids=(setting_id,),
        workspace_id=workspace,
    )
