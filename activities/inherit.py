"""Green inherits blue's grants, federated credentials and wiring; a cluster about to be deleted loses its own.

Every write here is idempotent (deterministic names, PUTs), so a retried activity converges. Removal
discovers what is bound to the cluster (its identities' grants, credentials on its issuer, wiring naming it)
rather than trusting a record: what a failed attempt half-made is found and removed too.
"""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, clusters, contract, errors, inheritance, wiring


@activity(bp)
def wire_green(request: contract.WireGreen) -> contract.Wired:
    client = azure.clients()
    aks = clusters.Clusters(client)
    green = aks.get(request.green_id)
    if green is None:
        raise errors.PermanentError("GreenNotFound", f"{request.green_id} does not exist")
    plan = request.inheritance
    created = inheritance.Grants(client).copy(plan.grants, green)
    created += inheritance.Federations(client).copy(plan.federations, green)
    if plan.wiring:
        blue = aks.get(request.blue_id)
        blue_name = str((blue or {}).get("name") or request.blue_id.rsplit("/", 1)[-1])
        wanted = {w.source_id.lower(): w for w in plan.wiring}
        # Read again now: webhook URLs (with their keys) never travel through the run's history.
        found = wiring.Wiring(client).of_cluster(request.blue_id, blue_name, str(green["name"]))
        twins = [t for t in found if t.item.source_id.lower() in wanted]
        gone = sorted(set(wanted) - {t.item.source_id.lower() for t in twins})
        if gone:
            raise errors.PermanentError("WiringGone", f"blue's wiring changed since the plan: {', '.join(gone)}")
        created += wiring.Wiring(client).copy(twins, request.blue_id, request.green_id, str(green["location"]))
    return contract.Wired(created=created)


@activity(bp)
def unwire_cluster(request: contract.ClusterTarget) -> contract.Unwired:
    """Remove what is bound to a cluster before it is deleted; a cluster not this run's is left alone."""
    client = azure.clients()
    body = clusters.Clusters(client).get(request.cluster_id)
    if body is None:
        return contract.Unwired(removed=[])
    if request.only_if_run is not None and (body.get("tags") or {}).get(clusters.RUN_TAG) != request.only_if_run:
        return contract.Unwired(removed=[])
    plumbing = wiring.Wiring(client)
    grants, federations = inheritance.Grants(client), inheritance.Federations(client)
    records = wiring.records_of(plumbing.of_cluster(request.cluster_id, str(body.get("name") or "")))
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
        except errors.BlueGreenError as error:
            if error.temporary:
                raise  # retried on the activity's policy; what was removed is found gone next time
            failed.append(f"{record.id}: {error.code}")
            continue
        removed.append(record.id)
    return contract.Unwired(removed=removed, failed=failed)
