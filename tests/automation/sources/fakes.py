"""Local HTTP servers speaking the real protocols: Vault's KV v2 metadata API and a registry's /v2/."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class _Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                code, extra, body = server.answer("GET", self.path, headers)
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


class FakeVault(_Server):
    """Vault's KV v2 ``GET /v1/<mount>/metadata/<path>``, with token checks, as a real server answers."""

    def __init__(self, token: str, mounts: tuple[str, ...] = ("secret",)):
        self.token = token
        self.mounts = mounts
        self.versions: dict[tuple[str, str], int] = {}
        super().__init__()

    def write(self, mount: str, path: str) -> int:
        """Write (or rotate) a secret: its current version goes up by one."""
        key = (mount, path)
        self.versions[key] = self.versions.get(key, 0) + 1
        return self.versions[key]

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if headers.get("x-vault-token") != self.token:
            return 403, {}, {"errors": ["permission denied"]}
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) < 4 or parts[0] != "v1" or parts[2] != "metadata" or parts[1] not in self.mounts:
            return 404, {}, {"errors": []}
        mount, secret = parts[1], "/".join(parts[3:])
        current = self.versions.get((mount, secret))
        if current is None:
            return 404, {}, {"errors": []}
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        return (
            200,
            {},
            {
                "request_id": "0f0c3f2e-6f3a-4c0c-9a53-5e8a4a3f1b11",
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": {
                    "cas_required": False,
                    "created_time": now,
                    "current_version": current,
                    "custom_metadata": None,
                    "delete_version_after": "0s",
                    "max_versions": 0,
                    "oldest_version": 1,
                    "updated_time": now,
                    "versions": {
                        str(v): {"created_time": now, "deletion_time": "", "destroyed": False}
                        for v in range(1, current + 1)
                    },
                },
                "wrap_info": None,
                "warnings": None,
                "auth": None,
                "mount_type": "kv",
            },
        )


class FakeRegistry(_Server):
    """A registry's ``GET /v2/`` (Distribution spec): 200, or 401 with a challenge.

    ``bearer=False``: HTTP basic auth on ``/v2/``. ``bearer=True``: the token flow Harbor and Docker
    Hub use: ``/v2/`` asks for a Bearer token from ``/service/token``, which takes basic auth.
    """

    TOKEN = "opaque-registry-token"

    def __init__(self, username: str, password: str, *, bearer: bool = False):
        self.username = username
        self.password = password
        self.bearer = bearer
        super().__init__()

    def _basic_ok(self, headers: dict[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return headers.get("authorization") == expected

    def answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        route = path.split("?")[0].rstrip("/")
        if self.bearer and route == "/service/token":
            if not self._basic_ok(headers) or parse_qs(urlsplit(path).query).get("account") != [
                self.username
            ]:
                return 401, {"WWW-Authenticate": 'Basic realm="token"'}, {"errors": []}
            return 200, {}, {"token": self.TOKEN, "expires_in": 300}
        if route != "/v2":
            return 404, {}, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]}
        if self.bearer:
            accepted = headers.get("authorization") == f"Bearer {self.TOKEN}"
            realm = f'Bearer realm="{self.url}/service/token",service="fake-registry"'
        else:
            accepted = self._basic_ok(headers)
            realm = 'Basic realm="fake registry"'
        if not accepted:
            challenge = {"WWW-Authenticate": realm, "Docker-Distribution-API-Version": "registry/2.0"}
            return (
                401,
                challenge,
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
            )
        return 200, {"Docker-Distribution-API-Version": "registry/2.0"}, {}
