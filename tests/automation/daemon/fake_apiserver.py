"""A loopback Kubernetes apiserver for ``coordination.k8s.io/v1`` Leases, at the wire.

It keeps what the real one promises the Lease code relies on: a bearer token is required,
``resourceVersion`` changes on every write, a PUT or DELETE naming an older version is refused
with 409, a POST of an existing name is 409, label selectors filter a list, and errors come back
as ``Status`` objects.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "fake-apiserver-token"
_PATH = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$")


class FakeApiserver:
    def __init__(self) -> None:
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0
        self.requests: list[tuple[str, str]] = []
        self.down = False  # answer every request 503, as an apiserver that cannot reach etcd
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def holders(self, namespace: str = "driftless") -> dict[str, str | None]:
        with self._lock:
            return {
                name: lease["spec"].get("holderIdentity")
                for (ns, name), lease in self.leases.items()
                if ns == namespace
            }

    def lease(self, name: str, namespace: str = "driftless") -> dict[str, Any] | None:
        with self._lock:
            return self.leases.get((namespace, name))

    def kubeconfig(self, token: str = TOKEN) -> str:
        return json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "users": [{"name": "fake", "user": {"token": token}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )

    # --- the wire

    def _handle(self, method: str, path: str, query: str, body: Any, token: str | None) -> tuple[int, Any]:
        self.requests.append((method, path))
        if self.down:
            return 503, _status(503, "ServiceUnavailable", "etcd is unreachable")
        if token != TOKEN:
            return 401, _status(401, "Unauthorized", "Unauthorized")
        match = _PATH.match(path)
        if match is None:
            return 404, _status(404, "NotFound", f"the server could not find {path}")
        namespace, name = match["ns"], match["name"]
        with self._lock:
            if method == "GET" and name is None:
                selector = parse_qs(query).get("labelSelector", [""])[0]
                wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
                items = [
                    lease
                    for (ns, _), lease in sorted(self.leases.items())
                    if ns == namespace and wanted.items() <= lease["metadata"].get("labels", {}).items()
                ]
                return 200, {"kind": "LeaseList", "apiVersion": "coordination.k8s.io/v1", "items": items}
            current = self.leases.get((namespace, name or ""))
            if method == "GET":
                return (
                    (200, current)
                    if current
                    else (404, _status(404, "NotFound", f'leases "{name}" not found'))
                )
            if method == "POST":
                name = body["metadata"]["name"]
                if (namespace, name) in self.leases:
                    return 409, _status(409, "AlreadyExists", f'leases "{name}" already exists')
                return 201, self._store(namespace, name, body)
            if current is None:
                return 404, _status(404, "NotFound", f'leases "{name}" not found')
            if method == "PUT":
                if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                    return 409, _status(
                        409, "Conflict", "the object has been modified; please apply your changes"
                    )
                return 200, self._store(namespace, name or "", body)
            if method == "DELETE":
                wanted_version = ((body or {}).get("preconditions") or {}).get("resourceVersion")
                if wanted_version and wanted_version != current["metadata"]["resourceVersion"]:
                    return 409, _status(409, "Conflict", "precondition failed: resourceVersion")
                del self.leases[(namespace, name or "")]
                return 200, _status(200, "Success", "deleted")
        return 405, _status(405, "MethodNotAllowed", method)

    def _store(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = json.loads(json.dumps(body))
        stored["metadata"].update(namespace=namespace, name=name, resourceVersion=str(self.version))
        self.leases[(namespace, name)] = stored
        return stored

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None
                code, answer = fake._handle(self.command, url.path, url.query, body, token)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        return Handler

    @contextmanager
    def running(self) -> Iterator[FakeApiserver]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
