"""A loopback Kubernetes apiserver: HTTPS with its own CA, bearer tokens, ``Status`` errors.

It serves what the daemon's own calls use, as kube-apiserver does:

- ``GET /api/v1/namespaces/{ns}/secrets/{name}``: the Secret (``v1``), or only its metadata
  (``meta.k8s.io/v1`` ``PartialObjectMetadata``) when the ``Accept`` header asks for it;
- ``coordination.k8s.io/v1`` Leases: list (with a label selector), get, create (409 when the
  name exists), replace and delete (409 when the ``resourceVersion`` written is not the current).

Every write bumps one resourceVersion counter, as etcd's revision does. ``down`` makes it answer
503 to everything, as an apiserver that lost etcd.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SECRET_PATH = "/api/v1/namespaces/{}/secrets/{}"
_LEASES = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$")


def _certificate_pair() -> tuple[bytes, bytes, bytes]:
    """A CA certificate and a server certificate for 127.0.0.1 signed by it (PEM): ca, cert, key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apiserver-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem


class FakeApiserver:
    """Secrets by (namespace, name); ``token`` is the one bearer token it accepts."""

    def __init__(self, token: str, *, forbidden_namespaces: tuple[str, ...] = ()):
        self.token = token
        self.forbidden = set(forbidden_namespaces)
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.leases: dict[tuple[str, str], dict[str, Any]] = {}
        self.down = False
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._revision = 100
        self._lock = threading.Lock()
        self.ca_pem, cert_pem, key_pem = _certificate_pair()
        self._folder = tempfile.TemporaryDirectory(prefix="fake-apiserver-")
        cert_file, key_file = Path(self._folder.name) / "tls.crt", Path(self._folder.name) / "tls.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    def write_secret(self, namespace: str, name: str, data: dict[str, str]) -> str:
        """Create or replace a Secret (a rotation); its new resourceVersion."""
        with self._lock:
            self._revision += 1
            self.secrets[(namespace, name)] = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "resourceVersion": str(self._revision),
                    "uid": f"uid-{namespace}-{name}",
                },
                "type": "kubernetes.io/dockerconfigjson",
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
            }
            return str(self._revision)

    def kubeconfig(self, path: Path, *, token: str | None = None, context: str = "sandbox") -> Path:
        """A kubeconfig for this server: its CA inline, a bearer token, ``context`` current."""
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": "daemon", "user": {"token": token or self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": "daemon"}}],
            "current-context": context,
        }
        path.write_text(yaml.safe_dump(document))
        return path

    def holders(self, namespace: str = "driftless") -> dict[str, str | None]:
        """Lease name -> holderIdentity."""
        with self._lock:
            return {
                name: lease["spec"].get("holderIdentity")
                for (ns, name), lease in self.leases.items()
                if ns == namespace
            }

    def lease(self, name: str, namespace: str = "driftless") -> dict[str, Any] | None:
        with self._lock:
            return self.leases.get((namespace, name))

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._folder.cleanup()

    def _answer(
        self, path: str, headers: dict[str, str], method: str = "GET", body: Any = None
    ) -> tuple[int, dict[str, Any]]:
        if self.down:
            return 503, _status(503, "ServiceUnavailable", "etcd is unreachable")
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        url = urlsplit(path)
        if match := _LEASES.match(url.path):
            return self._lease(method, match["ns"], match["name"], url.query, body)
        parts = path.split("?")[0].strip("/").split("/")
        if len(parts) != 6 or parts[:3] != ["api", "v1", "namespaces"] or parts[4] != "secrets":
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        namespace, name = parts[3], parts[5]
        if namespace in self.forbidden:
            message = f'secrets "{name}" is forbidden: User "daemon" cannot get resource "secrets"'
            return 403, _status(403, "Forbidden", message)
        with self._lock:
            secret = self.secrets.get((namespace, name))
        if secret is None:
            return 404, _status(404, "NotFound", f'secrets "{name}" not found')
        if "as=PartialObjectMetadata" in headers.get("accept", ""):
            return 200, {
                "apiVersion": "meta.k8s.io/v1",
                "kind": "PartialObjectMetadata",
                "metadata": secret["metadata"],
            }
        return 200, secret

    def _lease(
        self, method: str, namespace: str, name: str | None, query: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
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
            if method == "POST":
                name = body["metadata"]["name"]
                if (namespace, name) in self.leases:
                    return 409, _status(409, "AlreadyExists", f'leases "{name}" already exists')
                return 201, self._store_lease(namespace, str(name), body)
            current = self.leases.get((namespace, name or ""))
            if current is None:
                return 404, _status(404, "NotFound", f'leases "{name}" not found')
            if method == "GET":
                return 200, current
            if method == "PUT":
                if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                    return 409, _status(
                        409, "Conflict", "the object has been modified; please apply your changes"
                    )
                return 200, self._store_lease(namespace, name or "", body)
            if method == "DELETE":
                del self.leases[(namespace, name or "")]
                return 200, _status(200, "Success", "deleted")
        return 405, _status(405, "MethodNotAllowed", method)

    def _store_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self._revision += 1
        stored = json.loads(json.dumps(body))
        stored["metadata"].update(namespace=namespace, name=name, resourceVersion=str(self._revision))
        self.leases[(namespace, name)] = stored
        return stored

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                length = int(headers.get("content-length") or 0)
                sent = json.loads(self.rfile.read(length)) if length else None
                code, body = server._answer(self.path, headers, self.command, sent)
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PUT(self) -> None:
                self._serve()

            def do_DELETE(self) -> None:
                self._serve()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
