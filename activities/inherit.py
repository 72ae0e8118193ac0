"""Green inherits blue's grants, federated credentials and wiring; a cluster about to be deleted loses its own.

Every write here is idempotent (deterministic names, PUTs), so a retried activity converges. Removal
discovers what is bound to the cluster (its identities' grants, credentials on its issuer, wiring naming it)
rather than trusting a record: what a failed attempt half-made is found and removed too.
"""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, clusters, contract, errors, inheritance, retention, wiring


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
    """Remove what is bound to a cluster before it is deleted; a cluster not the run's to delete is left alone."""
    client = azure.clients()
    body = clusters.Clusters(client).get(request.cluster_id)
    if body is None or clusters.guard_refusal(request, body) is not None:
        return contract.Unwired(removed=[])
    return retention.unbind(client, body)
