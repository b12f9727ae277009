"""The status endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from automation.http import StatusServer
from automation.metrics import Metrics

STATUS = {
    "stacks": [
        {
            "name": "dev",
            "phase": "Ready",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "UpSucceeded", "message": "3 created"}
            ],
            "fingerprint": "sha256:abc",
        }
    ]
}


class Daemon:
    """What the daemon hands the server: a status callback and a readiness flag."""

    def __init__(self) -> None:
        self.ready = False
        self.status: dict[str, Any] = STATUS
        self.broken = False

    def get_status(self) -> dict[str, Any]:
        if self.broken:
            raise RuntimeError("status store unavailable")
        return self.status


@pytest.fixture
def daemon() -> Daemon:
    return Daemon()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def server(daemon: Daemon, metrics: Metrics) -> Iterator[StatusServer]:
    server = StatusServer(daemon.get_status, metrics, lambda: daemon.ready, port=0)
    server.start()
    yield server
    server.stop()


def get(server: StatusServer, path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_start_binds_a_free_port_on_localhost(server: StatusServer) -> None:
    assert server.port > 0
    assert server.host == "127.0.0.1"


def test_healthz_answers_ok(server: StatusServer) -> None:
    assert get(server, "/healthz")[::2] == (200, b"ok\n")


def test_readyz_follows_the_daemon(server: StatusServer, daemon: Daemon) -> None:
    assert get(server, "/readyz")[0] == 503
    daemon.ready = True
    assert get(server, "/readyz")[0] == 200


def test_stacks_is_the_status_as_json(server: StatusServer, daemon: Daemon) -> None:
    code, content_type, body = get(server, "/stacks")

    assert code == 200
    assert content_type == "application/json"
    assert json.loads(body) == STATUS

    daemon.status = {"stacks": []}
    assert json.loads(get(server, "/stacks")[2]) == {"stacks": []}


def test_metrics_is_the_prometheus_exposition(server: StatusServer, metrics: Metrics) -> None:
    metrics.count_operation("up", "succeeded")
    metrics.set_stack_phases({"dev": "Ready", "prod": "Stalled"})

    code, content_type, body = get(server, "/metrics")

    assert code == 200
    assert content_type.startswith("text/plain")
    text = body.decode()
    assert 'driftless_operations_total{kind="up",result="succeeded"} 1.0' in text
    assert 'driftless_stacks{phase="Stalled"} 1.0' in text


def test_a_failing_status_is_a_500_and_the_server_keeps_serving(server: StatusServer, daemon: Daemon) -> None:
    daemon.broken = True
    code, _, body = get(server, "/stacks")

    assert code == 500
    assert b"status store unavailable" not in body  # details go to the log, not to the client
    assert get(server, "/healthz")[0] == 200


def test_an_unknown_path_is_404(server: StatusServer) -> None:
    assert get(server, "/nope")[0] == 404


def test_stop_releases_the_port(daemon: Daemon, metrics: Metrics) -> None:
    server = StatusServer(daemon.get_status, metrics, lambda: True, port=0)
    port = server.start()
    server.stop()

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
