"""What green inherits from blue beyond its definition: the grants and federated credentials of blue's identities.

AKS gives every new cluster its own identities: a system-assigned cluster identity, an AKS-managed kubelet
identity in the node resource group, one identity per add-on that needs one. Blue's grants (AcrPull on the
registry, Key Vault Secrets User on the vault, Network Contributor on the subnet...) name blue's principals, so
green's identities get none of them. Workload identity has the same gap one level up: each user-assigned
identity trusts blue's OIDC issuer through a federated credential, and green's issuer is new.
(shared/reference/azure-more.md (d), (e).)

The rules: the same role on the same scope for the identity that replaces blue's (a grant on blue itself becomes
the same grant on green; grants inside blue's node resource group are AKS's business and are not copied; nothing
is ever granted on a scope blue did not have). One twin credential per credential on blue's issuer, with the same
subject and audiences, checked against the 20-per-identity limit before anything is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bluegreen.arm_ids import ResourceId, retarget, same_resource, subscription_of, twin_name
from bluegreen.azure import AzureClients
from bluegreen.contract import Check, FederationToCopy, GrantToCopy, Inherited
from bluegreen.errors import PermanentError, TemporaryError, classify
from bluegreen.green import carries_kubelet_identity

# At most 20 federated identity credentials per user-assigned identity (Entra workload identity federation
# considerations; azure-more.md (e)).
FEDERATED_CREDENTIALS_PER_IDENTITY = 20
# Role assignment names are GUIDs: one derived from (principal, role, scope) makes a retried copy idempotent.
_ASSIGNMENT_NAMESPACE = uuid.UUID("b1e6f1d2-7c1a-4c0e-9d5e-2f6a1b3c4d5e")


# Built-in roles a cluster's identities commonly hold, by id: the plan names them (any other shows its id).
BUILT_IN_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "4d97b98b-1d4f-4787-a291-c67834d212e7": "Network Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "f1a07417-d97a-45cb-824c-7a7467783830": "Managed Identity Operator",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
}


def role_label(role_definition_id: str) -> str:
    """A built-in role's name (AcrPull), else the role's id."""
    return BUILT_IN_ROLES.get(_role_guid(role_definition_id), role_definition_id)


@dataclass(frozen=True)
class ClusterIdentities:
    """The identities AKS made for one cluster, by role (cluster | kubelet | addon:<name>), and its OIDC issuer.

    A bring-your-own identity (a user-assigned cluster identity, a pre-created kubelet identity that green keeps:
    bluegreen.green.carries_kubelet_identity) is carried to green as it is: its grants already apply, so it is
    not listed here.
    """

    principals: dict[str, str]  # role -> object (principal) id
    issuer: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> ClusterIdentities:
        props = body.get("properties") or {}
        principals: dict[str, str] = {}
        identity = body.get("identity") or {}
        if str(identity.get("type", "")).lower() == "systemassigned" and identity.get("principalId"):
            principals["cluster"] = str(identity["principalId"])
        kubelet = (props.get("identityProfile") or {}).get("kubeletidentity") or {}
        if kubelet.get("objectId") and not carries_kubelet_identity(body):
            principals["kubelet"] = str(kubelet["objectId"])
        for name, addon in sorted((props.get("addonProfiles") or {}).items()):
            object_id = ((addon or {}).get("identity") or {}).get("objectId")
            if (addon or {}).get("enabled") and object_id:
                principals[f"addon:{name}"] = str(object_id)
        oidc = props.get("oidcIssuerProfile") or {}
        issuer = oidc.get("issuerURL") or oidc.get("issuerUrl") if oidc.get("enabled") else None
        return cls(principals, str(issuer) if issuer else None)


def _in_group(resource_id: Any, group: Any) -> bool:
    return bool(resource_id and group and f"/resourcegroups/{str(group).lower()}/" in str(resource_id).lower())


def same_issuer(a: str | None, b: str | None) -> bool:
    # Issuer URLs carry a trailing slash; a credential may have been written with or without it.
    return bool(a and b and a.rstrip("/").lower() == b.rstrip("/").lower())


def _role_guid(role_definition_id: str) -> str:
    # Responses give role ids at the tenant root although writes may name them under a subscription (azure-more (d)).
    return role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower()


def assignment_name(principal: str, role_definition_id: str, scope: str) -> str:
    key = f"{principal.lower()}|{_role_guid(role_definition_id)}|{scope.rstrip('/').lower()}"
    return str(uuid.uuid5(_ASSIGNMENT_NAMESPACE, key))


class Grants:
    """Role assignments through azure-mgmt-authorization."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def held_by(self, subscription: str, principal: str) -> list[dict[str, Any]]:
        """Every role assignment of one principal at, above or below the subscription."""
        try:
            found = self._clients.authorization(subscription).role_assignments.list_for_subscription(
                filter=f"principalId eq '{principal}'"
            )
            return [a.as_dict() for a in found]
        except Exception as exc:
            raise classify(exc) from exc

    def to_copy(self, blue: dict[str, Any], green_id: str) -> list[GrantToCopy]:
        """Blue's grants that green's own identities need: same role, same scope (blue itself -> green)."""
        blue_id = str(blue["id"])
        props = blue.get("properties") or {}
        node_group = str(props.get("nodeResourceGroup") or "")
        subscription = ResourceId.parse(blue_id).subscription
        grants = []
        for role, principal in ClusterIdentities.of(blue).principals.items():
            for assignment in self.held_by(subscription, principal):
                scope = str(assignment.get("scope") or "")
                if _in_group(scope + "/", node_group):
                    continue  # AKS grants green's identities what they need in green's own node resource group
                grants.append(
                    GrantToCopy(
                        identity=role,
                        role_definition_id=str(assignment["role_definition_id"]),
                        scope=retarget(scope, blue_id, green_id),
                        blue_principal=principal,
                        blue_assignment=str(assignment["id"]),
                        condition=assignment.get("condition") or None,
                        condition_version=assignment.get("condition_version") or None,
                    )
                )
        return grants

    def copy(self, grants: Iterable[GrantToCopy], green: dict[str, Any]) -> list[Inherited]:
        """Create each grant for green's identity. One already there (a retry, or a grant made by hand) counts."""
        from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

        principals = ClusterIdentities.of(green).principals
        subscription = ResourceId.parse(str(green["id"])).subscription
        client = self._clients.authorization(subscription).role_assignments
        created = []
        for grant in grants:
            principal = principals.get(grant.identity)
            if principal is None:
                raise PermanentError(
                    "GreenIdentityMissing", f"green has no {grant.identity} identity to grant {grant.scope} to"
                )
            name = assignment_name(principal, grant.role_definition_id, grant.scope)
            parameters = RoleAssignmentCreateParameters(
                role_definition_id=grant.role_definition_id,
                principal_id=principal,
                # A just-created managed identity: naming its type avoids PrincipalNotFound while the directory
                # replicates (azure-more.md (d)).
                principal_type="ServicePrincipal",
                condition=grant.condition,
                condition_version=grant.condition_version,
                description=f"bluegreen: copied from {grant.blue_assignment}",
            )
            try:
                assignment = client.create(grant.scope, name, parameters)
                assignment_id = str(assignment.id)
            except Exception as exc:
                error = classify(exc)
                if error.code == "RoleAssignmentExists":
                    assignment_id = self._existing(subscription, principal, grant) or f"{grant.scope}/{name}"
                elif error.code == "PrincipalNotFound":
                    raise TemporaryError(error.code, error.message) from exc  # replication: retry later
                else:
                    raise error from exc
            created.append(Inherited(kind="role_assignment", id=assignment_id, twin_of=grant.blue_assignment))
        return created

    def _existing(self, subscription: str, principal: str, grant: GrantToCopy) -> str | None:
        for assignment in self.held_by(subscription, principal):
            if same_resource(str(assignment.get("scope") or ""), grant.scope) and _role_guid(
                str(assignment["role_definition_id"])
            ) == _role_guid(grant.role_definition_id):
                return str(assignment["id"])
        return None

    def of_cluster(self, body: dict[str, Any]) -> list[Inherited]:
        """Every grant a cluster's own identities hold: what is left behind when the cluster is deleted."""
        subscription = ResourceId.parse(str(body["id"])).subscription
        node_group = str((body.get("properties") or {}).get("nodeResourceGroup") or "")
        return [
            Inherited(kind="role_assignment", id=str(a["id"]))
            for principal in ClusterIdentities.of(body).principals.values()
            for a in self.held_by(subscription, principal)
            if not _in_group(str(a.get("scope") or "") + "/", node_group)  # deleted with the node resource group
        ]

    def remove(self, assignment_id: str) -> None:
        subscription = subscription_of(assignment_id)
        try:
            self._clients.authorization(subscription).role_assignments.delete_by_id(assignment_id)
        except Exception as exc:
            error = classify(exc)
            if error.status != 404:
                raise error from exc


class Federations:
    """Federated identity credentials of user-assigned identities, through azure-mgmt-msi."""

    def __init__(self, clients: AzureClients) -> None:
        self._clients = clients

    def _identities(self, subscription: str) -> list[str]:
        try:
            found = self._clients.identities(subscription).user_assigned_identities.list_by_subscription()
            return [str(i.id) for i in found]
        except Exception as exc:
            raise classify(exc) from exc

    def _credentials(self, identity_id: str) -> list[dict[str, Any]]:
        rid = ResourceId.parse(identity_id)
        try:
            found = self._clients.identities(rid.subscription).federated_identity_credentials.list(
                rid.resource_group, rid.name
            )
            return [c.as_dict() for c in found]
        except Exception as exc:
            raise classify(exc) from exc

    def on_issuer(self, subscription: str, issuer: str | None) -> dict[str, list[dict[str, Any]]]:
        """Identity id -> all its credentials, for each identity with at least one on `issuer`."""
        if not issuer:
            return {}
        found = {}
        for identity_id in self._identities(subscription):
            credentials = self._credentials(identity_id)
            if any(same_issuer(c.get("issuer"), issuer) for c in credentials):
                found[identity_id] = credentials
        return found

    def to_copy(self, blue: dict[str, Any], green_name: str) -> tuple[list[FederationToCopy], list[Check]]:
        """A twin for each credential on blue's issuer, and the check that every identity can take its twins."""
        issuer = ClusterIdentities.of(blue).issuer
        subscription = ResourceId.parse(str(blue["id"])).subscription
        twins: list[FederationToCopy] = []
        full: list[str] = []
        for identity_id, credentials in self.on_issuer(subscription, issuer).items():
            on_blue = [c for c in credentials if same_issuer(c.get("issuer"), issuer)]
            if len(credentials) + len(on_blue) > FEDERATED_CREDENTIALS_PER_IDENTITY:
                full.append(
                    f"{ResourceId.parse(identity_id).name} has {len(credentials)} and needs {len(on_blue)} more"
                )
            twins += [
                FederationToCopy(
                    identity_id=identity_id,
                    name=str(c["name"]),
                    subject=str(c["subject"]),
                    audiences=[str(a) for a in c.get("audiences") or []],
                    twin_name=twin_name(str(c["name"]), str(blue["name"]), green_name, limit=120),
                )
                for c in on_blue
            ]
        if full:
            check = Check(
                name="FederatedCredentialLimit",
                status="block",
                detail=f"at most {FEDERATED_CREDENTIALS_PER_IDENTITY} federated credentials per identity: "
                + "; ".join(full)
                + " (delete unused credentials, or retire the previous green first)",
            )
        else:
            check = Check(
                name="FederatedCredentialLimit",
                status="ok",
                detail=f"{len(twins)} twin credential(s) for green's issuer fit every identity's limit",
            )
        return twins, [check]

    def copy(self, federations: Iterable[FederationToCopy], green: dict[str, Any]) -> list[Inherited]:
        """Twins on green's issuer, one after another (two writes on one identity at once get 409, azure-more (e))."""
        from azure.mgmt.msi.models import FederatedIdentityCredential

        issuer = ClusterIdentities.of(green).issuer
        if not issuer:
            raise PermanentError(
                "GreenIssuerMissing", "green has no OIDC issuer: its workload identities get no tokens"
            )
        created = []
        for twin in federations:
            rid = ResourceId.parse(twin.identity_id)
            body = FederatedIdentityCredential(issuer=issuer, subject=twin.subject, audiences=twin.audiences)
            try:
                credential = self._clients.identities(rid.subscription).federated_identity_credentials.create_or_update(
                    rid.resource_group, rid.name, twin.twin_name, body
                )
            except Exception as exc:
                raise classify(exc) from exc
            created.append(
                Inherited(kind="federated_credential", id=str(credential.id), twin_of=f"{twin.identity_id}/{twin.name}")
            )
        return created

    def of_cluster(self, body: dict[str, Any]) -> list[Inherited]:
        """The credentials that trust a cluster's issuer: useless once the cluster is deleted."""
        issuer = ClusterIdentities.of(body).issuer
        subscription = ResourceId.parse(str(body["id"])).subscription
        return [
            Inherited(kind="federated_credential", id=str(c["id"]))
            for credentials in self.on_issuer(subscription, issuer).values()
            for c in credentials
            if same_issuer(c.get("issuer"), issuer)
        ]

    def remove(self, credential_id: str) -> None:
        rid = ResourceId.parse(credential_id)
        (_, identity), (_, name) = rid.segments[-2], rid.segments[-1]
        try:
            self._clients.identities(rid.subscription).federated_identity_credentials.delete(
                rid.resource_group, identity, name
            )
        except Exception as exc:
            error = classify(exc)
            if error.status != 404:
                raise error from exc
