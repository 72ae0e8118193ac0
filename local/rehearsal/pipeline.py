"""The team's deployment pipeline, played by the rehearsal (scenario `pipeline`).

It receives the app's signed notice over HTTP, refuses one whose HMAC-SHA256 signature does not verify
(401), and answers 202. The driver then deploys blue's application into green through the emulated Azure
(what `kubectl apply` would do) and calls `POST /api/upgrades/{id}/green-ready` as the pipeline's identity.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bluegreen.pipeline import SIGNATURE_HEADER, verify

# The app setting the rehearsal's environment names as the HMAC key (workloads.pipeline.secret).
KEY_SETTING = "BLUEGREEN_REHEARSAL_PIPELINE_KEY"
IDENTITY = "deploy-pipeline@example.com"


class PipelineReceiver:
    """An HTTP endpoint on 127.0.0.1 that keeps every verified notice, and counts refused ones."""

    def __init__(self) -> None:
        self.key = secrets.token_hex(32)
        self.notices: list[dict[str, Any]] = []
        self.refused = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not verify(receiver.key, raw, self.headers.get(SIGNATURE_HEADER, "")):
                    with receiver._lock:
                        receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver._lock:
                    receiver.notices.append(json.loads(raw))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # the rehearsal prints its own timeline
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="pipeline", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/deploy"

    def start(self) -> PipelineReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def take(self) -> dict[str, Any] | None:
        """The oldest notice not yet acted on."""
        with self._lock:
            return self.notices.pop(0) if self.notices else None
