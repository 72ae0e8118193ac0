"""Parity from kubectl output: green must run what blue runs outside the system namespaces."""

from __future__ import annotations

import json

from bluegreen.config import DEFAULT_SYSTEM_NAMESPACES
from bluegreen.contract import ClusterSummary, VerificationReport
from bluegreen.decisions import verification_problems
from bluegreen.parity import MAX_LISTED, compare, describe, inventory

SYSTEM = set(DEFAULT_SYSTEM_NAMESPACES)


def workload(kind: str, namespace: str, name: str, desired: int, ready: int) -> dict:
    status = (
        {"desiredNumberScheduled": desired, "numberAvailable": ready}
        if kind == "DaemonSet"
        else {"availableReplicas" if kind == "Deployment" else "readyReplicas": ready}
    )
    spec = {} if kind == "DaemonSet" else {"replicas": desired}
    return {"kind": kind, "metadata": {"namespace": namespace, "name": name}, "spec": spec, "status": status}


def as_list(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def namespaces(*names: str) -> str:
    return as_list([{"kind": "Namespace", "metadata": {"name": n}} for n in names])


def lb(namespace: str, name: str, ip: str | None) -> dict:
    ingress = [{"ip": ip}] if ip else []
    return {
        "kind": "Service",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"type": "LoadBalancer"},
        "status": {"loadBalancer": {"ingress": ingress}},
    }


BLUE = inventory(
    as_list(
        [
            workload("Deployment", "web", "frontend", 3, 3),
            workload("Deployment", "web", "api", 2, 2),
            workload("StatefulSet", "web", "cache", 1, 1),
            workload("DaemonSet", "logging", "shipper", 4, 4),
            workload("Deployment", "kube-system", "coredns", 2, 2),
        ]
    ),
    namespaces("web", "logging", "kube-system", "default"),
    as_list([lb("ingress-nginx", "controller", "20.1.2.3"), lb("kube-system", "internal", "10.0.0.1")]),
    SYSTEM,
)


def test_an_identical_green_is_in_parity_and_system_namespaces_are_left_out():
    green = inventory(
        as_list(
            [
                workload("Deployment", "web", "frontend", 3, 3),
                workload("Deployment", "web", "api", 2, 2),
                workload("StatefulSet", "web", "cache", 1, 1),
                workload("DaemonSet", "logging", "shipper", 3, 3),  # fewer nodes, all available: fine
                workload("Deployment", "kube-system", "metrics-server", 1, 1),
            ]
        ),
        namespaces("web", "logging", "kube-system"),
        as_list([lb("ingress-nginx", "controller", "20.9.9.9")]),
        SYSTEM,
    )
    report = compare(BLUE, green)
    assert report.ok and report.compared == 4
    assert describe(report) == []


def test_an_empty_green_behind_a_blue_with_applications_is_never_in_parity():
    empty = inventory(
        as_list([workload("Deployment", "kube-system", "coredns", 2, 2)]),
        namespaces("kube-system"),
        as_list([]),
        SYSTEM,
    )
    report = compare(BLUE, empty)
    assert not report.ok
    assert report.missing == [
        "logging/DaemonSet/shipper",
        "web/Deployment/api",
        "web/Deployment/frontend",
        "web/StatefulSet/cache",
    ]
    assert report.namespaces_missing == ["logging", "web"]
    assert report.services_missing == ["ingress-nginx/controller"]
    green_cluster = ClusterSummary(provisioning_state="Succeeded", power_state="Running", version="1.34.2")
    problems = verification_problems(VerificationReport(cluster=green_cluster, parity=report), "1.34.2")
    assert any("missing on green (blue runs them): logging/DaemonSet/shipper" in p for p in problems)


def test_one_deployment_missing_or_unavailable_on_green_is_named():
    green = inventory(
        as_list(
            [
                workload("Deployment", "web", "frontend", 3, 1),
                workload("StatefulSet", "web", "cache", 1, 1),
                workload("DaemonSet", "logging", "shipper", 4, 4),
            ]
        ),
        namespaces("web", "logging"),
        as_list([lb("ingress-nginx", "controller", None)]),
        SYSTEM,
    )
    report = compare(BLUE, green, flux_not_compliant=["web-config (Non-Compliant)"])
    assert report.missing == ["web/Deployment/api"]
    assert report.unavailable == ["web/Deployment/frontend 1/3"]
    assert report.services_missing == ["ingress-nginx/controller"]  # no address yet
    assert report.flux_not_compliant == ["web-config (Non-Compliant)"]
    assert len(describe(report)) == 4


def test_long_lists_are_cut_short_for_the_custom_status():
    many = inventory(
        as_list([workload("Deployment", "web", f"svc-{i:02d}", 1, 1) for i in range(20)]),
        namespaces("web"),
        as_list([]),
        SYSTEM,
    )
    report = compare(many, inventory(as_list([]), namespaces(), as_list([]), SYSTEM))
    assert len(report.missing) == MAX_LISTED + 1 and report.missing[-1] == f"... and {20 - MAX_LISTED} more"


def test_unreadable_kubectl_output_is_an_empty_inventory_not_a_crash():
    broken = inventory("not json", "{}", "[]", SYSTEM)
    assert broken.workloads == {} and broken.namespaces == frozenset() and broken.load_balancers == {}
