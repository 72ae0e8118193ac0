"""The app's custom role (infra/roles/bluegreen-operator.json) against what the app was seen doing.

Every ARM request in the emulated Azure's log names its operation (the RBAC action ARM checks for it).
Status polls of long-running operations are logged as `operationStatus/read`; the action ARM checks for
them is the provider's own, read off the path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROLE_FILE = Path(__file__).resolve().parents[2] / "infra" / "roles" / "bluegreen-operator.json"

# GET .../providers/{namespace}/locations/{location}/operations/{id}: the provider's operation-status action.
STATUS_ACTIONS = {
    "microsoft.containerservice": "Microsoft.ContainerService/locations/operations/read",
    "microsoft.eventgrid": "Microsoft.EventGrid/locations/operationsStatus/read",
}
# Granted by the Role Based Access Control Administrator assignment whose ABAC condition allows only the
# roles blue's identities hold (infra/app/role.bicep), never by the custom role.
CONDITIONED = {"microsoft.authorization/roleassignments/write", "microsoft.authorization/roleassignments/delete"}
# Actions ARM checks without a request of their own, or on code paths the rehearsals do not take: each with
# the source that needs it (a string that must be found there) and why.
NOT_IN_THE_LOG = {
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action": (
        "bluegreen/green.py",
        "UserAssigned",
        "linked access check on a cluster PUT that names a user-assigned identity (blue's, or its kubelet identity)",
    ),
    "Microsoft.Network/virtualNetworks/subnets/join/action": (
        "bluegreen/green.py",
        "vnetSubnetID",
        "linked access check on a cluster PUT that places node pools in a subnet",
    ),
    "Microsoft.EventGrid/systemTopics/eventSubscriptions/getFullUrl/action": (
        "bluegreen/wiring.py",
        "get_full_url",
        "a webhook subscription's URL (with its key) is read only when green's twin is written",
    ),
    "Microsoft.KeyVault/vaults/secrets/getSecret/action": (
        "bluegreen/secrets.py",
        "get_secret",
        "Key Vault references: workloads.protected_settings, clusters.service_principal_secret (data plane)",
    ),
}


def role() -> dict[str, Any]:
    return json.loads(ROLE_FILE.read_text())


def granted(definition: dict[str, Any]) -> set[str]:
    return {a.lower() for a in definition["Actions"] + definition["DataActions"]}


def needed_action(entry: dict[str, Any]) -> str:
    """The RBAC action ARM checks for one logged request."""
    operation = str(entry.get("operation") or "")
    if operation == "operationStatus/read":
        match = re.search(r"/providers/([^/]+)/locations/[^/]+/operation", str(entry["path"]), re.IGNORECASE)
        assert match, entry["path"]
        return STATUS_ACTIONS[match.group(1).lower()]
    return operation


def actions_seen(log: list[dict[str, Any]]) -> set[str]:
    return {needed_action(e) for e in log if str(e.get("path", "")).startswith("/subscriptions/")}
