"""The status endpoint against hostile clients, over real sockets: slow clients, too many
connections, and requests for another host name (DNS rebinding)."""

from __future__ import annotations

import http.client
import json
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from automation.daemon.settings import SettingsError, load_settings
from automation.http import StatusServer
from automation.metrics import Metrics

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATUS = {"stacks": [{"name": "dev", "phase": "Ready"}]}


@pytest.fixture
def serve() -> Iterator[Callable[..., StatusServer]]:
    """``serve(**options)``: a started server on a free port of 127.0.0.1."""
    servers: list[StatusServer] = []

    def start(**options: object) -> StatusServer:
        server = StatusServer(lambda: STATUS, Metrics(), lambda: True, port=0, **options)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def connect(server: StatusServer | int) -> socket.socket:
    port = server if isinstance(server, int) else server.port
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def closed_by_server(client: socket.socket) -> bool:
    """Read until the server closes; True when it did (the client gives up after 10 s)."""
    try:
        while chunk := client.recv(4096):
            del chunk
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def request(
    server: StatusServer | int, path: str, host: str | None, version: str = "HTTP/1.1"
) -> tuple[int, bytes]:
    """``GET path`` with exactly this ``Host`` line (or none); the status code and body."""
    with connect(server) as client:
        headers = f"Host: {host}\r\n" if host is not None else ""
        client.sendall(f"GET {path} {version}\r\n{headers}\r\n".encode())
        response = http.client.HTTPResponse(client)
        response.begin()
        return response.status, response.read()


# --- slow clients -------------------------------------------------------------------------------


def test_a_client_that_stops_mid_request_is_disconnected_after_the_timeout(serve):
    server = serve(timeout=0.3)
    with connect(server) as slowloris:
        slowloris.sendall(b"GET /stacks HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line

        assert closed_by_server(slowloris)


def test_a_client_trickling_bytes_is_disconnected_at_the_deadline_too(serve):
    server = serve(timeout=0.3)
    with connect(server) as trickler:
        trickler.sendall(b"GET /stacks HTTP/1.1\r\nX-Slow: ")
        closed = False
        for _ in range(200):  # one byte every 50 ms: each gap far shorter than the timeout
            try:
                trickler.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if select.select([trickler], [], [], 0.05)[0]:
                closed = closed_by_server(trickler)
                break

    assert closed


def test_many_idle_connections_do_not_block_a_real_request(serve):
    server = serve(timeout=30)
    idle = [connect(server) for _ in range(10)]
    try:
        assert request(server, "/stacks", f"127.0.0.1:{server.port}") == (
            200,
            (json.dumps(STATUS, indent=2) + "\n").encode(),
        )
    finally:
        for client in idle:
            client.close()


def test_connections_beyond_the_bound_get_503_until_idle_ones_time_out(serve):
    server = serve(timeout=0.5, max_connections=4)
    idle = [connect(server) for _ in range(4)]
    try:
        with connect(server) as one_more:
            answer = b""
            while chunk := one_more.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.0 503 Service Unavailable\r\n")
        assert answer.endswith(b"\r\n\r\ntoo many connections; retry later\n")

        assert all(closed_by_server(client) for client in idle)  # the server dropped the idle ones
        assert request(server, "/healthz", "localhost")[0] == 200  # and has room again
    finally:
        for client in idle:
            client.close()


# --- Host header --------------------------------------------------------------------------------


def test_a_request_for_another_host_name_is_refused(serve):
    server = serve()

    status, body = request(server, "/stacks", f"evil.example:{server.port}")

    assert status == 421
    assert b"dev" not in body
    assert (
        body
        == b"misdirected request: this endpoint answers to Host localhost, 127.0.0.1, [::1] (http.allowedHosts in driftless.yaml adds names)\n"
    )
    assert request(server, "/healthz", "evil.example")[0] == 421


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "localhost.:8080"]
)
def test_loopback_names_with_any_port_are_answered(serve, host):
    server = serve()

    status, body = request(server, "/stacks", host.format(port=server.port))

    assert status == 200
    assert json.loads(body) == STATUS


def test_allowed_hosts_add_names_and_a_star_allows_any(serve):
    named = serve(allowed_hosts=["driftless.internal"])
    anything = serve(allowed_hosts=["*"])

    assert request(named, "/stacks", f"driftless.internal:{named.port}")[0] == 200
    assert request(named, "/stacks", "other.internal")[0] == 421
    assert request(anything, "/stacks", "other.internal")[0] == 200


def test_a_missing_or_repeated_host_header_is_a_bad_request_in_http_1_1(serve):
    server = serve()

    assert request(server, "/stacks", None) == (400, b"one Host header is required\n")
    assert request(server, "/stacks", "127.0.0.1\r\nHost: evil.example")[0] == 400
    assert request(server, "/healthz", None, version="HTTP/1.0") == (200, b"ok\n")  # probes of old


# --- driftless.yaml -----------------------------------------------------------------------------


def test_the_http_settings_are_read_from_driftless_yaml(tmp_path):
    config = tmp_path / "driftless.yaml"
    config.write_text(
        "http: {allowedHosts: [driftless.internal, '[fd00::1]'], timeoutSeconds: 5, maxConnections: 8}\n"
    )

    http = load_settings(config).http

    assert (http.allowed_hosts, http.timeout_seconds, http.max_connections) == (
        ("driftless.internal", "[fd00::1]"),
        5,
        8,
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "{allowedHosts: ['driftless.internal:9464']}",
            "http.allowedHosts: 'driftless.internal:9464': give the name without a port (any port is accepted)",
        ),
        (
            "{allowedHosts: ['http://x/']}",
            "http.allowedHosts: 'http://x/' is not a host name or address (or *)",
        ),
        ("{timeoutSeconds: 0}", "http.timeoutSeconds: Input should be greater than 0"),
        ("{maxConnections: 0}", "http.maxConnections: Input should be greater than or equal to 1"),
        ("{allowedhosts: []}", "http.allowedhosts: unknown field"),
    ],
)
def test_bad_http_settings_name_the_file_and_field(tmp_path, value, message):
    config = tmp_path / "driftless.yaml"
    config.write_text(f"http: {value}\n")

    with pytest.raises(SettingsError) as raised:
        load_settings(config)

    assert str(raised.value) == f"{config}: {message}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_daemon_serves_with_the_settings_of_driftless_yaml(tmp_path):
    (tmp_path / "stacks").mkdir()
    config = tmp_path / "driftless.yaml"
    config.write_text("http: {allowedHosts: [driftless.internal]}\n")
    port = free_port()
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "automation",
            "run",
            "--dry-run",
            "--http-port",
            str(port),
            "--stacks-dir",
            str(tmp_path / "stacks"),
            "--state-dir",
            str(tmp_path / "state"),
            "--config",
            str(config),
        ],
        cwd=PROJECT_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert daemon.stderr is not None
    try:
        for line in daemon.stderr:  # wait until it listens and handles SIGTERM (it logs that after both)
            if "daemon.starting" in line:
                break
        assert request(port, "/healthz", f"driftless.internal:{port}") == (200, b"ok\n")
        assert request(port, "/healthz", f"evil.example:{port}")[0] == 421
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    assert daemon.returncode == 0


def test_an_ip_address_as_host_is_answered_but_an_unknown_name_is_not(serve):
    """A scrape by pod IP is never a rebinding (a page can only send its own DNS name)."""
    server = serve()
    assert request(server, "/metrics", "10.244.1.7:9464")[0] == 200
    assert request(server, "/metrics", "[fd00::7]:9464")[0] == 200
    assert request(server, "/metrics", "10.244.1.7.nip.io:9464")[0] == 421
