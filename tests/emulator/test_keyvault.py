"""Key Vault secrets through the real SecretClient: the challenge flow, Key Vault's bodies and errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from local.azure_emulator import AzureEmulator
from local.clock import VirtualClock
from tests.emulator.conftest import RG, SUB, StaticToken, client_kwargs

VAULT = "kv-nod-prod"
SECRET_ID = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.KeyVault/vaults/{VAULT}/secrets"


def secret(name: str, value: str) -> dict[str, object]:
    return {"type": "Microsoft.KeyVault/vaults/secrets", "id": f"{SECRET_ID}/{name}", "properties": {"value": value}}


@pytest.fixture
def vault(emu: AzureEmulator) -> AzureEmulator:
    emu.seed([secret("flux-https-key", "ghp_first"), secret("flux-https-key", "ghp_second")])
    return emu


@pytest.fixture
def secrets(vault: AzureEmulator, clock: VirtualClock) -> Iterator[SecretClient]:
    # The emulator is not *.vault.azure.net: the client must not insist that the challenge's resource
    # (https://vault.azure.net) matches the vault's domain. Set verify_challenge_resource=False where the app maps
    # https://{vault}.vault.azure.net to {arm_endpoint}/_keyvault/{vault}.
    client = SecretClient(
        f"{vault.arm_endpoint}/_keyvault/{VAULT}",
        StaticToken(),
        verify_challenge_resource=False,
        **client_kwargs(vault, clock),
    )
    yield client
    client.close()


def test_secret_client_reads_the_latest_version_and_a_given_one(vault: AzureEmulator, secrets: SecretClient) -> None:
    latest = secrets.get_secret("flux-https-key")
    assert latest.value == "ghp_second"
    assert latest.properties.vault_url == f"https://{VAULT}.vault.azure.net"
    assert latest.id.startswith(f"https://{VAULT}.vault.azure.net/secrets/flux-https-key/")
    assert latest.properties.enabled is True
    first_version = vault.world.secrets[f"{VAULT}/flux-https-key"][0].version
    first = secrets.get_secret("FLUX-HTTPS-KEY", first_version)  # names are case-insensitive
    assert (first.value, first.properties.version) == ("ghp_first", first_version)
    with pytest.raises(ResourceNotFoundError):
        secrets.get_secret("flux-https-key", "0" * 32)


def test_an_unknown_secret_is_secret_not_found(secrets: SecretClient) -> None:
    with pytest.raises(ResourceNotFoundError) as exc:
        secrets.get_secret("nope")
    assert exc.value.status_code == 404 and exc.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) nope was not found in this key vault." in exc.value.error.message


def test_an_unauthenticated_request_gets_key_vaults_challenge(vault: AzureEmulator) -> None:
    url = f"{vault.arm_endpoint}/_keyvault/{VAULT}/secrets/flux-https-key"
    answer = requests.get(url, params={"api-version": "7.6"}, verify=vault.ca_bundle, timeout=5)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        'Bearer authorization="https://login.microsoftonline.com/72f988bf-0000-4000-8000-000000000002", '
        'resource="https://vault.azure.net"'
    )
    assert answer.json()["error"]["code"] == "Unauthorized"
    authed = requests.get(url, headers={"Authorization": "Bearer t"}, verify=vault.ca_bundle, timeout=5).json()
    assert set(authed) == {"value", "id", "attributes"} and authed["value"] == "ghp_second"
    assert authed["attributes"]["recoveryLevel"] == "Recoverable+Purgeable"


def test_the_client_refuses_the_challenge_unless_told_the_domain_differs(
    vault: AzureEmulator, clock: VirtualClock
) -> None:
    strict = SecretClient(f"{vault.arm_endpoint}/_keyvault/{VAULT}", StaticToken(), **client_kwargs(vault, clock))
    with pytest.raises(ValueError, match="verify_challenge_resource=False"):
        strict.get_secret("flux-https-key")


def test_key_vault_is_not_arm(vault: AzureEmulator, secrets: SecretClient) -> None:
    vault.inject_fault(status=500, count=5)  # ARM faults do not reach the Key Vault data plane
    assert secrets.get_secret("flux-https-key").value == "ghp_second"
    assert vault.requests() == []  # nor its request log
    vault.clear_faults()
