"""The /_emulator/ control API: the Python API of AzureEmulator over HTTP (JSON in and out, no auth)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from local.azure_emulator.errors import ArmError
from local.azure_emulator.protocol import Request, Response

if TYPE_CHECKING:
    from local.azure_emulator.emulator import AzureEmulator


class ControlApi:
    def __init__(self, emulator: AzureEmulator) -> None:
        self.emu = emulator

    def handle(self, req: Request) -> Response:
        path = req.path[len("/_emulator/") :].strip("/")
        body = self._body(req)
        key = (req.method, path)
        if key == ("GET", "requests"):
            return Response(200, self.emu.requests())
        if key == ("POST", "requests/clear"):
            self.emu.clear_requests()
            return Response(200, {"cleared": True})
        if key == ("GET", "resources"):
            return Response(200, self.emu.resources())
        if key == ("POST", "seed"):
            self.emu.seed(body)
            return Response(200, {"seeded": len(body) if isinstance(body, list) else 1})
        if key[0] == "POST" and (path == "faults" or path.startswith("faults/")):
            self._faults(path, body)
            return Response(200, {"ok": True})
        if key == ("POST", "operations/fail-next"):
            self.emu.fail_next_operation(**{k: body[k] for k in ("path_pattern", "code", "message") if k in body})
            return Response(200, {"ok": True})
        if key == ("POST", "propagation-delay"):
            self.emu.set_propagation_delay(float(body["seconds"]))
            return Response(200, {"ok": True})
        if key == ("POST", "dns"):
            self.emu.bind_host(str(body["host"]), str(body["cluster"]))
            return Response(200, {"ok": True})
        if key == ("POST", "alert-rules"):
            self.emu.add_alert_rule(**body)
            return Response(200, {"ok": True})
        if key == ("GET", "access"):  # effective access: ?principal=&role=&scope=
            found = self.emu.has_role(req.query["principal"], req.query["role"], req.query["scope"])
            return Response(200, {"holds": found})
        blocked = re.fullmatch(r"clusters/([^/]+)/blocked-workloads", path)
        if blocked is not None and req.method == "GET":
            try:
                return Response(200, self.emu.blocked_workloads(blocked.group(1)))
            except KeyError as exc:
                raise ArmError(404, "NotFound", str(exc.args[0])) from exc
        return self._cluster(req.method, path, body)

    def _faults(self, path: str, body: Any) -> None:
        if path == "faults":
            self.emu.inject_fault(
                status=int(body["status"]),
                count=int(body.get("count", 1)),
                method=body.get("method"),
                path_pattern=body.get("path_pattern"),
                retry_after=int(body.get("retry_after", 1)),
                exclude_pattern=body.get("exclude_pattern"),
            )
        elif path == "faults/front-door":
            self.emu.fail_front_door_writes(
                count=int(body.get("count", 1)),
                status=int(body.get("status", 500)),
                code=body.get("code"),
                message=body.get("message"),
                kind=str(body.get("kind", "response")),
                retry_after=_optional_int(body.get("retry_after")),
            )
        elif path == "faults/probes":
            status = body.get("status", 503)
            self.emu.fail_probes(body.get("host"), _optional_int(status), _optional_int(body.get("count")))
        elif path == "faults/probes/clear":
            self.emu.clear_probe_faults()
        elif path == "faults/clear":
            self.emu.clear_faults()
        else:
            raise ArmError(404, "NotFound", f"No control API at POST /_emulator/{path}.")

    def _cluster(self, method: str, path: str, body: Any) -> Response:
        match = re.fullmatch(r"clusters/([^/]+)/(error-fraction|latency|workloads|objects)", path)
        if match is None or (method != "POST" and not (method == "GET" and match.group(2) == "objects")):
            raise ArmError(404, "NotFound", f"No control API at {method} /_emulator/{path}.")
        name, what = match.groups()
        if what == "objects":
            return self._objects(method, name, body)
        if what == "error-fraction":
            self.emu.set_error_fraction(name, float(body["fraction"]))
        elif what == "latency":  # {"milliseconds": 35, "at": "2026-11-20T06:10:00Z" (optional)}
            at = body.get("at")
            self.emu.set_latency(name, float(body["milliseconds"]), datetime.fromisoformat(at) if at else None)
        else:
            self.emu.set_workloads_ready(name, bool(body["ready"]))
        return Response(200, {"ok": True})

    def _objects(self, method: str, name: str, body: Any) -> Response:
        """GET: the cluster's objects as kubectl prints them; POST: `kubectl apply` of a list, a List or one."""
        try:
            if method == "GET":
                return Response(200, {"apiVersion": "v1", "kind": "List", "items": self.emu.kubernetes_objects(name)})
            result = self.emu.apply_objects(name, body)
        except KeyError as exc:
            raise ArmError(404, "NotFound", str(exc.args[0])) from exc
        except ValueError as exc:
            raise ArmError(409, "ClusterUnreachable", str(exc)) from exc
        return Response(200 if result["exitCode"] == 0 else 422, result)

    @staticmethod
    def _body(req: Request) -> Any:
        if req.method != "POST":
            return None
        if not req.raw_body:
            return {}
        try:
            return json.loads(req.raw_body)
        except ValueError as exc:
            raise ArmError(400, "InvalidRequestContent", f"invalid JSON: {exc}") from exc


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
