"""The registry check against a local HTTP server that speaks the Docker Registry v2 handshake."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from components.kapsa.registry_check import credentials_from_docker_config, parse_challenge, verify_registry

USER, PASSWORD = "robot$ci", "s3cr3t-pa55"
TOKEN = "opaque-token-123"


@dataclass
class FakeRegistry:
    """What the fake registry does, and what it saw."""

    mode: str  # "bearer" | "basic" | "open" | "broken"
    host: str = ""
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def server(self) -> str:
        return self.host


def _basic_ok(header: str | None) -> bool:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return header == expected


def _handler(registry: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def _send(self, code: int, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            auth = self.headers.get("Authorization")
            path = urlsplit(self.path)
            registry.requests.append((path.path, auth))
            if registry.mode == "broken":
                self._send(500)
            elif registry.mode == "open":
                self._send(200)
            elif path.path == "/v2/" and registry.mode == "basic":
                if _basic_ok(auth):
                    self._send(200)
                else:
                    self._send(401, headers={"WWW-Authenticate": 'Basic realm="Registry Realm"'})
            elif path.path == "/v2/":
                if auth == f"Bearer {TOKEN}":
                    self._send(200)
                else:
                    realm = f"http://{registry.host}/service/token"
                    challenge = f'Bearer realm="{realm}",service="harbor-registry"'
                    self._send(401, headers={"WWW-Authenticate": challenge})
            elif path.path == "/service/token":
                query = parse_qs(path.query)
                if (
                    _basic_ok(auth)
                    and query.get("service") == ["harbor-registry"]
                    and query.get("account") == [USER]
                ):
                    self._send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())
                else:
                    self._send(401, headers={"WWW-Authenticate": 'Basic realm="token"'})
            else:
                self._send(404)

    return Handler


@pytest.fixture
def registry(request: pytest.FixtureRequest) -> Iterator[FakeRegistry]:
    fake = FakeRegistry(mode=request.param)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.host = f"127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_the_token_flow_verifies_good_credentials(registry: FakeRegistry):
    result = verify_registry(registry.server, USER, PASSWORD, scheme="http", timeout=5)
    assert result.verified, result.message
    # anonymous probe, token request with basic auth, probe with the bearer token
    assert [p for p, _ in registry.requests] == ["/v2/", "/service/token", "/v2/"]
    assert registry.requests[-1][1] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("registry", ["bearer"], indirect=True)
def test_the_token_flow_rejects_bad_credentials_without_echoing_them(registry: FakeRegistry):
    result = verify_registry(registry.server, USER, "wrong-password", scheme="http", timeout=5)
    assert not result.verified
    assert "rejected" in result.message
    assert "wrong-password" not in result.message


@pytest.mark.parametrize("registry", ["basic"], indirect=True)
def test_basic_authentication_verifies_good_credentials(registry: FakeRegistry):
    result = verify_registry(registry.server, USER, PASSWORD, scheme="http", timeout=5)
    assert result.verified, result.message


@pytest.mark.parametrize("registry", ["basic"], indirect=True)
def test_basic_authentication_rejects_bad_credentials(registry: FakeRegistry):
    result = verify_registry(registry.server, "nobody", PASSWORD, scheme="http", timeout=5)
    assert not result.verified
    assert "rejected" in result.message
    assert PASSWORD not in result.message


@pytest.mark.parametrize("registry", ["broken"], indirect=True)
def test_a_server_error_is_not_verified(registry: FakeRegistry):
    result = verify_registry(registry.server, USER, PASSWORD, scheme="http", timeout=5)
    assert not result.verified
    assert "500" in result.message


def test_a_server_that_is_down_is_not_verified():
    with socket.socket() as probe:  # a port nobody listens on: bind, then close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = verify_registry(f"127.0.0.1:{port}", USER, PASSWORD, scheme="http", timeout=2)
    assert not result.verified
    assert "cannot reach" in result.message


def test_challenges_are_parsed_with_quoted_commas():
    challenge = parse_challenge(
        'Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push"'
    )
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.io/token",
        "service": "registry.io",
        "scope": "repository:a/b:pull,push",
    }


def test_credentials_are_found_in_a_docker_config_by_server():
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    config = json.dumps(
        {"auths": {"https://harbor.corp.com/v1/": {"auth": auth}, "other.io": {"auth": "eDp5"}}}
    )
    assert credentials_from_docker_config(config, "harbor.corp.com") == (USER, PASSWORD)
    explicit = {"auths": {"harbor.corp.com": {"username": "u", "password": "p"}}}
    assert credentials_from_docker_config(explicit, "harbor.corp.com") == ("u", "p")
    assert credentials_from_docker_config(config, "quay.io") is None


@pytest.mark.parametrize("registry", ["open"], indirect=True)
def test_a_registry_that_needs_no_authentication_is_reachable(registry: FakeRegistry):
    result = verify_registry(registry.server, USER, PASSWORD, scheme="http", timeout=5)
    assert result.verified
    assert "without authentication" in result.message
