"""A WazuhCluster on the real engine: certificates from the real tls provider, credentials from the
real random provider, every object on the real apiserver, and no secret in plain state."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509

from tests.engine.conftest import Project
from tests.engine.stacks import rendered_objects

pytestmark = pytest.mark.engine

WAZUH = """\
kind: WazuhCluster
metadata: {name: siem, namespace: siem-NS}
spec:
  indexer: {replicas: 3, storage: 1Gi}
  manager:
    master: {storage: 1Gi}
    workers: {replicas: 1, storage: 1Gi}
  dashboard: {enabled: true, replicas: 1}
  certificates: {caValidityHours: 87600, validityHours: 8760, renewBeforeHours: 720}
  logRotation: {enabled: true, schedule: "0 3 * * *", retentionDays: 7}
"""


def secret_data(project: Project, name: str, namespace: str) -> dict[str, bytes]:
    secret = project.sandbox.kube.get("Secret", name, namespace)
    assert secret is not None, f"Secret {namespace}/{name} is missing"
    return {key: base64.b64decode(value) for key, value in secret["data"].items()}


def test_a_wazuh_cluster_is_applied_with_real_certificates_and_no_plain_secret_in_state(
    project: Project,
) -> None:
    project.write_stack("siem", WAZUH.replace("NS", "engine"))
    expected = rendered_objects(project.render("siem"))
    first = project.run("up", "--stack", "siem")
    assert "0 to delete" in first.stdout, first.stdout
    kube = project.sandbox.kube
    live = {(kind, ns, name) for kind, ns, name in expected if kube.get(kind, name, ns or None) is not None}
    assert live == expected

    # The indexer certificate names every indexer pod, and the stack's own CA signed it.
    certs = secret_data(project, "siem-indexer-certs", "siem-engine")
    ca = x509.load_pem_x509_certificate(certs["root-ca.pem"])
    node = x509.load_pem_x509_certificate(certs["node.pem"])
    node.verify_directly_issued_by(ca)
    names = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    for pod in range(3):
        assert f"siem-indexer-{pod}.siem-indexer.siem-engine.svc.cluster.local" in dns, dns
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca

    # Generated credentials and private keys reach their Secrets, and never Pulumi's state in plain.
    plain = [
        value
        for secret in ("siem-indexer-cred", "siem-api-cred", "siem-dashboard-cred", "siem-cluster-key")
        for value in secret_data(project, secret, "siem-engine").values()
        if len(value) >= 8
    ]
    plain.append(certs["node-key.pem"])
    assert plain
    state = b"".join(path.read_bytes() for path in project.backend.rglob("*.json"))
    for value in plain:
        assert value not in state
        assert base64.b64encode(value) not in state
        assert json.dumps(value.decode(errors="replace"))[1:-1].encode() not in state

    second = project.run("up", "--stack", "siem")
    assert "0 to create, 0 to update, 0 to delete" in second.stdout, second.stdout
