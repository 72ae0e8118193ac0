"""AKS sub-resources and actions: agent pools, stop / start, run command and its results."""

from __future__ import annotations

import copy
from typing import Any

from local.azure_emulator import aks_refusals, aks_rules, runcommand
from local.azure_emulator.aks import API, MC, NS, Aks
from local.azure_emulator.aks_model import Cluster, pool_body, strip_pool
from local.azure_emulator.errors import ArmError, already_in_power_state, bad_request, not_running
from local.azure_emulator.lro import Operation, iso, lro_headers
from local.azure_emulator.protocol import Request, Response, Route, route


class AksActions:
    def __init__(self, aks: Aks) -> None:
        self.aks = aks
        self.world = aks.world

    def routes(self) -> list[Route]:
        pools = f"{NS}/managedClusters/agentPools"
        return [
            route("GET", MC + "/agentPools", self.list_pools, f"{pools}/read"),
            route("GET", MC + "/agentPools/{pool}", self.get_pool, f"{pools}/read"),
            route("PUT", MC + "/agentPools/{pool}", self.put_pool, f"{pools}/write"),
            route("POST", MC + "/stop", self.stop, f"{NS}/managedClusters/stop/action"),
            route("POST", MC + "/start", self.start, f"{NS}/managedClusters/start/action"),
            route("POST", MC + "/runCommand", self.run_command, f"{NS}/managedClusters/runcommand/action"),
            route(
                "GET",
                MC + "/commandResults/{command}",
                self.command_result,
                f"{NS}/managedClusters/commandResults/read",
            ),
        ]

    # -- agent pools -------------------------------------------------------------------------------------------

    def list_pools(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            cluster = self.aks.find(m)
            return Response(200, {"value": [pool_body(cluster, copy.deepcopy(p)) for p in cluster.pools()]})

    def get_pool(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            cluster = self.aks.find(m)
            return Response(200, pool_body(cluster, copy.deepcopy(self._pool(cluster, m["pool"]))))

    def _pool(self, cluster: Cluster, name: str) -> dict[str, Any]:
        pool = cluster.pool(name)
        if pool is None:
            raise ArmError(404, "NotFound", f"Agent pool '{name}' was not found in cluster '{cluster.name}'.")
        return pool

    def put_pool(self, req: Request, m: dict[str, str]) -> Response:
        props = strip_pool(dict(req.json_object().get("properties") or {}))
        with self.world.lock:
            self.world.settle()
            cluster = self.aks.find(m)
            aks_rules.check_idle(cluster, self.world.now(), pool_write=True)
            control_plane = str(cluster.props.get("currentKubernetesVersion"))
            existing = cluster.pool(m["pool"])
            requested = {"name": existing["name"] if existing else m["pool"], **props}
            target = self.aks._pool_target(requested, control_plane, existing)
            aks_rules.check_pool(requested["name"], target, control_plane)
            aks_rules.check_running(cluster, self._pool_action(existing, requested, target))
            pool = self._apply_pool(cluster, existing, requested)
            pool.setdefault("orchestratorVersion", target)  # a GET always shows the version asked for
            changed = existing is not None and target != existing.get("currentOrchestratorVersion")
            seconds = self.world.timings.pool_upgrade if changed else self.world.timings.update
            state = "Upgrading" if changed else ("Updating" if existing else "Creating")
            pool["provisioningState"] = state
            cluster.props["provisioningState"] = state if state != "Creating" else "Updating"
            if existing is None:
                pool["currentOrchestratorVersion"] = target

            def done(op: Operation) -> None:
                pool["currentOrchestratorVersion"] = target
                pool["provisioningState"] = cluster.props["provisioningState"] = "Succeeded"

            def failed(op: Operation) -> None:
                pool["provisioningState"] = cluster.props["provisioningState"] = "Failed"

            op = self.aks.start_op(cluster, seconds, f"agentPools/{pool['name']}", done, failed)
            self.aks.claim(cluster, op, state, pool=pool["name"])
            headers = lro_headers(op, req.base_url, req.query.get("api-version", API))
            return Response(200 if existing else 201, pool_body(cluster, copy.deepcopy(pool)), headers)

    @staticmethod
    def _pool_action(existing: dict[str, Any] | None, requested: dict[str, Any], target: str) -> str:
        """What a pool write would do, as a refusal names it: creating, upgrading, scaling or updating."""
        if existing is None:
            return "creating"
        if target != existing.get("currentOrchestratorVersion"):
            return "upgrading"
        if "count" in requested and requested["count"] != existing.get("count"):
            return "scaling"
        return "updating"

    def _apply_pool(
        self, cluster: Cluster, existing: dict[str, Any] | None, requested: dict[str, Any]
    ) -> dict[str, Any]:
        if existing is None:
            pool = {"count": 1, "mode": "User", "osType": "Linux", "type": "VirtualMachineScaleSets", **requested}
            pool.setdefault("powerState", {"code": "Running"})
            cluster.pools().append(pool)
            cluster.pools_created[pool["name"]] = self.world.now()
            return pool
        kept = ("currentOrchestratorVersion", "nodeImageVersion", "powerState", "orchestratorVersion")
        keep: dict[str, Any] = {k: existing[k] for k in kept if k in existing}
        existing.clear()
        existing.update({**keep, **requested})
        return existing

    # -- stop / start --------------------------------------------------------------------------------------------

    def stop(self, req: Request, m: dict[str, str]) -> Response:
        return self._power(req, m, "Stopped")

    def start(self, req: Request, m: dict[str, str]) -> Response:
        return self._power(req, m, "Running")

    def _power(self, req: Request, m: dict[str, str], goal: str) -> Response:
        with self.world.lock:
            now = self.world.settle()
            cluster = self.aks.find(m)
            stopping = goal == "Stopped"
            action = "stopping" if stopping else "starting"
            aks_rules.check_idle(cluster, now, power_action=action)
            if stopping and not cluster.running():
                raise not_running(action)
            if not stopping and cluster.running():
                # A start of a running cluster: an operation on a cluster "already in the desired state" is refused
                # with OperationNotAllowed (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-
                # delete/operationnotallowed, "Solution 2"), in AKS's power-state wording (errors.py).
                power = str(cluster.props.get("powerState", {}).get("code", "Running"))
                raise already_in_power_state(action, str(cluster.props.get("provisioningState")), power)
            signals = self.world.signals_for(cluster.name)
            # provisioningState says Stopping / Starting; powerState changes only when the operation succeeds.
            cluster.props["provisioningState"] = "Stopping" if stopping else "Starting"
            if stopping:
                signals.serving.set(now, False)

            def done(op: Operation) -> None:
                cluster.props["powerState"] = {"code": goal}
                for pool in cluster.pools():
                    pool["powerState"] = {"code": goal}
                self.aks._finish(cluster, "Succeeded")
                if not stopping:
                    signals.serving.set(op.end, True)
                    for hook in self.world.on_cluster_started:
                        hook(cluster, op.end)

            seconds = self.world.timings.stop if stopping else self.world.timings.start
            kind = "stop" if stopping else "start"
            op = self.aks.start_op(cluster, seconds, kind, done, lambda op: self.aks._finish(cluster, "Failed"))
            self.aks.claim(cluster, op, cluster.props["provisioningState"])
            api = req.query.get("api-version", API)
            return Response(202, None, lro_headers(op, req.base_url, api, location=op.result_path()))

    # -- run command ---------------------------------------------------------------------------------------------

    def run_command(self, req: Request, m: dict[str, str]) -> Response:
        body = req.json_object()
        command = body.get("command")
        if not isinstance(command, str) or not command.strip():
            raise bad_request("InvalidParameter", "The 'command' property is required.")
        with self.world.lock:
            self.world.settle()
            cluster = self.aks.find(m)
            refusal = aks_refusals.run_command_disabled(cluster)
            if refusal is not None:
                raise refusal
            # A stopped cluster runs no command: its control plane and nodes are stopped ("This action stops your
            # control plane and agent nodes") and "You can only perform start or delete operations on a stopped AKS
            # cluster" (learn.microsoft.com/azure/aks/start-stop-cluster). AKS documents no other answer for run
            # command there: the documented refusal of a cluster not running (errors.not_running).
            aks_rules.check_running(cluster, "run command")
            signals = self.world.signals_for(cluster.name)

            def result(op: Operation, state: str, exit_code: int | None, logs: str, reason: str | None) -> None:
                props: dict[str, Any] = {
                    "provisioningState": state,
                    "startedAt": iso(op.start),
                    "finishedAt": iso(op.end),
                    "logs": logs,
                }
                if exit_code is not None:
                    props["exitCode"] = exit_code
                if reason:
                    props["reason"] = reason
                op.result = {"id": op.id, "properties": props}

            def done(op: Operation) -> None:
                exit_code, logs = runcommand.run(cluster, signals, command, op.end)  # as the cluster is by then
                result(op, "Succeeded", exit_code, logs, None)

            def failed(op: Operation) -> None:
                result(op, "Failed", None, "", (op.error or {}).get("message"))

            op = self.aks.start_op(cluster, self.world.timings.run_command, "runCommand", done, failed)
            location = f"{cluster.id}/commandResults/{op.id}"
            api = req.query.get("api-version", API)
            return Response(202, None, lro_headers(op, req.base_url, api, location=location))

    def command_result(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            self.aks.find(m)
            op = self.world.ops.get(m["command"])
            if op.status == "InProgress":
                location = f"{req.base_url}{req.path}?api-version={req.query.get('api-version', API)}"
                body = {"id": op.id, "properties": {"provisioningState": "Running", "startedAt": iso(op.start)}}
                return Response(202, body, {"Location": location, "Retry-After": str(op.retry_after)})
            return Response(200, copy.deepcopy(op.result))
