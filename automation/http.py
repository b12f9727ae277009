"""The daemon's local HTTP endpoint: health, readiness, Prometheus metrics and stack status.

``GET /healthz``  200 ``ok`` while the process serves requests (liveness).
``GET /readyz``   200 when ``ready()`` (the daemon finished its first cycle), 503 before.
``GET /metrics``  the Prometheus text exposition of :class:`~automation.metrics.Metrics`.
``GET /stacks``   the status object of ``status --format json`` (SPEC §3), as JSON.

It is the standard library's threading HTTP server in a daemon thread, bound to 127.0.0.1 unless
told otherwise: it tells whoever can reach it which stacks exist and how they fare (never secret
values; status holds none), so exposing it beyond the host is a deliberate choice.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from automation.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from automation.metrics import Metrics

log = logging.getLogger("driftless.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464


class StatusServer:
    """Serves ``/healthz``, ``/readyz``, ``/metrics`` and ``/stacks`` from a background thread."""

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        metrics: Metrics,
        ready: Callable[[], bool],
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
    ):
        self._status = status
        self._metrics = metrics
        self._ready = ready
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind and serve in a daemon thread; return the bound port (useful with port 0)."""
        if self._server is not None:
            return self.port
        server = ThreadingHTTPServer((self.host, self.port), _handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="driftless-http", daemon=True
        )
        self._thread.start()
        log.info("status endpoint listening on http://%s:%d", self.host, self.port)
        return self.port

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- request handling (called from the server's threads) --------------------------------

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """Status code, content type and body for ``GET path``."""
        route = urlsplit(path).path.rstrip("/") or "/"
        if route == "/healthz":
            return HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n"
        if route == "/readyz":
            if self._ready():
                return HTTPStatus.OK, "text/plain; charset=utf-8", b"ready\n"
            return HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", b"not ready\n"
        if route == "/metrics":
            return HTTPStatus.OK, METRICS_CONTENT_TYPE, self._metrics.exposition()
        if route == "/stacks":
            body = json.dumps(self._status(), indent=2, sort_keys=False, default=str) + "\n"
            return HTTPStatus.OK, "application/json", body.encode()
        return (
            HTTPStatus.NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found: try /healthz /readyz /metrics /stacks\n",
        )


def _handler(server: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "driftless"
        sys_version = ""

        def do_GET(self) -> None:
            self._send(*self._answer(), head=False)

        def do_HEAD(self) -> None:
            self._send(*self._answer(), head=True)

        def _answer(self) -> tuple[int, str, bytes]:
            try:
                return server.respond(self.path)
            except Exception:
                # A failing status callback must not kill the endpoint; the probe sees a 500 and
                # the log has the traceback.
                log.exception("status endpoint failed answering %s", urlsplit(self.path).path)
                return HTTPStatus.INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", b"internal error\n"

        def _send(self, code: int, content_type: str, body: bytes, *, head: bool) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

    return Handler
