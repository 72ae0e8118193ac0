"""AKS's version views of a cluster: its upgrade profile, and the versions a region offers."""

from __future__ import annotations

from typing import Any

from local.azure_emulator.aks import MC, NS, Aks
from local.azure_emulator.catalogue import parse
from local.azure_emulator.protocol import SUB, Request, Response, Route, route


class AksProfiles:
    def __init__(self, aks: Aks) -> None:
        self.aks = aks
        self.world = aks.world

    def routes(self) -> list[Route]:
        return [
            route(
                "GET",
                MC + "/upgradeProfiles/default",
                self.upgrade_profile,
                f"{NS}/managedClusters/upgradeProfiles/read",
            ),
            route(
                "GET",
                SUB + "/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions",
                self.versions,
                f"{NS}/locations/kubernetesVersions/read",
            ),
        ]

    def upgrade_profile(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            cluster = self.aks.find(m)
            cat = self.world.catalogue
            current = str(cluster.props.get("currentKubernetesVersion"))

            def hops(versions: list[str]) -> list[dict[str, Any]]:
                return [
                    {"kubernetesVersion": v, **({"isPreview": True} if cat.is_preview(v) else {})} for v in versions
                ]

            pools = []
            for pool in cluster.pools():
                version = str(pool.get("currentOrchestratorVersion"))
                newer = [
                    v for m_ in cat.minors() for v in cat.patches(m_) if parse(version) < parse(v) <= parse(current)
                ]
                pools.append(
                    {
                        "name": pool["name"],
                        "kubernetesVersion": version,
                        "osType": pool.get("osType", "Linux"),
                        "upgrades": hops(newer),
                    }
                )
            body = {
                "id": cluster.id + "/upgradeprofiles/default",
                "name": "default",
                "type": "Microsoft.ContainerService/managedClusters/upgradeprofiles",
                "properties": {
                    "controlPlaneProfile": {
                        "kubernetesVersion": current,
                        "name": None,
                        "osType": "Linux",
                        "upgrades": hops(cat.upgrades(current)),
                    },
                    "agentPoolProfiles": pools,
                },
            }
            return Response(200, body)

    def versions(self, req: Request, m: dict[str, str]) -> Response:
        return Response(200, self.world.catalogue.versions_body())
