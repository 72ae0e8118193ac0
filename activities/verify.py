"""Verification activities: give green's origins their address, then check green from the inside and outside."""

from __future__ import annotations

from activities import bp
from activities._activity import activity
from bluegreen.lazy import azure, clusters, contract, decisions, errors, parity, traffic, verification, workloads


@activity(bp)
def prepare_green_origins(request: contract.GreenOriginsInput) -> contract.GreenOrigins:
    """Fixed addresses: nothing to do. Discovered: point green's (disabled) origins at green's ingress."""
    plan = request.traffic
    provider = traffic.plan_provider(azure.clients(), plan)
    hosts: dict[str, str] = {}
    changed: list[str] = []
    address: str | None = None
    for pair in plan.groups:
        origin = provider.read(pair.group).origin(pair.green)
        if origin is None:
            raise errors.PermanentError(
                "OriginNotFound", f"Front Door group {pair.group!r} has no origin {pair.green!r}"
            )
        if plan.green_address != "discover":
            hosts[pair.group] = origin.host
            continue
        if origin.enabled:
            raise errors.PermanentError(
                "GreenOriginLive", f"origin {pair.green!r} takes traffic; refusing to re-point it"
            )
        if address is None:
            result = clusters.Clusters(azure.clients()).run_command(request.cluster_id, verification.SERVICES_COMMAND)
            address = verification.ingress_address(result["logs"])
            if not address:
                raise errors.PermanentError(
                    "IngressNotFound", "green has no ingress LoadBalancer service with an address yet"
                )
        if origin.host != address:
            provider.set_host(pair.group, pair.green, address)
            changed.append(pair.group)
        hosts[pair.group] = address
    return contract.GreenOrigins(hosts=hosts, changed=changed)


@activity(bp)
def verify_green(request: contract.VerifyInput) -> contract.VerificationReport:
    """A verification report of green, with `problems` (empty when green may take traffic)."""
    client = azure.clients()
    aks = clusters.Clusters(client)
    body = aks.get(request.cluster_id)
    summary = clusters.summarize(body) if body else None
    nodes = deployments = report_parity = None
    if summary is not None and summary.power_state in (None, "Running"):
        nodes = verification.summarize_nodes(aks.run_command(request.cluster_id, verification.NODES_COMMAND)["logs"])
        green_workloads = aks.run_command(request.cluster_id, parity.WORKLOADS_COMMAND)["logs"]
        deployments = verification.summarize_deployments(green_workloads)
        if request.blue_id is not None:
            report_parity = _parity(aks, client, request, green_workloads)
    provider = traffic.plan_provider(client, request.traffic)
    origins = {
        pair.group: origin
        for pair in request.traffic.groups
        if (origin := provider.read(pair.group).origin(pair.green)) is not None
    }
    smoke = None
    if request.smoke.enabled:
        # Every group's green host (each may be another application): the first that fails is the verdict.
        for host in dict.fromkeys(o.host for o in origins.values() if o.host):
            url, verify_tls = verification.probe_target(host, request.smoke.path, request.smoke.scheme, client.settings)
            smoke = verification.smoke_probe(
                url, request.smoke.expected_status, request.smoke.timeout_seconds, verify_tls
            )
            if not smoke.ok:
                break
    report = contract.VerificationReport(
        cluster=summary, nodes=nodes, deployments=deployments, parity=report_parity, origins=origins, smoke=smoke
    )
    problems = decisions.verification_problems(report, request.target_version)
    return report.model_copy(update={"problems": problems, "passed": not problems})


def _parity(
    aks: clusters.Clusters, client: azure.AzureClients, request: contract.VerifyInput, green_workloads: str
) -> contract.ParityReport:
    """Green against blue from the inside (run command on both), and green's Flux configurations."""
    assert request.blue_id is not None
    system = set(request.system_namespaces)

    def inventory(cluster_id: str, workload_logs: str | None = None) -> parity.Inventory:
        logs = workload_logs or aks.run_command(cluster_id, parity.WORKLOADS_COMMAND)["logs"]
        namespaces = aks.run_command(cluster_id, parity.NAMESPACES_COMMAND)["logs"]
        services = aks.run_command(cluster_id, parity.SERVICES_COMMAND)["logs"]
        return parity.inventory(logs, namespaces, services, system)

    configurations = workloads.Configurations(client)
    states = [configurations.state(request.cluster_id, workloads.FLUX, name) for name in request.flux_configurations]
    not_compliant = [
        f"{s.name} ({s.compliance_state or s.provisioning_state})" for s in states if s.compliance_state != "Compliant"
    ]
    return parity.compare(inventory(request.blue_id), inventory(request.cluster_id, green_workloads), not_compliant)
