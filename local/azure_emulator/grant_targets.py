"""Container registries and key vaults: seeded resources that grants are about, readable through ARM.

The emulator models neither service beyond what access needs: a registry's login server (`{name}.azurecr.io`, its
`anonymousPullEnabled` and `roleAssignmentMode`), a vault's `vaultUri` and `enableRbacAuthorization`. They are
seeded (Seeder) and read with GET; writing them is not emulated.
"""

from __future__ import annotations

import copy

from local.azure_emulator.directory import REGISTRY_TYPE, VAULT_TYPE, Directory
from local.azure_emulator.errors import not_found
from local.azure_emulator.protocol import RG, Request, Response, Route, route
from local.azure_emulator.world import World

REGISTRY = RG + "/providers/Microsoft.ContainerRegistry/registries/{name}"
VAULT = RG + "/providers/Microsoft.KeyVault/vaults/{name}"


def registry_body(body: dict[str, object]) -> None:
    """Defaults a seeded registry gets: its login server and a provisioned state."""
    props = body.setdefault("properties", {})
    assert isinstance(props, dict)
    props.setdefault("loginServer", f"{str(body.get('name', '')).lower()}.azurecr.io")
    props.setdefault("provisioningState", "Succeeded")
    props.setdefault("anonymousPullEnabled", False)
    body.setdefault("type", REGISTRY_TYPE)


def vault_body(body: dict[str, object]) -> None:
    props = body.setdefault("properties", {})
    assert isinstance(props, dict)
    props.setdefault("vaultUri", f"https://{str(body.get('name', '')).lower()}.vault.azure.net/")
    props.setdefault("enableRbacAuthorization", True)
    props.setdefault("provisioningState", "Succeeded")
    body.setdefault("type", VAULT_TYPE)


class GrantTargets:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            route("GET", REGISTRY, self.get_registry, "Microsoft.ContainerRegistry/registries/read"),
            route("GET", VAULT, self.get_vault, "Microsoft.KeyVault/vaults/read"),
        ]

    def _get(self, m: dict[str, str], provider: str, rtype: str) -> Response:
        resource_id = f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}/providers/{provider}/{m['name']}"
        with self.world.lock:
            directory: Directory = self.world.directory
            body = directory.resources.get(resource_id.lower())
            if body is None:
                raise not_found(rtype, m["name"], m["rg"])
            return Response(200, copy.deepcopy(body))

    def get_registry(self, req: Request, m: dict[str, str]) -> Response:
        return self._get(m, "Microsoft.ContainerRegistry/registries", REGISTRY_TYPE)

    def get_vault(self, req: Request, m: dict[str, str]) -> Response:
        return self._get(m, "Microsoft.KeyVault/vaults", VAULT_TYPE)
