"""What is copied to green, and which protected settings blue's Flux configurations must have had."""

from __future__ import annotations

import pytest

from bluegreen.config import ConfigError, parse_environments
from bluegreen.errors import PermanentError
from bluegreen.workloads import check_protected_references, copyable_extensions, required_protected_keys

FD = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Cdn/profiles/afd"


def flux(name: str, **git: object) -> dict:
    return {"name": name, "properties": {"sourceKind": "GitRepository", "gitRepository": {"url": "https://x/r", **git}}}


@pytest.mark.parametrize(
    ("body", "keys"),
    [
        (flux("public"), []),
        (flux("https", httpsUser="git"), ["httpsKey"]),
        (flux("ssh", url="ssh://git@github.com/org/repo"), ["sshPrivateKey"]),
        (flux("scp", url="git@github.com:org/repo.git"), ["sshPrivateKey"]),
        (flux("keyless", httpsUser="git", provider="Azure"), []),
        (flux("local", url="ssh://git@x/r", localAuthRef="git-auth"), []),
        ({"name": "b", "properties": {"sourceKind": "Bucket", "bucket": {"accessKey": "AKIA"}}}, ["bucketSecretKey"]),
    ],
)
def test_protected_settings_blue_must_have_had(body, keys):
    assert required_protected_keys(body) == keys


def test_a_missing_protected_setting_is_named_before_any_write():
    with pytest.raises(PermanentError) as refused:
        check_protected_references([flux("private", httpsUser="git")], {})
    assert refused.value.code == "ProtectedSettingMissing"
    assert "workloads.protected_settings.private.httpsKey" in refused.value.message
    kv = "https://kv-team.vault.azure.net/secrets/git-token"
    check_protected_references([flux("private", httpsUser="git")], {"private": {"httpsKey": kv}})


def test_only_team_extensions_are_copied_and_flux_comes_first():
    extensions = [
        {"name": "dapr", "properties": {"extensionType": "Microsoft.Dapr"}},
        {"name": "flux", "properties": {"extensionType": "microsoft.flux"}},
        {"name": "backup", "managedBy": "/subscriptions/s/.../managedClusters/c", "properties": {"extensionType": "x"}},
        {"name": "system", "properties": {"extensionType": "y", "isSystemExtension": True}},
    ]
    assert [e["name"] for e in copyable_extensions(extensions)] == ["flux", "dapr"]


def _env(**workloads: object) -> dict:
    env = {
        "name": "shop",
        "clusters": {"subscription": "s", "resource_group": "rg", "names": ["aks-a", "aks-b"]},
        "front_door": {"id": FD, "origin_group": "og", "origins": ["a", "b"]},
        "workloads": workloads,
    }
    return {"environment": [env]}


def test_workloads_configuration_is_checked_field_by_field():
    assert parse_environments(_env()).environment[0].workloads.mode is None  # decided from blue at resolve
    with pytest.raises(ConfigError, match="workloads"):
        parse_environments(_env(mode="pipeline"))  # needs [workloads.pipeline]
    with pytest.raises(ConfigError, match="secret reference"):
        parse_environments(_env(protected_settings={"cfg": {"httpsKey": "hunter2"}}))  # a value, not a reference
    ok = parse_environments(
        _env(mode="pipeline", pipeline={"url": "https://ci.example/hook", "secret": "appsetting:PIPELINE_KEY"})
    )
    assert ok.environment[0].workloads.pipeline is not None
