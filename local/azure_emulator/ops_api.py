"""The operation status and operation result endpoints that ARM long-running operations point clients at."""

from __future__ import annotations

from local.azure_emulator.protocol import SUB, Request, Response, Route, route
from local.azure_emulator.world import World

OPS = SUB + "/providers/{namespace}/locations/{location}"


class OperationsApi:
    def __init__(self, world: World) -> None:
        self.world = world

    def routes(self) -> list[Route]:
        return [
            route("GET", OPS + "/operations/{op}", self.status, "operationStatus/read"),
            route("GET", OPS + "/operationresults/{op}", self.result, "operationStatus/read"),
        ]

    def status(self, req: Request, m: dict[str, str]) -> Response:
        with self.world.lock:
            self.world.settle()
            op = self.world.ops.get(m["op"])
            headers = {"Retry-After": str(op.retry_after)} if op.status == "InProgress" else {}
            return Response(200, self.world.ops.status_document(op), headers)

    def result(self, req: Request, m: dict[str, str]) -> Response:
        """Location polling: 202 while running, 204 (or the result) when done, the error when failed."""
        with self.world.lock:
            self.world.settle()
            op = self.world.ops.get(m["op"])
            if op.status == "InProgress":
                location = f"{req.base_url}{req.path}?api-version={req.query.get('api-version', '')}"
                return Response(202, None, {"Location": location, "Retry-After": str(op.retry_after)})
            if op.status == "Failed":
                return Response(400, {"error": dict(op.error or {"code": "Failed", "message": "failed"})})
            return Response(200, op.result) if op.result is not None else Response(204)
