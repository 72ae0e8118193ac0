"""Retention: a retired cluster stays, tagged, for `retire.retain_hours`; then the sweep deletes it.

The tags on the cluster are the only record (bluegreen/clusters.py: RETIRED_BY_TAG and its siblings), so
what an operator sees in the portal is what the sweep acts on: editing `bluegreen-retain-until` moves the
deletion, removing the tags keeps the cluster for good. Nothing here deletes a cluster whose tags do not
say this environment retired it, nor the cluster Front Door says is live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bluegreen.azure import AzureClients
from bluegreen.clusters import (
    ENVIRONMENT_TAG,
    ORIGIN_TAG,
    RETAIN_UNTIL_TAG,
    RETENTION_TAGS,
    RETIRED_AS_TAG,
    RETIRED_BY_TAG,
    Clusters,
    retained_of,
)
from bluegreen.config import Environment
from bluegreen.contract import MarkRetained, ReleaseRetained, RetainedCluster, Retention, SweepResult, Unwired
from bluegreen.errors import BlueGreenError, PermanentError
from bluegreen.inheritance import Federations, Grants
from bluegreen.slots import live_cluster_id, retained_in
from bluegreen.wiring import Wiring, records_of


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def expired(retained: RetainedCluster, now: datetime) -> bool:
    return parse_iso(retained.retained_until) <= now


def mark(clients: AzureClients, request: MarkRetained) -> Retention:
    """Tag a cluster as retained (its own tags kept). Done while it still runs: a stopped cluster takes no writes."""
    aks = Clusters(clients)
    body = aks.get(request.cluster_id)
    if body is None:
        return Retention()
    tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
    tags.update(
        {
            ENVIRONMENT_TAG: request.environment,
            ORIGIN_TAG: request.origin,
            RETIRED_BY_TAG: request.run_id,
            RETIRED_AS_TAG: request.retired_as,
            RETAIN_UNTIL_TAG: request.retained_until,
        }
    )
    if tags != (body.get("tags") or {}):
        body = aks.update_tags(request.cluster_id, tags)
    return Retention(retained=retained_of(body, request.environment))


def release(clients: AzureClients, request: ReleaseRetained) -> Retention:
    """Take the retention tags off a cluster that is live again, if the same run's tags are still there."""
    aks = Clusters(clients)
    body = aks.get(request.cluster_id)
    if body is None:
        return Retention()
    tags = {str(k): str(v) for k, v in (body.get("tags") or {}).items()}
    if tags.get(RETIRED_BY_TAG) != request.retired_by:
        return Retention()
    aks.update_tags(request.cluster_id, {k: v for k, v in tags.items() if k not in RETENTION_TAGS})
    return Retention()


def unbind(clients: AzureClients, body: dict[str, Any]) -> Unwired:
    """Remove what is bound to a cluster about to be deleted: its grants, federated credentials and wiring.

    Discovered, not taken from a record: what a failed attempt half-made is found and removed too.
    """
    plumbing, grants, federations = Wiring(clients), Grants(clients), Federations(clients)
    records = records_of(plumbing.of_cluster(str(body["id"]), str(body.get("name") or "")))
    records += federations.of_cluster(body) + grants.of_cluster(body)
    removed, failed = [], []
    for record in records:
        try:
            if record.kind == "role_assignment":
                grants.remove(record.id)
            elif record.kind == "federated_credential":
                federations.remove(record.id)
            else:
                plumbing.remove(record)
        except BlueGreenError as error:
            if error.temporary:
                raise  # retried on the activity's policy; what was removed is found gone next time
            failed.append(f"{record.id}: {error.code}")
            continue
        removed.append(record.id)
    return Unwired(removed=removed, failed=failed)


@dataclass(frozen=True)
class Slots:
    """An environment's clusters as Front Door and their tags show them."""

    live_id: str
    retained: list[RetainedCluster]


class Sweep:
    def __init__(self, clients: AzureClients) -> None:
        self.clients = clients
        self.clusters = Clusters(clients)

    def slots(self, env: Environment) -> Slots:
        return Slots(live_id=live_cluster_id(self.clients, env), retained=retained_in(self.clusters, env))

    def run(self, environments: Iterable[Environment], now: datetime, skip: Iterable[str] = ()) -> SweepResult:
        skipped_envs = {s.lower() for s in skip}
        deleting: list[RetainedCluster] = []
        retained: list[RetainedCluster] = []
        skipped: list[str] = []
        failed: list[str] = []
        for env in environments:
            if env.name.lower() in skipped_envs:
                skipped.append(f"{env.name}: a run is in progress")
                continue
            try:
                slots = self.slots(env)
            except BlueGreenError as error:
                if error.temporary:
                    raise
                failed.append(f"{env.name}: {error.code}: {error.message}")
                continue
            for cluster in slots.retained:
                if cluster.cluster_id.lower() == slots.live_id.lower():
                    skipped.append(f"{cluster.name}: live (Front Door sends it traffic)")
                elif not expired(cluster, now):
                    retained.append(cluster)
                elif cluster.provisioning_state == "Deleting":
                    deleting.append(cluster)
                else:
                    try:
                        self.delete(cluster)
                    except BlueGreenError as error:
                        if error.temporary:
                            raise
                        failed.append(f"{cluster.name}: {error.code}: {error.message}")
                        continue
                    deleting.append(cluster)
        return SweepResult(deleting=deleting, retained=retained, skipped=skipped, failed=failed)

    def delete(self, cluster: RetainedCluster) -> None:
        """Unbind and start deleting an expired retained cluster (not waited for: the next sweep sees it gone)."""
        body = self.clusters.get(cluster.cluster_id)
        if body is None:
            return
        current = retained_of(body, cluster.environment)
        if current is None or current.retired_by != cluster.retired_by:
            raise PermanentError("NoLongerRetained", f"{cluster.name}'s retention tags changed: left as it is")
        unbind(self.clients, body)
        self.clusters.start_delete(cluster.cluster_id)
