"""HTTPS plumbing: TLS from a trustme CA, bearer-token check, routing, fault injection and the request log."""

from __future__ import annotations

import json
import re
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import trustme

from local.azure_emulator import keyvault
from local.azure_emulator.errors import ArmError
from local.azure_emulator.faults import FaultBook
from local.azure_emulator.hooks import Hooks
from local.azure_emulator.lro import iso
from local.azure_emulator.protocol import Request, Response, Route
from local.azure_emulator.world import World

CONTROL_PREFIX = "/_emulator/"
# The emulator also plays the internet for smoke probes: GET /_probe/{host}/{path} answers as the
# cluster behind that host would: 200 when it serves the application (ClusterSignals.serves: running, ready, and
# its objects an available application behind a LoadBalancer), 503 otherwise, unless a probe fault says
# otherwise. Not ARM: no token, not logged, no request hooks.
PROBE_PREFIX = "/_probe/"
_BEARER = re.compile(r"^Bearer\s+\S+", re.IGNORECASE)


class Dispatcher:
    """Turns one HTTP request into a response; shared by every connection thread."""

    def __init__(self, world: World, routes: list[Route], control: Any) -> None:
        self.world = world
        self.routes = routes
        self.control = control
        self.faults = FaultBook()
        self.hooks = Hooks()
        self.log: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, base_url: str) -> Response:
        parts = urlsplit(target)
        request = Request(method, parts.path, dict(parse_qsl(parts.query)), headers, body, base_url)
        if parts.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        if parts.path.startswith(PROBE_PREFIX):
            return self._probe(parts.path[len(PROBE_PREFIX) :])
        if parts.path.startswith(keyvault.PREFIX):
            return keyvault.handle(self.world, request)  # a data plane with its own auth: not ARM, not logged
        found = self._match(method, parts.path)
        operation, kind = (
            (found[0].operation, found[0].kind) if found else ("unknown", "read" if method == "GET" else "write")
        )
        response = self._respond(request, found)
        if found is not None and found[0].in_force is not None and response.enabled_origins is None:
            # A Front Door write that changed nothing (an error, an injected fault, a failing operation):
            # the log shows the configuration still in force.
            with self.world.lock:
                response.enabled_origins = found[0].in_force(found[1])
        entry = self._record(request, response, operation, kind)
        drop, errors = self.hooks.run(entry)
        if drop or errors:
            with self._lock:
                if errors:
                    entry["hook_error"] = "; ".join(errors)
                if drop:
                    entry["dropped"] = True
        return Response(response.status, drop=True) if drop else response

    def _respond(self, request: Request, found: tuple[Route, dict[str, str]] | None) -> Response:
        try:
            if not _BEARER.match(request.headers.get("authorization", "")):
                raise ArmError(
                    401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
                )
            if found is None:
                raise ArmError(404, "NotFound", f"No emulated API answers {request.method} {request.path}.")
            fault = self.faults.take(request.method, request.path, found[0].front_door_write)
            if fault is not None:
                return fault.response()
            return found[0].handler(request, found[1])
        except ArmError as exc:
            return Response(exc.status, exc.body(), dict(exc.headers))
        except Exception as exc:  # a bug in the emulator must still answer, and say so
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"error": {"code": "InternalServerError", "message": f"emulator bug: {exc!r}"}})

    def _probe(self, rest: str) -> Response:
        host = rest.split("/", 1)[0]
        fault = self.faults.take_probe(host)
        if fault is not None:
            if fault.status is None:
                return Response(0, drop=True)  # no answer: the prober sees a dropped connection
            return Response(fault.status, {"status": "injected", "host": host})
        cluster = self.world.cluster_for_host(host)
        if cluster is None or not self.world.signals_for(cluster).serves(self.world.settle()):
            return Response(503, {"status": "unavailable", "host": host})
        return Response(200, {"status": "ok", "host": host})

    def _control(self, request: Request) -> Response:
        try:
            result: Response = self.control.handle(request)
            return result
        except ArmError as exc:
            return Response(exc.status, exc.body())
        except (ValueError, KeyError, TypeError) as exc:
            return Response(400, {"error": {"code": "BadRequest", "message": str(exc)}})
        except Exception as exc:  # a bug behind the control API answers too, instead of dropping the connection
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"error": {"code": "InternalServerError", "message": f"emulator bug: {exc!r}"}})

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for entry in self.routes:
            if entry.method == method:
                match = entry.pattern.match(path)
                if match:
                    return entry, match.groupdict()
        return None

    def _record(self, request: Request, response: Response, operation: str, kind: str) -> dict[str, Any]:
        with self._lock:
            entry = {
                "seq": len(self.log) + 1,
                "wall": time.time(),
                "at": iso(self.world.now()),
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "kind": kind,
                "operation": operation,
                "enabled_origins": response.enabled_origins,
            }
            self.log.append(entry)
            return entry

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self.log]

    def clear_requests(self) -> None:
        with self._lock:
            self.log.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without NODELAY each response waits ~40 ms for an ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        response = self.server.dispatcher.handle(self.command, self.path, headers, body, f"https://{host}")
        if response.drop:
            self.close_connection = True  # nothing is written: the client sees the connection close
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # the request log replaces stderr chatter
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dispatcher: Dispatcher
    tls: ssl.SSLContext

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake in the connection's own thread, so one slow client cannot stall accept().
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(wrapped, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # clients dropping connections mid-request are normal for pollers


class HttpsServer:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self._dir = tempfile.mkdtemp(prefix="azure-emulator-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_bundle = str(Path(self._dir) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_bundle)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self._tls)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, port: int) -> int:
        server = _Server(("127.0.0.1", port), _Handler)
        server.dispatcher, server.tls = self.dispatcher, self._tls
        self._server = server
        # A short poll interval keeps stop() (and every test teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="azure-emulator", daemon=True
        )
        self._thread.start()
        return int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
