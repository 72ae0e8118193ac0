"""AKS managed clusters: GET, PUT (create, update, upgrade), PATCH (tags), DELETE and lists.

While an operation runs, a GET shows what AKS shows: the provisioning state it gives (Creating, Upgrading,
Updating, Deleting, ...), `kubernetesVersion` / `orchestratorVersion` as requested and `currentKubernetesVersion` /
`currentOrchestratorVersion` as still running until the operation succeeds ("The version of Kubernetes the
Managed Cluster is running", AKS REST reference, learn.microsoft.com/rest/api/aks/managed-clusters/get).
"""

from __future__ import annotations

import copy
from typing import Any

from local.azure_emulator import aks_identity, aks_refusals, aks_rules, kube, workload_access
from local.azure_emulator.aks_model import Cluster, cluster_id, default_node_rg, fill_read_only, strip_read_only
from local.azure_emulator.errors import ArmError, bad_request, not_found
from local.azure_emulator.lro import Operation, lro_headers
from local.azure_emulator.protocol import RG, SUB, Request, Response, Route, route
from local.azure_emulator.world import World

NS = "Microsoft.ContainerService"
MC = RG + "/providers/Microsoft.ContainerService/managedClusters/{name}"
WRITE = f"{NS}/managedClusters/write"
API = "2026-08-01"
PREEMPTED_BY_DELETE = {
    "code": "AKSOperationPreemptedByDelete",
    "message": "This operation has been preempted by Deleting operation.",
}


class Aks:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            route("GET", MC, self.get, f"{NS}/managedClusters/read"),
            route("PUT", MC, self.put, WRITE),
            # ManagedClusters_UpdateTags: a PATCH of the cluster is a write of it, authorized (and logged) as the PUT.
            route("PATCH", MC, self.patch_tags, WRITE),
            route("DELETE", MC, self.delete, f"{NS}/managedClusters/delete"),
            route(
                "GET",
                RG + "/providers/Microsoft.ContainerService/managedClusters",
                self.list_rg,
                f"{NS}/managedClusters/read",
            ),
            route(
                "GET",
                SUB + "/providers/Microsoft.ContainerService/managedClusters",
                self.list_sub,
                f"{NS}/managedClusters/read",
            ),
        ]

    # -- lookups ---------------------------------------------------------------------------------------------

    def find(self, m: dict[str, str]) -> Cluster:
        cluster = self.world.clusters.get(cluster_id(m["sub"], m["rg"], m["name"]).lower())
        if cluster is None:
            raise not_found("Microsoft.ContainerService/managedClusters", m["name"], m["rg"])
        return cluster

    def start_op(self, cluster: Cluster, seconds: float, kind: str, on_success: Any, on_failure: Any) -> Operation:
        now = self.world.now()
        op = self.world.ops.start(
            cluster.id + "/" + kind,
            now,
            seconds,
            on_success,
            on_failure,
            subscription=cluster.sub,
            namespace=NS,
            location=cluster.location,
            retry_after=self.world.timings.retry_after_aks,
        )
        return op

    def claim(self, cluster: Cluster, op: Operation, name: str, pool: str | None = None) -> None:
        """Mark the cluster busy so a concurrent write gets 409 naming this operation."""
        cluster.op, cluster.op_name, cluster.op_pool = op, name, pool

    # -- handlers --------------------------------------------------------------------------------------------

    def get(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            return Response(200, copy.deepcopy(self.find(m).body))

    def list_rg(self, req: Request, m: dict[str, str]) -> Response:
        return self._list(lambda c: c.sub.lower() == m["sub"].lower() and c.rg.lower() == m["rg"].lower())

    def list_sub(self, req: Request, m: dict[str, str]) -> Response:
        return self._list(lambda c: c.sub.lower() == m["sub"].lower())

    def _list(self, keep: Any) -> Response:
        with self.world.lock:
            self.world.settle()
            items = [copy.deepcopy(c.body) for key, c in sorted(self.world.clusters.items()) if keep(c)]
        return Response(200, {"value": items})

    def put(self, req: Request, m: dict[str, str]) -> Response:
        body = strip_read_only(req.json_object())
        with self.world.lock:
            self.world.settle()
            existing = self.world.clusters.get(cluster_id(m["sub"], m["rg"], m["name"]).lower())
            if existing is not None:
                aks_rules.check_idle(existing, self.world.now())
            if existing is None:
                cluster, op = self._create(m, body)
                status = 201
            else:
                cluster, op = self._update(existing, body)
                status = 200
            headers = lro_headers(op, req.base_url, req.query.get("api-version", API))
            return Response(status, copy.deepcopy(cluster.body), headers)

    def patch_tags(self, req: Request, m: dict[str, str]) -> Response:
        """ManagedClusters_UpdateTags: `PATCH .../managedClusters/{name}` with a TagsObject ("Updates tags on a
        managed cluster", AKS REST reference: learn.microsoft.com/rest/api/aks/managed-clusters/update-tags).

        The tags sent become the cluster's tags: a TagsObject is "Tags object for patch operations" and its example
        (SPEC ManagedClustersUpdateTags.json) answers exactly the tags sent, so `{"tags": {}}` leaves none; a body
        without `tags` changes nothing. Long-running like AKS's other writes (azure-mgmt-containerservice
        begin_update_tags polls it: 200 with the cluster, or 202 with Azure-AsyncOperation / Location): answered
        200 with the body and Azure-AsyncOperation, provisioningState Updating until Timings.tags_update has
        passed. Refused with 404 ResourceNotFound for an unknown cluster, 409 OperationNotAllowed while another
        operation runs (aks_rules.check_idle) and on a stopped cluster (aks_rules.check_running)."""
        body = req.json_object()
        tags = body.get("tags")
        if tags is not None and (not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values())):
            raise ArmError(
                400, "InvalidRequestContent", "The request content was invalid: 'tags' must map names to strings."
            )
        with self.world.lock:
            now = self.world.settle()
            cluster = self.find(m)
            aks_rules.check_idle(cluster, now)
            aks_rules.check_running(cluster, "updating")
            if tags is not None:
                cluster.body["tags"] = dict(tags)
            cluster.props["provisioningState"] = "Updating"  # the cluster only: no agent pool changes

            def finish(state: str) -> None:
                cluster.props["provisioningState"] = state

            op = self.start_op(
                cluster,
                self.world.timings.tags_update,
                "tags",
                lambda op: finish("Succeeded"),
                lambda op: finish("Failed"),
            )
            self.claim(cluster, op, "Updating")
            headers = lro_headers(op, req.base_url, req.query.get("api-version", API))
            return Response(200, copy.deepcopy(cluster.body), headers)

    def _create(self, m: dict[str, str], body: dict[str, Any]) -> tuple[Cluster, Operation]:
        world, props = self.world, body.setdefault("properties", {})
        if not body.get("location"):
            raise bad_request("InvalidParameter", "The 'location' property is required to create a cluster.")
        if not props.get("agentPoolProfiles"):
            raise bad_request("InvalidParameter", "At least one agent pool profile is required.")
        target = world.catalogue.resolve(str(props.get("kubernetesVersion") or world.catalogue.default_version()))
        pool_targets = {p["name"]: self._pool_target(p, target, None) for p in props["agentPoolProfiles"]}
        # A GET always shows the version asked for; AKS's default when none was.
        props.setdefault("kubernetesVersion", target)
        for pool in props["agentPoolProfiles"]:
            pool.setdefault("orchestratorVersion", pool_targets[pool["name"]])
        node_rg = props.get("nodeResourceGroup") or default_node_rg(m["rg"], m["name"], body["location"])
        self._check_node_rg(node_rg, m["rg"])
        props["nodeResourceGroup"] = node_rg
        aks_identity.default_oidc(props, target)
        self._admit(body, None, cluster_id(m["sub"], m["rg"], m["name"]), node_rg)
        now = world.now()
        cluster = Cluster(m["sub"], m["rg"], m["name"], body, now, {name: now for name in pool_targets})
        fill_read_only(cluster)
        workload_access.attach(world, cluster)
        props.update(provisioningState="Creating", powerState={"code": "Running"}, currentKubernetesVersion=target)
        for pool in cluster.pools():
            pool.update(provisioningState="Creating", currentOrchestratorVersion=pool_targets[pool["name"]])
        world.clusters[cluster.id.lower()] = cluster
        signals = world.signals_for(cluster.name)
        signals.serving.set(now, False)
        # A new cluster runs what AKS puts there, nothing of any application (learn.microsoft.com/azure/aks/
        # concepts-clusters-workloads: you deploy your applications; AKS manages the control plane and its
        # system pods): see k8s_system.
        kube.install_system(world, cluster, now)

        def done(op: Operation) -> None:
            self._finish(cluster, "Succeeded")
            signals.serving.set(op.end, True)
            aks_identity.on_ready(world, cluster, op.end)  # the kubelet and add-on identities AKS makes

        op = self.start_op(cluster, world.timings.create, "create", done, lambda op: self._finish(cluster, "Failed"))
        self.claim(cluster, op, "Creating")
        return cluster, op

    def _update(self, cluster: Cluster, body: dict[str, Any]) -> tuple[Cluster, Operation]:
        world, old, props = self.world, cluster.props, body.setdefault("properties", {})
        aks_rules.check_dns_prefix(old.get("dnsPrefix"), props.get("dnsPrefix"))
        requested_rg = props.get("nodeResourceGroup")
        if requested_rg and requested_rg.lower() != str(old.get("nodeResourceGroup", "")).lower():
            raise bad_request("PropertyChangeNotAllowed", "Changing property 'nodeResourceGroup' is not allowed.")
        current = str(old.get("currentKubernetesVersion"))
        requested = str(props.get("kubernetesVersion") or old.get("kubernetesVersion") or current)
        target = aks_rules.resolve_requested(world.catalogue, requested, current, "K8sVersionNotSupported")
        aks_rules.check_control_plane(current, target, world.catalogue)
        pools = self._merge_pools(cluster, props.get("agentPoolProfiles") or [])
        targets = {p["name"]: self._pool_target(p, target, cluster.pool(p["name"])) for p in pools}
        for pool in pools:
            pool.setdefault("orchestratorVersion", targets[pool["name"]])  # a GET shows the version asked for
        changed = [p["name"] for p in pools if targets[p["name"]] != p.get("currentOrchestratorVersion")]
        upgrading = target != current or bool(changed)
        aks_rules.check_running(cluster, "upgrading" if upgrading else "updating")
        seconds = (world.timings.upgrade if target != current else 0) + (world.timings.pool_upgrade if changed else 0)
        merged = self._merged_body(cluster, body, pools)
        self._admit(merged, cluster, cluster.id, str(old.get("nodeResourceGroup")))
        cluster.body = merged
        fill_read_only(cluster)
        state = "Upgrading" if upgrading else "Updating"
        cluster.props["provisioningState"] = state
        for pool in cluster.pools():
            pool["provisioningState"] = state if pool["name"] in changed else "Succeeded"

        def done(op: Operation) -> None:
            cluster.props["currentKubernetesVersion"] = target
            for pool in cluster.pools():
                pool["currentOrchestratorVersion"] = targets.get(pool["name"], pool.get("currentOrchestratorVersion"))
            self._finish(cluster, "Succeeded")
            kube.sync_addons(world, cluster, op.end)  # add-ons enabled or disabled by this update
            aks_identity.on_ready(world, cluster, op.end)  # and their identities, an OIDC issuer enabled now

        kind = "upgrade" if upgrading else "update"
        op = self.start_op(
            cluster, seconds or world.timings.update, kind, done, lambda op: self._finish(cluster, "Failed")
        )
        self.claim(cluster, op, state)
        return cluster, op

    def _merge_pools(self, cluster: Cluster, requested: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Pools in the body replace their namesakes (keeping read-only state); pools not named are kept."""
        merged = []
        names = {p.get("name", "").lower() for p in requested}
        for pool in requested:
            if not pool.get("name"):
                raise bad_request("InvalidParameter", "Every agent pool profile needs a name.")
            existing = cluster.pool(pool["name"]) or {}
            # Read-only state carries over, and so does the version asked for when the body leaves it out.
            keep: dict[str, Any] = {
                k: existing[k]
                for k in ("currentOrchestratorVersion", "nodeImageVersion", "powerState", "orchestratorVersion")
                if k in existing
            }
            merged.append({**keep, **pool})
            if not existing:
                cluster.pools_created[pool["name"]] = self.world.now()
        merged += [p for p in cluster.pools() if p["name"].lower() not in names]
        return merged

    def _admit(self, body: dict[str, Any], existing: Cluster | None, cid: str, node_rg: str) -> None:
        """AKS's refusals of a cluster that could not work, then the identities the stored body shows."""
        now = self.world.now()
        aks_refusals.check(self.world, body, existing, cid)
        aks_identity.check(self.world, body, existing, node_rg, now)
        aks_identity.prepare(self.world, cid, body, existing.body if existing else None, now)
        aks_refusals.forget_secrets(body)

    def _merged_body(self, cluster: Cluster, body: dict[str, Any], pools: list[dict[str, Any]]) -> dict[str, Any]:
        """The body an update stores: the request's, with what AKS generated and keeps."""
        old = cluster.props
        generated = {
            k: old[k]
            for k in (
                "fqdn",
                "azurePortalFQDN",
                "nodeResourceGroup",
                "powerState",
                "kubernetesVersion",
                "currentKubernetesVersion",
                "dnsPrefix",
                "maxAgentPools",
            )
            if k in old
        }
        new_props = {**generated, **body["properties"], "agentPoolProfiles": pools}
        if "identityProfile" not in body["properties"] and "identityProfile" in old:
            new_props["identityProfile"] = old["identityProfile"]
        issuer = old.get("oidcIssuerProfile", {}).get("issuerURL")
        if issuer and isinstance(new_props.get("oidcIssuerProfile"), dict):
            new_props["oidcIssuerProfile"]["issuerURL"] = issuer
        body = {**body, "properties": new_props}
        body.setdefault("location", cluster.location)
        return body

    def _pool_target(self, pool: dict[str, Any], control_plane: str, existing: dict[str, Any] | None) -> str:
        running = (existing or {}).get("currentOrchestratorVersion")
        requested = pool.get("orchestratorVersion") or running or control_plane
        version = aks_rules.resolve_requested(
            self.world.catalogue, str(requested), running, "AgentPoolK8sVersionNotSupported"
        )
        aks_rules.check_pool(pool.get("name", "?"), version, control_plane)
        return version

    def _check_node_rg(self, node_rg: str, rg: str) -> None:
        taken = {str(c.props.get("nodeResourceGroup", "")).lower() for c in self.world.clusters.values()}
        if node_rg.lower() in taken or node_rg.lower() == rg.lower():
            raise bad_request(
                "NodeResourceGroupAlreadyExists",
                f"Node resource group '{node_rg}' already exists. "
                "Please use a different name for the node resource group.",
            )

    def _finish(self, cluster: Cluster, state: str) -> None:
        cluster.props["provisioningState"] = state
        for pool in cluster.pools():
            pool["provisioningState"] = state

    def delete(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            now = self.world.settle()
            key = cluster_id(m["sub"], m["rg"], m["name"]).lower()
            cluster = self.world.clusters.get(key)
            if cluster is None:
                return Response(204)
            if cluster.busy() and cluster.op is not None:
                if cluster.op_name == "Deleting":
                    aks_rules.check_idle(cluster, now)
                # A delete is not refused while another operation runs: it preempts it, and that operation
                # fails with AKSOperationPreemptedByDelete "This operation has been preempted by Deleting
                # operation." (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/
                # error-code-operationpreempted).
                self.world.ops.preempt(cluster.op, now, PREEMPTED_BY_DELETE)
            cluster.props["provisioningState"] = "Deleting"
            for pool in cluster.pools():
                pool["provisioningState"] = "Deleting"
            self.world.signals_for(cluster.name).serving.set(now, False)

            def done(op: Operation) -> None:
                # Until now a GET still returns the cluster, provisioningState Deleting. Its extension resources
                # (Microsoft.KubernetesConfiguration) and its Kubernetes objects go with it.
                self.world.clusters.pop(key, None)
                prefix = key + "/providers/microsoft.kubernetesconfiguration/"
                for store in (self.world.extensions, self.world.flux):
                    for child in [k for k in store if k.startswith(prefix)]:
                        store.pop(child)
                aks_identity.on_deleted(self.world, cluster, op.end)  # and the identities AKS made for it

            op = self.start_op(
                cluster, self.world.timings.delete, "delete", done, lambda op: self._finish(cluster, "Failed")
            )
            self.claim(cluster, op, "Deleting")
            location = f"{req.base_url}{op.result_path()}?api-version={req.query.get('api-version', API)}"
            return Response(202, None, {"Location": location, "Retry-After": str(op.retry_after)})
