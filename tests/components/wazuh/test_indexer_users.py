"""Rotated indexer users: the Job's own script, run here against a loopback fake of the security
REST API that speaks TLS, asks for a client certificate signed by the cluster's CA, and checks
the method, the path, the headers and the JSON Patch, as OpenSearch's endpoint would receive them.

The Job's volumes are laid out under a temporary folder exactly as the pod would see them (each
mounted Secret key at its mount path); only that folder and the indexer's address differ.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from automation.render.render import RenderedResource
from components.wazuh.builders import Names, indexer_users_job, internal_users_patch, users_request
from components.wazuh.builders.indexer_users import CERT_FILES, PATCH_KEY, REFUSED_EXIT_CODE
from components.wazuh.spec import WazuhClusterSpec
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import READY, VAULT_VALUES, document, from_vault, written
from tests.harness import RenderedGraph

NAMES = Names("siem", "security")
ADMIN_HASH = "$2a$12$uBHZmTEl0bS6A0oYbB0uAeyXb0g7HQ3BpsjWXkEKbuWk0Qm3y8WmC"
DASHBOARD_HASH = "$2a$12$3v1QGEc6bWZrIYeJ.ZWm1uBfNWBq1Bcq2mS7sJpmTtY6lCmZ8Jrb."


# --- a CA, the indexer's server certificate and client certificates, as the cluster's PKI issues them


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, NAMES.name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wazuh"),
        ]
    )


@dataclass
class Pki:
    ca_key: rsa.RSAPrivateKey = field(default_factory=_key)

    def __post_init__(self) -> None:
        self.ca = self._sign(_name("root-ca"), self.ca_key, ca=True)

    def _sign(
        self, subject: x509.Name, key: rsa.RSAPrivateKey, ca: bool = False, dns: str | None = None
    ) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if ca else self.ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if dns:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def issue(self, common_name: str, dns: str | None = None) -> tuple[bytes, bytes]:
        """A certificate and its PKCS#8 key (as OpenSearch reads them), PEM."""
        key = _key()
        cert = self._sign(_name(common_name), key, dns=dns)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM), key_pem

    @property
    def ca_pem(self) -> bytes:
        return self.ca.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# --- the fake security REST API -------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_subject: dict[str, str]


@dataclass
class FakeSecurityApi:
    url: str
    answer: tuple[int, dict[str, Any]] = (200, {"status": "OK", "message": "Resource updated."})
    received: list[Received] = field(default_factory=list)


def _handler(api: FakeSecurityApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self) -> None:
            self._record("PATCH")

        def do_PUT(self) -> None:
            self._record("PUT")

        def do_POST(self) -> None:
            self._record("POST")

        def _record(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            peer = self.connection.getpeercert()  # type: ignore[attr-defined]
            subject = {key: value for rdn in peer["subject"] for key, value in rdn}
            api.received.append(Received(method, self.path, dict(self.headers), body, subject))
            code, payload = api.answer
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def security_api(pki: Pki, tmp_path: Path) -> Iterator[FakeSecurityApi]:
    """OpenSearch's REST port: TLS with the indexer's certificate, a client certificate required."""
    cert, key = pki.issue("indexer", dns="localhost")
    (tmp_path / "server.pem").write_bytes(cert)
    (tmp_path / "server-key.pem").write_bytes(key)
    (tmp_path / "server-ca.pem").write_bytes(pki.ca_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server-key.pem")
    context.load_verify_locations(tmp_path / "server-ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    api = FakeSecurityApi(url=f"https://localhost:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(api)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


# --- the Job, run as its pod would --------------------------------------------------------------------


def job() -> dict[str, Any]:
    return indexer_users_job(WazuhClusterSpec(), NAMES, "siem-indexer-users-0123456789", {})


def pod_files(root: Path, job: dict[str, Any], secrets: dict[str, dict[str, bytes]]) -> None:
    """Each mounted Secret key at its mount path under ``root``, as the kubelet would place it."""
    pod = job["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume["secret"] for volume in pod["volumes"]}
    for mount in pod["containers"][0]["volumeMounts"]:
        volume = volumes[mount["name"]]
        folder = root / mount["mountPath"].lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        for item in volume["items"]:
            (folder / item["path"]).write_bytes(secrets[volume["secretName"]][item["key"]])


def run_job(
    job: dict[str, Any], root: Path, indexer_url: str, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    curl = shutil.which("curl")
    if curl is None:
        pytest.fail("the Job's script needs curl: apt-get install curl")
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    env = {
        key: str(root / value.lstrip("/")) if value.startswith("/") else value for key, value in env.items()
    }
    env["INDEXER_URL"] = indexer_url
    env["PATH"] = str(Path(curl).parent) + ":/bin:/usr/bin"
    env["TMPDIR"] = str(tmp_path)
    return subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def admin_secrets(pki: Pki) -> dict[str, dict[str, bytes]]:
    cert, key = pki.issue("admin")
    return {
        NAMES.indexer_certs: {"root-ca.pem": pki.ca_pem, "admin.pem": cert, "admin-key.pem": key},
        NAMES.indexer_security: {PATCH_KEY: internal_users_patch(ADMIN_HASH, DASHBOARD_HASH).encode()},
    }


def test_the_job_sends_the_built_request_with_the_admin_certificate(security_api, admin_secrets, tmp_path):
    built = job()
    pod_files(tmp_path / "pod", built, admin_secrets)
    result = run_job(built, tmp_path / "pod", security_api.url, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "HTTP 200" in result.stdout

    expected = users_request(NAMES, ADMIN_HASH, DASHBOARD_HASH)
    [received] = security_api.received
    assert received.method == expected.method == "PATCH"
    assert expected.url == f"https://siem-indexer-api:9200{received.path}"
    assert received.path == "/_plugins/_security/api/internalusers"
    for header, value in expected.headers.items():
        assert received.headers[header] == value
    assert json.loads(received.body) == json.loads(expected.body)
    assert received.client_subject == {
        "commonName": "admin",
        "organizationalUnitName": "siem",
        "organizationName": "Wazuh",
    }


def test_the_patch_sets_only_the_hashes_of_the_users_the_cluster_owns():
    operations = json.loads(internal_users_patch(ADMIN_HASH, DASHBOARD_HASH))
    assert operations == [
        {"op": "add", "path": "/admin/hash", "value": ADMIN_HASH},
        {"op": "add", "path": "/kibanaserver/hash", "value": DASHBOARD_HASH},
    ]


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        pytest.param(403, REFUSED_EXIT_CODE, id="forbidden: fail the Job"),
        pytest.param(400, REFUSED_EXIT_CODE, id="invalid patch: fail the Job"),
        pytest.param(503, 1, id="security index not initialised yet: retry"),
        pytest.param(429, 1, id="too many requests: retry"),
    ],
)
def test_a_refusal_fails_the_job_and_anything_else_is_retried(
    security_api, admin_secrets, tmp_path, code, exit_code
):
    security_api.answer = (code, {"status": "error", "reason": f"answered {code}"})
    built = job()
    pod_files(tmp_path / "pod", built, admin_secrets)
    result = run_job(built, tmp_path / "pod", security_api.url, tmp_path)
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert f"answered {code}" in result.stdout  # the answer is in the pod's log
    rules = built["spec"]["podFailurePolicy"]["rules"]
    fails_the_job = [rule["onExitCodes"]["values"] for rule in rules if rule["action"] == "FailJob"]
    assert fails_the_job == [[REFUSED_EXIT_CODE]]


@contextlib.contextmanager
def port_without_listener() -> Iterator[int]:
    """A local port bound, so no one else takes it, and never listened on: connections are refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield int(bound.getsockname()[1])


def test_an_indexer_that_is_not_up_yet_is_retried(admin_secrets, tmp_path):
    built = job()
    pod_files(tmp_path / "pod", built, admin_secrets)
    with port_without_listener() as port:
        result = run_job(built, tmp_path / "pod", f"https://localhost:{port}", tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr


def test_a_server_signed_by_another_ca_gets_nothing(security_api, admin_secrets, tmp_path):
    """The Job trusts only the cluster's CA: a man in the middle never receives the hashes."""
    other = Pki()
    admin_secrets[NAMES.indexer_certs]["root-ca.pem"] = other.ca_pem
    built = job()
    pod_files(tmp_path / "pod", built, admin_secrets)
    result = run_job(built, tmp_path / "pod", security_api.url, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert security_api.received == []


def test_the_job_mounts_the_admin_pair_and_the_ca_only():
    pod = job()["spec"]["template"]["spec"]
    mounted = {volume["secret"]["secretName"]: volume["secret"]["items"] for volume in pod["volumes"]}
    assert {item["key"] for item in mounted[NAMES.indexer_certs]} == set(CERT_FILES)
    assert {item["key"] for item in mounted[NAMES.indexer_security]} == {PATCH_KEY}
    assert pod["restartPolicy"] == "Never"


# --- the Job in the stack -------------------------------------------------------------------------

JOB = "kubernetes:batch/v1:Job"


def users_job(graph: RenderedGraph) -> RenderedResource:
    [written_job] = written(graph, JOB)
    return written_job


def test_the_job_is_named_by_the_indexer_users_passwords_and_runs_after_the_indexer(render):
    graph = from_vault(render)
    job = users_job(graph)
    assert job.name == "siem-indexer-users"
    assert re.fullmatch(r"siem-indexer-users-[0-9a-f]{10}", job.inputs["metadata"]["name"])
    assert {"siem-indexer", "siem-indexer-certs", "siem-indexer-security"} <= set(job.depends_on)
    # the request body (bcrypt hashes) travels as a secret, beside internal_users.yml
    assert graph.input("siem-indexer-security", "stringData", "kubernetes:core/v1:Secret") == "[secret]"


@pytest.mark.parametrize(
    ("key", "new_job"),
    [
        ("admin", True),
        ("kibanaserver", True),
        ("api", False),
        ("clusterKey", False),
        ("authd", False),
    ],
)
def test_a_rotated_indexer_user_names_a_new_job_and_nothing_else_does(render, key, new_job):
    before = users_job(from_vault(render)).inputs["metadata"]["name"]
    again = users_job(from_vault(render)).inputs["metadata"]["name"]
    after = users_job(from_vault(render, **{key: VAULT_VALUES[key] + "-rotated"})).inputs["metadata"]["name"]
    assert before == again  # the same passwords: the Job that already ran stays
    assert (after != before) == new_job


def status_with(render, job_status: dict[str, Any] | None) -> dict[str, Any]:
    statuses = {**READY, "siem-indexer-users": job_status} if job_status else dict(READY)
    if job_status is None:
        statuses.pop("siem-indexer-users")
    graph = render([document()], outputs=fakes.all_outputs(statuses))
    return dict(graph.outputs()["WazuhCluster/siem"])


def test_status_shows_the_users_loaded_once_the_job_completed(render):
    status = status_with(render, fakes.job_complete())
    assert status["phase"] == "Running"
    assert status["ready"] == "True"
    assert status["indexerUsers"]["phase"] == "Loaded"
    assert re.fullmatch(r"siem-indexer-users-[0-9a-f]{10}", status["indexerUsers"]["job"])


@pytest.mark.parametrize("job_status", [None, fakes.job_retrying(failed=2)])
def test_status_is_not_ready_while_the_users_are_loading(render, job_status):
    status = status_with(render, job_status)
    assert status["phase"] == "Creating"
    assert status["ready"] == "False"
    assert status["indexerUsers"]["phase"] == "Loading"
    assert "indexerUsers: loading the indexer users" in status["message"]
    assert status["requeueAfterSeconds"] == 10
    if job_status:
        assert "2 failed attempt(s)" in status["message"]


def test_a_refused_request_fails_the_cluster_with_the_jobs_reason(render):
    status = status_with(render, fakes.job_refused())
    assert status["phase"] == "Failed"
    assert (status["ready"], status["reason"]) == ("False", "IndexerUsersFailed")
    assert "FailJob rule" in status["indexerUsers"]["message"]
