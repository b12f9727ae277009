"""A loopback Kubernetes apiserver for Secrets: HTTPS with its own CA, bearer tokens, Status errors.

It answers ``GET /api/v1/namespaces/{ns}/secrets/{name}`` as kube-apiserver does: the Secret
(``v1``), or only its metadata (``meta.k8s.io/v1`` ``PartialObjectMetadata``) when the ``Accept``
header asks for it; ``401``/``403``/``404`` as ``Status`` objects. Every write bumps one
resourceVersion counter, as etcd's revision does.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SECRET_PATH = "/api/v1/namespaces/{}/secrets/{}"


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

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._folder.cleanup()

    def _answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append((self.path, headers))
                code, body = server._answer(self.path, headers)
                payload = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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
