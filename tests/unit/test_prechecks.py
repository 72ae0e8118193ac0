"""The arithmetic of the capacity checks: addresses per node by network plugin, surge nodes, max node counts."""

import pytest

from bluegreen.prechecks import addresses_per_node, pool_needs, surge_nodes


@pytest.mark.parametrize(
    ("network", "pool", "expected"),
    [
        ({"networkPlugin": "azure"}, {"maxPods": 110}, 111),  # flat Azure CNI: every pod takes a subnet address
        ({"networkPlugin": "azure"}, {}, 31),  # AKS's default maxPods for Azure CNI is 30
        ({"networkPlugin": "azure", "networkPluginMode": "overlay"}, {"maxPods": 250}, 1),
        ({"networkPlugin": "azure"}, {"maxPods": 110, "podSubnetID": "/x"}, 1),  # pods in their own subnet
        ({"networkPlugin": "kubenet"}, {"maxPods": 110}, 1),
    ],
)
def test_addresses_per_node_follow_the_network_plugin(network, pool, expected):
    assert addresses_per_node(network, pool) == expected


@pytest.mark.parametrize(("setting", "nodes", "expected"), [("33%", 12, 4), ("10%", 3, 1), ("2", 5, 2), (None, 5, 1)])
def test_surge_is_a_count_or_a_percentage_rounded_up(setting, nodes, expected):
    pool = {"upgradeSettings": {"maxSurge": setting}} if setting else {}
    assert surge_nodes(pool, nodes) == expected


def test_an_autoscaled_pool_needs_room_for_its_max_count():
    definition = {
        "properties": {
            "networkProfile": {"networkPlugin": "azure"},
            "agentPoolProfiles": [
                {"name": "user", "count": 4, "maxCount": 12, "enableAutoScaling": True, "maxPods": 30, "vmSize": "D8"},
                {"name": "sys", "count": 3, "maxCount": 99, "maxPods": 30, "vmSize": "D4"},  # not autoscaled
            ],
        }
    }
    user, system = pool_needs(definition)
    assert (user.nodes, user.max_nodes, user.surge, user.addresses_per_node) == (4, 12, 1, 31)
    assert (system.nodes, system.max_nodes) == (3, 3)
