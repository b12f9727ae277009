"""Bad WazuhCluster documents are rejected whole, each problem with file, line and field."""

from __future__ import annotations

import pytest

from components.documents import StackFileError, load_stack_text
from components.wazuh.spec import WazuhClusterSpec

FILE = "stacks/dev.yaml"
GOOD = """\
apiVersion: driftless.dev/v1alpha1
kind: WazuhCluster
metadata:
  name: siem
  namespace: security
spec:
  version: "4.14.6"
  indexer:
    replicas: 3
    storage: 50Gi
    resources: {limits: {memory: 2Gi}}
  manager:
    workers:
      replicas: 2
  dashboard:
    replicas: 1
  certificates:
    caValidityHours: 87600
    validityHours: 8760
    renewBeforeHours: 720
  logRotation:
    enabled: true
    schedule: "0 0 * * *"
    retentionDays: 7
"""


def replace(old: str, new: str) -> tuple[str, int]:
    """The good document with one line changed, and that line's number."""
    lines = GOOD.splitlines()
    index = lines.index(old)
    lines[index] = new
    return "\n".join(lines) + "\n", index + 1


def test_the_good_document_loads_with_the_spec_defaults():
    [document] = load_stack_text(GOOD, FILE)
    spec = document.spec
    assert isinstance(spec, WazuhClusterSpec)
    assert (spec.indexer.replicas, spec.manager.workers.replicas, spec.wait_for_ready) == (3, 2, False)
    assert spec.manager.master.storage == "50Gi"
    assert document.namespace == "security"


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("    replicas: 3", "    replicas: 0", "spec.indexer.replicas", "must be >= 1"),
        ("      replicas: 2", "      replicas: -1", "spec.manager.workers.replicas", "must be >= 1"),
        ("    replicas: 1", "    replicas: 0", "spec.dashboard.replicas", "must be >= 1"),
        ("    storage: 50Gi", "    storage: 50 gigs", "spec.indexer.storage", "not a Kubernetes quantity"),
        ("    storage: 50Gi", '    storage: "-5Gi"', "spec.indexer.storage", "is negative"),
        ("    storage: 50Gi", '    storage: "0"', "spec.indexer.storage", "not a positive size"),
        (
            "    resources: {limits: {memory: 2Gi}}",
            '    resources: {limits: {cpu: "-1"}}',
            "spec.indexer.resources.limits.cpu",
            "is negative",
        ),
        (
            "    resources: {limits: {memory: 2Gi}}",
            "    resources: {limits: {memory: 2 gigs}}",
            "spec.indexer.resources.limits.memory",
            "not a Kubernetes quantity",
        ),
        ('    schedule: "0 0 * * *"', '    schedule: "every night"', "spec.logRotation.schedule", "cron"),
        ('    schedule: "0 0 * * *"', '    schedule: "61 0 * * *"', "spec.logRotation.schedule", "cron"),
        ("    retentionDays: 7", "    retentionDays: 0", "spec.logRotation.retentionDays", "must be >= 1"),
        ("  namespace: security", "  namespace: Security_Tools", "metadata.namespace", "DNS-1123 label"),
        (
            "    renewBeforeHours: 720",
            "    renewBeforeHours: 8760",
            "spec.certificates.renewBeforeHours",
            "must be < validityHours",
        ),
        ('  version: "4.14.6"', '  version: "5.0.0"', "spec.version", "not a Wazuh 4.x version"),
        (
            '  version: "4.14.6"',
            "  credentials: {indexerAdmin: hunter2}",
            "spec.credentials.indexerAdmin",
            "must be a vault://",
        ),
        ('  version: "4.14.6"', "  waitForReadiness: true", "spec.waitForReadiness", "unknown field"),
        ('  version: "4.14.6"', "  deletionPolicy: Keep", "spec.deletionPolicy", "'Retain' or 'Delete'"),
    ],
)
def test_bad_input_is_rejected_with_file_line_and_field(old, new, path, message):
    text, line = replace(old, new)
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, FILE)
    [error] = caught.value.errors
    assert (error.file, error.line, error.subject, error.path) == (FILE, line, "WazuhCluster/siem", path)
    assert message in error.message
    assert str(error).startswith(f"{FILE}:{line}: WazuhCluster/siem: {path}: ")


def test_numbers_are_quantities_as_in_a_kubernetes_manifest():
    text, _ = replace(
        "    resources: {limits: {memory: 2Gi}}", "    resources: {requests: {cpu: 1}, limits: {cpu: 1.5}}"
    )
    [document] = load_stack_text(text, FILE)
    spec = document.spec
    assert isinstance(spec, WazuhClusterSpec)
    assert spec.indexer.resources is not None
    assert spec.indexer.resources.to_kubernetes() == {"requests": {"cpu": "1"}, "limits": {"cpu": "1.5"}}


def test_renewal_window_must_be_shorter_than_the_ca_lifetime():
    text = GOOD.replace("caValidityHours: 87600", "caValidityHours: 100")
    text = text.replace("validityHours: 8760", "validityHours: 200").replace(
        "renewBeforeHours: 720", "renewBeforeHours: 150"
    )
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, FILE)
    found = {(e.line, e.path): e.message for e in caught.value.errors}
    assert "cannot outlive its CA" in found[(19, "spec.certificates.validityHours")]
    assert "must be < caValidityHours (100)" in found[(20, "spec.certificates.renewBeforeHours")]


def test_every_problem_is_reported_at_once():
    text, _ = replace("    replicas: 3", "    replicas: 0")
    text = text.replace("storage: 50Gi", "storage: 50 gigs")
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, FILE)
    assert {e.path for e in caught.value.errors} == {"spec.indexer.replicas", "spec.indexer.storage"}


def test_a_rejected_stack_renders_nothing(render, tmp_path):
    text, line = replace("    storage: 50Gi", "    storage: 50 gigs")
    stack = tmp_path / "bad.yaml"
    stack.write_text(text)
    graph = render(stack)
    assert graph.resources == []
    [problem] = graph.result.problems
    assert (problem.file, problem.line, problem.path) == (str(stack), line, "spec.indexer.storage")
