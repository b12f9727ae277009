"""Git credentials for kpack: ``spec.repo.credentialsSecret`` copied beside the Image, annotated, attached."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import mocks

from components.ownership import check_across_stacks
from tests.components.kapsa.conftest import REPO
from tests.components.kapsa.test_project import (
    DOCKER_CONFIG,
    IMAGE,
    SECRET,
    FakeKpack,
    outputs,
    written,
)
from tests.components.test_ownership import creator, load

SSH_KEY = base64.b64encode(b"-----BEGIN OPENSSH PRIVATE KEY-----\nplanted-key\n").decode()
TOKEN = base64.b64encode(b"ghp_planted-git-token").decode()
LIVE_SECRETS = {
    "default/harbor-push-credentials": {
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": DOCKER_CONFIG},
    },
    "default/git-basic": {
        "type": "kubernetes.io/basic-auth",
        "data": {"username": base64.b64encode(b"ci").decode(), "password": TOKEN},
    },
    "ci/deploy-key": {"type": "kubernetes.io/ssh-auth", "data": {"ssh-privatekey": SSH_KEY}},
}


def live_secret(args: mocks.MockResourceArgs) -> dict[str, Any]:
    """The cluster's Secrets, by the ``namespace/name`` a read names; a written Secret keeps its inputs."""
    return LIVE_SECRETS[args.resource_id] if args.resource_id else {}


def run(render, documents, *, url: str = REPO, credentials: str | None = None):
    repo = documents[2]["spec"]["repo"]
    repo["url"] = url
    if credentials is not None:
        repo["credentialsSecret"] = credentials
    observations = {"now": "2026-11-21T12:00:00+00:00", "git": {url: {"main": "abc123d"}}}
    return render(documents, observations=observations, outputs={**outputs(FakeKpack()), SECRET: live_secret})


def account_secrets(graph) -> list[dict[str, str]]:
    return graph.named("api/service-account", "kubernetes:core/v1:ServiceAccount").inputs["secrets"]


def test_a_basic_auth_secret_is_copied_annotated_for_the_https_host_and_attached(render, documents):
    graph = run(render, documents, credentials="git-basic")

    assert graph.problems == [], graph.problems
    assert graph.warnings == []
    # a bare name is read from the Registry's credentialsNamespace
    assert graph.named("api/git-credentials-source", SECRET).read == "default/git-basic"
    copy = graph.named("api/git-credentials", SECRET)
    assert copy.read is None
    assert copy.inputs["metadata"]["namespace"] == "api"
    assert copy.inputs["metadata"]["name"] == "git-credentials"
    assert copy.inputs["metadata"]["annotations"] == {"kpack.io/git": "https://git.corp.com"}
    assert copy.inputs["type"] == "kubernetes.io/basic-auth"
    assert copy.inputs["data"] == "[secret]"
    assert account_secrets(graph) == [{"name": "harbor-push-credentials"}, {"name": "git-credentials"}]
    (image,) = written(graph, IMAGE)
    assert "api/git-credentials" in image.depends_on  # kpack finds the Secret when the Image appears
    rendered = json.dumps(graph.result.to_json())
    assert TOKEN not in rendered
    assert "ghp_planted-git-token" not in rendered


@pytest.mark.parametrize("url", ["ssh://git@git.corp.com/acme/api.git", "git@git.corp.com:acme/api.git"])
def test_an_ssh_key_from_another_namespace_is_annotated_for_the_ssh_host(render, documents, url: str):
    graph = run(render, documents, url=url, credentials="ci/deploy-key")

    assert graph.problems == [], graph.problems
    assert graph.warnings == []
    assert graph.named("api/git-credentials-source", SECRET).read == "ci/deploy-key"
    copy = graph.named("api/git-credentials", SECRET)
    assert copy.inputs["metadata"]["annotations"] == {"kpack.io/git": "git@git.corp.com"}
    assert copy.inputs["type"] == "kubernetes.io/ssh-auth"
    assert copy.inputs["data"] == "[secret]"
    assert SSH_KEY not in json.dumps(graph.result.to_json())
    assert {"name": "git-credentials"} in account_secrets(graph)


def test_an_https_port_is_part_of_the_annotation(render, documents):
    url = "https://git.corp.com:8443/acme/api.git"
    graph = run(render, documents, url=url, credentials="git-basic")

    assert graph.problems == [], graph.problems
    annotations = graph.named("api/git-credentials", SECRET).inputs["metadata"]["annotations"]
    assert annotations == {"kpack.io/git": "https://git.corp.com:8443"}


def test_without_credentials_nothing_is_copied_or_attached(render, documents):
    graph = run(render, documents)

    assert graph.problems == [], graph.problems
    assert graph.warnings == []  # an https repository may well be public
    assert account_secrets(graph) == [{"name": "harbor-push-credentials"}]
    assert [r.name for r in graph.of_type(SECRET) if "git" in r.name] == []


@pytest.mark.parametrize("url", ["ssh://git@git.corp.com/acme/api.git", "git@git.corp.com:acme/api.git"])
def test_an_ssh_url_without_credentials_renders_with_a_warning_at_its_line(render, documents, url: str):
    graph = run(render, documents, url=url)

    assert graph.problems == [], graph.problems
    (warning,) = graph.warnings
    where, _, message = warning.partition(": Project/api: spec.repo.url: ")
    file, _, line = where.rpartition(":")
    assert Path(file).name == "test.yaml"
    assert Path(file).read_text().splitlines()[int(line) - 1].strip() == f"url: {url}"
    assert "ssh URL" in message
    assert "spec.repo.credentialsSecret" in message
    assert {"name": "git-credentials"} not in account_secrets(graph)


@pytest.mark.parametrize(
    "reference",
    ["Git_Basic", "a/b/c", "-ns/git-basic", "ns/", "/git-basic", "x" * 64 + "/git-basic"],
)
def test_a_malformed_secret_reference_is_refused_at_its_field(render, documents, reference: str):
    graph = run(render, documents, credentials=reference)

    (problem,) = graph.problems
    assert re.search(r"test\.yaml:\d+: Project/api: spec\.repo\.credentialsSecret: ", problem), problem
    assert "is not a Secret reference" in problem
    assert graph.resources == []


def test_a_secret_in_the_projects_own_namespace_is_refused(render, documents):
    graph = run(render, documents, credentials="api/git-basic")

    (problem,) = graph.problems
    assert re.search(r"test\.yaml:\d+: Project/api: spec\.repo\.credentialsSecret: ", problem), problem
    assert "the Project's own namespace 'api'" in problem
    assert graph.resources == []


def test_a_stack_creating_the_namespace_git_credentials_are_read_from_is_refused():
    project = creator("Project", "api").replace("repo: {", "repo: {credentialsSecret: ci/deploy-key, ")
    assert "credentialsSecret: ci/deploy-key" in project
    owner = load(creator("WandB", "ci"), "stacks/ml.yaml")

    errors = [str(e) for e in check_across_stacks([load(project, "stacks/team.yaml"), owner])]

    (error,) = errors
    assert error.startswith("stacks/ml.yaml:2: WandB/wandb: metadata.namespace: namespace 'ci' is where ")
    assert "Project/api keeps git credentials Secret 'deploy-key', which no stack creates" in error
    external = load(creator("WandB", "ci", external=True), "stacks/ml.yaml")
    assert check_across_stacks([load(project, "stacks/team.yaml"), external]) == []
