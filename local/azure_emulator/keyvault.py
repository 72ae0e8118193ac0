"""Key Vault secrets, data plane: GET {arm_endpoint}/_keyvault/{vault}/secrets/{name}[/{version}].

The app maps https://{vault}.vault.azure.net to {arm_endpoint}/_keyvault/{vault} in emulated mode. As Key Vault:
- a request without a bearer token gets 401 with `WWW-Authenticate: Bearer authorization="<authority>/<tenant>",
  resource="https://vault.azure.net"` ("When an access token is not supplied ... an HTTP 401 error will be
  returned to the client and will include the WWW-Authenticate header", learn.microsoft.com/azure/key-vault/general/
  authentication-requests-and-responses; the full header a vault sends, in MSAL.NET's wiki "WWW-Authenticate
  parameters"), body code Unauthorized (learn.microsoft.com/azure/key-vault/general/rest-error-codes, 401);
- the secret's body is {value, id, attributes} with `id` https://{vault}.vault.azure.net/secrets/{name}/{version}
  (SPEC keyvault/data-plane/Microsoft.KeyVault/stable/7.6/examples/GetSecret-example.json);
- an unknown secret (or version) is 404 SecretNotFound "A secret with (name/id) <name> was not found in this key
  vault. ..." (Key Vault's answer, as recorded in the Azure SDKs' troubleshooting guides).

The SecretClient checks that the challenge's resource matches the vault's domain; the emulator is not
*.vault.azure.net, so the client needs `verify_challenge_resource=False`. Not ARM: these requests are not in the
request log and take no injected ARM faults. Names are case-insensitive; any bearer token is accepted.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.azure_emulator.protocol import Request, Response
from local.azure_emulator.world import World

PREFIX = "/_keyvault/"
SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets"
TENANT = "72f988bf-0000-4000-8000-000000000002"
AUTHORITY = "https://login.microsoftonline.com"
RESOURCE = "https://vault.azure.net"
_PATH = re.compile(r"^(?P<vault>[^/]+)/secrets/(?P<name>[^/]+)(?:/(?P<version>[^/]*))?/?$", re.IGNORECASE)
_BEARER = re.compile(r"^Bearer\s+\S+", re.IGNORECASE)


@dataclass
class SecretVersion:
    vault: str
    name: str
    value: str
    version: str
    created: datetime
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    enabled: bool = True

    def body(self) -> dict[str, Any]:
        stamp = int(self.created.timestamp()) if self.created.year > 1970 else 0
        body: dict[str, Any] = {
            "value": self.value,
            "id": f"https://{self.vault}.vault.azure.net/secrets/{self.name}/{self.version}",
            "attributes": {
                "enabled": self.enabled,
                "created": stamp,
                "updated": stamp,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
        }
        if self.content_type:
            body["contentType"] = self.content_type
        if self.tags:
            body["tags"] = dict(self.tags)
        return body


def add_secret(world: World, vault: str, name: str, props: dict[str, Any], now: datetime) -> SecretVersion:
    key = f"{vault}/{name}".lower()
    versions = world.secrets.setdefault(key, [])
    version = uuid.uuid5(uuid.NAMESPACE_URL, f"{key}#{len(versions)}").hex
    attributes = props.get("attributes") or {}
    secret = SecretVersion(
        vault.lower(),
        name,
        str(props.get("value", "")),
        version,
        now,
        props.get("contentType"),
        dict(props.get("tags") or {}),
        bool(attributes.get("enabled", True)),
    )
    versions.append(secret)
    return secret


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {"error": {"code": code, "message": message}}, headers or {})


def handle(world: World, request: Request) -> Response:
    rest = request.path[len(PREFIX) :]
    if not _BEARER.match(request.headers.get("authorization", "")):
        challenge = f'Bearer authorization="{AUTHORITY}/{TENANT}", resource="{RESOURCE}"'
        return _error(
            401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", {"WWW-Authenticate": challenge}
        )
    match = _PATH.match(rest)
    if request.method != "GET" or match is None:
        return _error(
            400,
            "BadParameter",
            "The emulated Key Vault answers GET .../secrets/{name}[/{version}], "
            f"not {request.method} {request.path}.",
        )
    vault, name, version = match.group("vault"), match.group("name"), match.group("version") or ""
    with world.lock:
        versions = world.secrets.get(f"{vault}/{name}".lower(), [])
        found = (
            next((v for v in versions if v.version == version), None)
            if version
            else (versions[-1] if versions else None)
        )
    if found is None or not found.enabled:
        shown = f"{name}/{version}" if version else name
        return _error(
            404 if found is None else 403,
            "SecretNotFound" if found is None else "Forbidden",
            f"A secret with (name/id) {shown} was not found in this key vault. If you recently deleted this secret "
            "you may be able to recover it using the correct recovery command. For help resolving this issue, "
            "please see https://go.microsoft.com/fwlink/?linkid=2125182"
            if found is None
            else "Operation get is not allowed on a disabled secret.",
        )
    return Response(200, found.body())
