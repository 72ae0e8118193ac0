"""Microsoft.ManagedIdentity through the real ManagedServiceIdentityClient: user-assigned identities and their
federated identity credentials, with Entra's limits and answers."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.msi import ManagedServiceIdentityClient

from local.azure_emulator import AzureEmulator, Timings
from local.azure_emulator.managed_identity import identity_id
from local.clock import VirtualClock
from tests.emulator.conftest import RG, SUB
from tests.emulator.identity_helpers import (
    AUDIENCE,
    READER,
    RG_SCOPE,
    authz_client,
    error_message,
    grant,
    msi_client,
)

ISSUER = (
    "https://eastus2.oic.prod-aks.azure.com/72f988bf-0000-4000-8000-000000000002/5a0c1d2e-aaaa-4bbb-8ccc-1234567890ab/"
)


@pytest.fixture
def msi(emu: AzureEmulator, clock: VirtualClock) -> ManagedServiceIdentityClient:
    return msi_client(emu, clock)


@pytest.fixture
def authz(emu: AzureEmulator, clock: VirtualClock) -> AuthorizationManagementClient:
    return authz_client(emu, clock)


def fic(subject: str = "system:serviceaccount:web:api", issuer: str = ISSUER, **extra: Any) -> dict[str, Any]:
    return {"issuer": issuer, "subject": subject, "audiences": [AUDIENCE], **extra}


def test_an_identity_gets_its_ids_and_no_role(
    msi: ManagedServiceIdentityClient, authz: AuthorizationManagementClient
) -> None:
    created = msi.user_assigned_identities.create_or_update(
        RG, "id-nod-api", {"location": "eastus2", "tags": {"a": "b"}}
    )
    assert created.id == identity_id(SUB, RG, "id-nod-api")
    assert created.id.endswith(
        "/resourcegroups/rg-nod-prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-nod-api"
    )
    assert created.type == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert (created.location, created.tags) == ("eastus2", {"a": "b"})
    assert created.tenant_id == "72f988bf-0000-4000-8000-000000000002"
    assert created.principal_id != created.client_id
    again = msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    assert (again.principal_id, again.client_id) == (created.principal_id, created.client_id)  # an update keeps them
    assert [i.name for i in msi.user_assigned_identities.list_by_resource_group(RG)] == ["id-nod-api"]
    assert [i.name for i in msi.user_assigned_identities.list_by_subscription()] == ["id-nod-api"]
    assert list(authz.role_assignments.list_for_subscription(filter=f"principalId eq '{created.principal_id}'")) == []
    msi.user_assigned_identities.delete(RG, "id-nod-api")
    with pytest.raises(HttpResponseError) as exc:
        msi.user_assigned_identities.get(RG, "id-nod-api")
    assert exc.value.status_code == 404
    recreated = msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    assert recreated.principal_id != created.principal_id  # a new identity is a new principal
    assert recreated.client_id != created.client_id


def test_identity_ids_are_the_same_for_the_same_writes(clock: VirtualClock) -> None:
    ids = []
    for _ in range(2):
        with AzureEmulator(clock=VirtualClock()) as emu:
            made = msi_client(emu, clock).user_assigned_identities.create_or_update(RG, "id-x", {"location": "eastus2"})
            ids.append((made.principal_id, made.client_id))
    assert ids[0] == ids[1]


def test_an_identity_needs_a_location_and_a_valid_name(msi: ManagedServiceIdentityClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        msi.user_assigned_identities.create_or_update(RG, "id-no-location", {"tags": {}})
    assert exc.value.error.code == "LocationRequired"
    with pytest.raises(HttpResponseError) as exc:
        msi.user_assigned_identities.create_or_update(RG, "-bad", {"location": "eastus2"})
    assert exc.value.error.code == "InvalidResourceName"


def test_federated_credentials_are_written_read_listed_and_deleted(msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    ops = msi.federated_identity_credentials
    created = ops.create_or_update(RG, "id-nod-api", "aks-blue-web-api", fic())
    assert created.id.endswith("/userAssignedIdentities/id-nod-api/federatedIdentityCredentials/aks-blue-web-api")
    assert (created.issuer, created.subject, created.audiences) == (ISSUER, "system:serviceaccount:web:api", [AUDIENCE])
    assert created.type == "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials"
    updated = ops.create_or_update(RG, "id-nod-api", "aks-blue-web-api", fic(subject="system:serviceaccount:web:v2"))
    assert updated.subject == "system:serviceaccount:web:v2"
    assert [f.name for f in ops.list(RG, "id-nod-api")] == ["aks-blue-web-api"]
    assert ops.get(RG, "id-nod-api", "aks-blue-web-api").subject == "system:serviceaccount:web:v2"
    ops.delete(RG, "id-nod-api", "aks-blue-web-api")
    assert list(ops.list(RG, "id-nod-api")) == []


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        (
            "ok-name",
            fic(audiences=[AUDIENCE, "api://other"]),
            "Federated identity credentials must have exactly one audience.",
        ),
        ("ok-name", fic(audiences=[]), "Federated identity credentials must have exactly one audience."),
        ("ok-name", fic(audiences=["api://other"]), "must be 'api://AzureADTokenExchange'"),
        (
            "ok-name",
            {"issuer": ISSUER, "audiences": [AUDIENCE]},
            "Federated Identity Credential from HTTP body has empty properties",
        ),
        ("-starts-with-a-dash", fic(), "Federated Identity Credential name '-starts-with-a-dash' is invalid."),
        ("ab", fic(), "Federated Identity Credential name 'ab' is invalid."),
        ("ok-name", fic(subject="system:serviceaccount:web:*"), "Wildcard characters aren't supported"),
        ("ok-name", fic(subject="x" * 601), "exceeds 600 characters"),
    ],
    ids=["two-audiences", "no-audience", "other-audience", "no-subject", "name-dash", "name-short", "wildcard", "long"],
)
def test_entra_refuses_bad_federated_credentials(
    msi: ManagedServiceIdentityClient, name: str, body: dict[str, Any], message: str
) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    with pytest.raises(HttpResponseError) as exc:
        msi.federated_identity_credentials.create_or_update(RG, "id-nod-api", name, body)
    assert exc.value.status_code == 400
    assert message in error_message(exc)


def test_issuer_and_subject_are_unique_per_identity(msi: ManagedServiceIdentityClient) -> None:
    for identity in ("id-one", "id-two"):
        msi.user_assigned_identities.create_or_update(RG, identity, {"location": "eastus2"})
    ops = msi.federated_identity_credentials
    ops.create_or_update(RG, "id-one", "first", fic())
    with pytest.raises(HttpResponseError) as exc:
        ops.create_or_update(RG, "id-one", "second", fic())
    assert (exc.value.status_code, error_message(exc)) == (
        400,
        "Issuer and subject combination already exists for this Managed Identity.",
    )
    ops.create_or_update(RG, "id-two", "second", fic())  # another identity may trust the same pair


def test_an_identity_has_at_most_twenty_federated_credentials(msi: ManagedServiceIdentityClient) -> None:
    msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    ops = msi.federated_identity_credentials
    for n in range(20):
        ops.create_or_update(RG, "id-nod-api", f"sa-{n:02d}", fic(subject=f"system:serviceaccount:web:sa{n}"))
    with pytest.raises(HttpResponseError) as exc:
        ops.create_or_update(RG, "id-nod-api", "sa-20", fic(subject="system:serviceaccount:web:sa20"))
    assert exc.value.status_code == 400 and "(20)" in error_message(exc)
    ops.create_or_update(RG, "id-nod-api", "sa-00", fic(subject="system:serviceaccount:web:renamed"))  # an update fits


def test_a_credential_needs_its_parent_identity(msi: ManagedServiceIdentityClient) -> None:
    with pytest.raises(HttpResponseError) as exc:
        msi.federated_identity_credentials.create_or_update(RG, "id-missing", "fic-one", fic())
    assert (exc.value.status_code, error_message(exc)) == (404, "The parent user-assigned identity doesn't exist.")


def test_concurrent_writes_under_one_identity_are_409_conflict(clock: VirtualClock) -> None:
    emu = AzureEmulator(clock=clock, timings=replace(Timings.realistic(), fic_write_latency=0.4)).start()
    try:
        msi = msi_client(emu, clock)
        for identity in ("id-one", "id-two"):
            msi.user_assigned_identities.create_or_update(RG, identity, {"location": "eastus2"})
        outcomes: dict[str, Any] = {}

        def write(identity: str, name: str) -> None:
            try:
                msi_client(emu, clock).federated_identity_credentials.create_or_update(
                    RG, identity, name, fic(subject=f"system:serviceaccount:web:{name}")
                )
                outcomes[name] = 200
            except HttpResponseError as exc:
                outcomes[name] = (exc.status_code, exc.error.code if exc.error else None)

        threads = [threading.Thread(target=write, args=("id-one", "first"))]
        threads[0].start()
        in_flight = identity_id(SUB, RG, "id-one").lower()
        while not emu.world.directory.fic_writes.get(in_flight):
            threading.Event().wait(0.01)  # the first write is in flight
        threads += [
            threading.Thread(target=write, args=("id-one", "second")),  # the same identity: refused
            threading.Thread(target=write, args=("id-two", "third")),  # another identity: fine in parallel
        ]
        for thread in threads[1:]:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes == {"first": 200, "second": (409, "Conflict"), "third": 200}
        # One after another, both go through.
        write("id-one", "second")
        assert outcomes["second"] == 200
    finally:
        emu.stop()


def test_deleting_an_identity_deletes_its_credentials_and_its_grants_stop_mattering(
    msi: ManagedServiceIdentityClient, authz: AuthorizationManagementClient, emu: AzureEmulator
) -> None:
    made = msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    msi.federated_identity_credentials.create_or_update(RG, "id-nod-api", "fic-one", fic())
    assignment = grant(authz, RG_SCOPE, READER, made.principal_id, "ServicePrincipal")
    assert emu.has_role(made.principal_id, READER, RG_SCOPE)
    msi.user_assigned_identities.delete(RG, "id-nod-api")
    assert not emu.has_role(made.principal_id, READER, RG_SCOPE)
    # ARM keeps the assignment (the portal shows "Identity not found"); it grants nothing.
    assert authz.role_assignments.get(RG_SCOPE, assignment.name).principal_id == made.principal_id
    msi.user_assigned_identities.create_or_update(RG, "id-nod-api", {"location": "eastus2"})
    assert list(msi.federated_identity_credentials.list(RG, "id-nod-api")) == []
