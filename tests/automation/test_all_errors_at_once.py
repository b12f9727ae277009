"""A stack file with one error of each class gets them all at once, wherever it is read.

Through ``render``, the daemon's cycle (``run --once --dry-run``) and the Pulumi commands (``up``):
metadata, spec, references, rules across documents and the checks that need the program's context
(a connector package folder) come together, each with its line and field, and nothing is applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.cli import main

EVERY_CLASS = """kind: WandB
metadata:
  name: Bad-Name
---
kind: WazuhCluster
metadata:
  name: siem
spec:
  indexer: {replicas: 0}
---
kind: Registry
metadata:
  name: harbor
spec: {server: harbor.corp.com, repositoryPrefix: myapp, credentialsSecret: push}
---
kind: Project
metadata:
  name: api
spec:
  repo: {url: "https://git.corp.com/acme/api.git"}
  domainPool: missing-pool
  registry: harbor
  environments:
    - {name: dev, branch: "bad..branch"}
    - {name: dev}
---
kind: WandB
metadata:
  name: ml
  namespace: shared
---
kind: WazuhCluster
metadata:
  name: logs
  namespace: shared
---
kind: FivetranConnector
metadata:
  name: custom
spec:
  groupId: sales
  service: connector_sdk
  package: nope
  destinationSchema: {name: custom}
"""

EVERY_ERROR = [
    (3, "WandB/Bad-Name", "metadata.name", "'Bad-Name' is not a DNS-1123 label"),
    (9, "WazuhCluster/siem", "spec.indexer.replicas", "must be >= 1"),
    (21, "Project/api", "spec.domainPool", "DomainPool 'missing-pool' is not defined in this stack"),
    (23, "Project/api", "spec.environments", "environments[0] and environments[1] are both named 'dev'"),
    (24, "Project/api", "spec.environments[0].branch", "'bad..branch' is not a git branch name"),
    (35, "WazuhCluster/logs", "metadata.namespace", "namespace 'shared' is already created by WandB/ml"),
    (43, "FivetranConnector/custom", "spec.package", "no connector folder 'nope' in connectors/"),
]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    return tmp_path


def dirs(project: Path) -> list[str]:
    stacks, state = project / "stacks", project / "state"
    return ["--project-dir", str(project), "--stacks-dir", str(stacks), "--state-dir", str(state)]


def write(project: Path, name: str, text: str) -> Path:
    path = project / "stacks" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def errors_printed(stderr: str, stack_file: Path) -> list[tuple[int, str, str, str]]:
    """``error: <file>:<line>: <Kind/name>: <field>: <message>`` lines, as tuples."""
    found = []
    for line in stderr.splitlines():
        where, _, rest = line.removeprefix("error: ").partition(": ")
        if line.startswith("error: ") and where.startswith(f"{stack_file}:"):
            subject, path, message = rest.split(": ", 2)
            found.append((int(where.rpartition(":")[2]), subject, path, message))
    return found


def assert_every_error(found: list[tuple[int, str, str, str]]) -> None:
    assert [(line, subject, path) for line, subject, path, _ in found] == [e[:3] for e in EVERY_ERROR]
    for (*_, message), (*_, expected) in zip(found, EVERY_ERROR, strict=True):
        assert expected in message


def test_render_reports_every_class_of_error_in_one_pass(tmp_path, capsys):
    stack_file = tmp_path / "all.yaml"
    stack_file.write_text(EVERY_CLASS, encoding="utf-8")

    assert main(["render", "--file", str(stack_file)]) == 1

    out, err = capsys.readouterr()
    assert_every_error(errors_printed(err, stack_file))
    assert "stack all: 0 resources" in out
    assert out.rstrip().endswith(f"invalid: {len(EVERY_ERROR)} problem(s)")


def test_the_daemon_cycle_reports_every_error_of_the_file_at_once(project, capsys):
    stack_file = write(project, "all", EVERY_CLASS)

    assert main(["run", "--once", "--dry-run", "--http-port", "0", *dirs(project)]) == 1

    outcome = capsys.readouterr().out.strip()
    assert outcome.startswith(
        f"all: failed: stalled (InvalidSpec): {len(EVERY_ERROR)} problem(s) in all.yaml: "
        f"{stack_file}:3: WandB/Bad-Name: metadata.name: "
    )
    for line, subject, path, message in EVERY_ERROR:  # the status message lists them all
        assert f"{stack_file}:{line}: {subject}: {path}: " in outcome
        assert message in outcome


def test_up_reports_every_error_of_the_file_before_touching_anything(project, capsys):
    stack_file = write(project, "all", EVERY_CLASS)

    assert main(["up", "--stack", "all", *dirs(project)]) == 1

    err = capsys.readouterr().err
    assert_every_error(errors_printed(err, stack_file))
    assert "PulumiCliMissing" not in err  # refused before Pulumi is even looked for


CONNECTOR = """kind: FivetranConnector
metadata:
  name: custom
spec:
  groupId: sales
  service: connector_sdk
  package: custom
  destinationSchema: {name: custom}
"""


def test_context_checks_read_the_connectors_folder_the_stack_config_names(project, capsys):
    stack_file = write(project, "all", "kind: WandB\nmetadata: {name: Bad-Name}\n---\n" + CONNECTOR)
    assert main(["up", "--stack", "all", *dirs(project)]) == 1
    assert [e[:3] for e in errors_printed(capsys.readouterr().err, stack_file)] == [
        (2, "WandB/Bad-Name", "metadata.name"),
        (10, "FivetranConnector/custom", "spec.package"),
    ]

    (project / "elsewhere" / "custom").mkdir(parents=True)
    (project / "elsewhere" / "custom" / "connector.py").write_text("# a connector\n")
    (project / "Pulumi.all.yaml").write_text("config:\n  driftless:fivetranConnectorsDir: elsewhere\n")

    assert main(["up", "--stack", "all", *dirs(project)]) == 1
    assert [e[:3] for e in errors_printed(capsys.readouterr().err, stack_file)] == [
        (2, "WandB/Bad-Name", "metadata.name")
    ]


def test_a_conflict_with_another_stack_comes_with_the_files_context_errors(project, capsys):
    stack_file = write(project, "alpha", "kind: WandB\nmetadata: {name: ml}\n---\n" + CONNECTOR)
    write(project, "beta", "kind: WandB\nmetadata: {name: ml}\n")

    assert main(["up", "--stack", "alpha", *dirs(project)]) == 1

    assert [e[:3] for e in errors_printed(capsys.readouterr().err, stack_file)] == [
        (2, "WandB/ml", "metadata.name"),
        (10, "FivetranConnector/custom", "spec.package"),
    ]


APPS = """kind: DomainPool
metadata: {name: apps}
spec: {baseDomain: apps.corp.com, clusterIssuer: letsencrypt}
---
kind: Registry
metadata: {name: harbor}
spec: {server: harbor.corp.com, repositoryPrefix: myapp, credentialsSecret: push}
---
kind: Project
metadata: {name: api}
spec:
  repo: {url: "https://git.corp.com/acme/api.git"}
  domainPool: apps
  registry: harbor
"""


def test_a_document_naming_one_with_errors_is_not_checked_in_context(tmp_path, capsys):
    # The Project is valid, but its DomainPool is not: its hosts cannot be known, nor checked.
    stack_file = tmp_path / "apps.yaml"
    stack_file.write_text(APPS.replace("baseDomain: apps.corp.com, ", "") + "---\n" + CONNECTOR)

    assert main(["render", "--file", str(stack_file)]) == 1

    err = capsys.readouterr().err
    assert [e[:3] for e in errors_printed(err, stack_file)] == [
        (3, "DomainPool/apps", "spec.baseDomain"),
        (22, "FivetranConnector/custom", "spec.package"),
    ]
    assert len([line for line in err.splitlines() if line.startswith("error: ")]) == 2


def test_a_context_check_that_cannot_run_is_reported_with_the_files_errors(project, capsys):
    stack_file = write(project, "apps", APPS + "---\nkind: WandB\nmetadata: {name: Bad-Name}\n")
    (project / "Pulumi.apps.yaml").write_text("config:\n  driftless:kapsaClusterBuilder: Not A Name\n")

    assert main(["up", "--stack", "apps", *dirs(project)]) == 1

    err = capsys.readouterr().err
    assert [e[:3] for e in errors_printed(err, stack_file)] == [(17, "WandB/Bad-Name", "metadata.name")]
    assert (
        f"error: {stack_file}: the checks that need the program's context cannot run: ValueError: "
        "config driftless:kapsaClusterBuilder: 'Not A Name' is not a Kubernetes object name"
    ) in err.splitlines()
