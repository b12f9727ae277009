"""The daemon's local HTTP endpoint: health, readiness, Prometheus metrics and stack status.

``GET /healthz``  200 ``ok`` while the process serves requests (liveness).
``GET /readyz``   200 once ``ready()`` (the daemon finished its first cycle), 503 before; the body
                 names every stack in error (stalled, held or backing off) on a line of its own:
                 the daemon is ready however many stacks fail, since each fails on its own.
``GET /metrics``  the Prometheus text exposition of :class:`~automation.metrics.Metrics`.
``GET /stacks``   the status object of ``status --format json`` as JSON.
``GET /``         that object as a read-only HTML page for people (:mod:`automation.status_page`).

It is the standard library's threading HTTP server in a daemon thread, bound to 127.0.0.1 unless
told otherwise: it tells whoever can reach it which stacks exist and how they fare (never secret
values; status holds none), so exposing it beyond the host is a deliberate choice.

Hardened for a long-running process: a connection has ``timeout`` seconds to send its whole
request (a client that trickles bytes is cut off too), at most ``max_connections`` are served
at once (one more is answered 503 and closed at once), and a request whose ``Host`` is not a
loopback name, an IP address, the bound address or an allowed host gets 421 — so a web page that
rebinds its own DNS name to 127.0.0.1 cannot read ``/stacks`` through a browser.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from automation.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from automation.metrics import Metrics
from automation.status_page import render_status_page

log = logging.getLogger("driftless.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS = 32
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"

# The page runs no script and loads nothing: a browser that meets markup the escaping missed
# still runs none of it, and no other site may frame the page.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

_BUSY_BODY = b"too many connections; retry later\n"
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class StatusServer:
    """Serves ``/healthz``, ``/readyz``, ``/metrics``, ``/stacks`` and the page at ``/`` from a
    background thread."""

    def __init__(
        self,
        status: Callable[[], dict[str, Any]],
        metrics: Metrics,
        ready: Callable[[], bool],
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        allowed_hosts: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        stacks_in_error: Callable[[], list[str]] | None = None,
        unready_reasons: Callable[[], list[str]] | None = None,
    ):
        self._status = status
        self._stacks_in_error = stacks_in_error or list
        self._unready_reasons = unready_reasons or list  # what keeps a started daemon from its work
        self._metrics = metrics
        self._ready = ready
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_connections = max_connections
        # the loopback names, the address the server is bound to (unless a wildcard), and more
        names = [*LOOPBACK_HOSTS, *([] if host in ("", "0.0.0.0", "::") else [host]), *allowed_hosts]
        self.allowed_hosts = tuple(dict.fromkeys(_host_name(name) for name in names))
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Bind and serve in a daemon thread; return the bound port (useful with port 0)."""
        if self._server is not None:
            return self.port
        server = _BoundedServer((self.host, self.port), _handler(self), self.max_connections)
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

    def host_allowed(self, host: str) -> bool:
        """Whether a request's ``Host`` may be answered: its name is allowed, with any port or none
        (a port mapping or a proxy in front may change the port; a rebinding page cannot change
        the name)."""
        if ANY_HOST in self.allowed_hosts:
            return True
        name = _host_name(_split_host(host.strip())[0])
        # An address, not a name: a page can make the browser send only its own DNS name, so an IP
        # literal (a scrape by pod IP, a probe) is never a rebinding.
        return name in self.allowed_hosts or _is_address(name)

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """Status code, content type and body for ``GET path``."""
        route = urlsplit(path).path.rstrip("/") or "/"
        if route == "/healthz":
            return HTTPStatus.OK, "text/plain; charset=utf-8", b"ok\n"
        if route == "/readyz":
            reasons = self._unready_reasons()
            ready = self._ready() and not reasons
            errors = self._stacks_in_error()
            lines = ["ready" if ready else "not ready", *reasons]
            if errors:
                lines += [f"{len(errors)} stack(s) in error:", *errors]
            code = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
            return code, "text/plain; charset=utf-8", ("\n".join(lines) + "\n").encode()
        if route == "/metrics":
            return HTTPStatus.OK, METRICS_CONTENT_TYPE, self._metrics.exposition()
        if route == "/stacks":
            body = json.dumps(self._status(), indent=2, sort_keys=False, default=str) + "\n"
            return HTTPStatus.OK, "application/json", body.encode()
        if route == "/":
            return HTTPStatus.OK, HTML_CONTENT_TYPE, render_status_page(self._status()).encode()
        return (
            HTTPStatus.NOT_FOUND,
            "text/plain; charset=utf-8",
            b"not found: try / /healthz /readyz /metrics /stacks\n",
        )


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` of them; one more gets 503 at once."""

    daemon_threads = True
    block_on_close = False  # stop() never waits for a slow client; the threads are daemons
    request_queue_size = 64  # the listen backlog: a burst of connections is queued, not dropped

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], max_connections: int):
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(1)
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 (as the standard library's: one bad connection must not stop it)
            self.handle_error(request, client_address)
        finally:
            self._slots.release()  # before the close: a client that sees it closed finds the slot free
            self.shutdown_request(request)


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, each allowed only what is left of the connection's deadline.

    A per-read timeout alone lets a client keep a connection by sending a byte now and then.
    """

    def __init__(self, connection: socket.socket, timeout: float):
        self._connection = connection
        self._timeout = timeout
        self._deadline = time.monotonic() + timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete request within {self._timeout:g} s")
        self._connection.settimeout(min(self._timeout, left))
        return self._connection.recv_into(buffer)


def _split_host(host: str) -> tuple[str, str, str]:
    """``name:port`` or ``[v6]:port`` → (name, ":", port); the port may be absent."""
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return host, "", ""
        name, rest = host[: end + 1], host[end + 1 :]
        return (name, ":", rest[1:]) if rest.startswith(":") else (name, "", "")
    if host.count(":") > 1:  # a bare IPv6 address has no port
        return f"[{host}]", "", ""
    return host.partition(":")


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _host_name(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def _handler(server: StatusServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "driftless"
        sys_version = ""
        timeout = server.timeout  # the socket's timeout for every read and write

        def setup(self) -> None:
            super().setup()
            self.rfile.close()  # the plain reader; the socket stays open
            self.rfile = io.BufferedReader(_DeadlineReader(self.connection, server.timeout))

        def do_GET(self) -> None:
            self._send(*self._answer(), head=False)

        def do_HEAD(self) -> None:
            self._send(*self._answer(), head=True)

        def _answer(self) -> tuple[int, str, bytes]:
            self.connection.settimeout(server.timeout)  # the request is in; the answer gets the full time
            hosts = self.headers.get_all("Host") or []
            if len(hosts) > 1 or (not hosts and self.request_version != "HTTP/1.0"):
                return HTTPStatus.BAD_REQUEST, "text/plain; charset=utf-8", b"one Host header is required\n"
            if hosts and not server.host_allowed(hosts[0]):
                # another name resolving to this address: DNS rebinding, or a proxy sent it astray
                names = ", ".join(server.allowed_hosts)
                return (
                    HTTPStatus.MISDIRECTED_REQUEST,
                    "text/plain; charset=utf-8",
                    f"misdirected request: this endpoint answers to Host {names} "
                    "(http.allowedHosts in driftless.yaml adds names)\n".encode(),
                )
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
            self.send_header("X-Content-Type-Options", "nosniff")
            if content_type == HTML_CONTENT_TYPE:
                self.send_header("Content-Security-Policy", _PAGE_POLICY)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http %s", format % args)

    return Handler
