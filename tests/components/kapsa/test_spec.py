"""Bad Kapsa documents are rejected whole, each problem located by file, line and field."""

from __future__ import annotations

import pytest

from components.documents import StackFileError, load_stack_text
from components.kapsa import KINDS
from components.kapsa.spec import ProjectSpec
from components.registry import KindRegistry

REGISTRY = KindRegistry(KINDS)

PLATFORM = """\
kind: DomainPool
metadata: {name: apps-pool}
spec: {baseDomain: apps.corp.com, clusterIssuer: letsencrypt-prod}
---
kind: Registry
metadata: {name: harbor}
spec: {server: harbor.corp.com, repositoryPrefix: myapp, credentialsSecret: harbor-push-credentials}
---
"""
# The Project document starts on line 9.
PROJECT = """\
kind: Project
metadata: {name: api}
spec:
  repo: {url: "https://git.corp.com/acme/api.git", pollIntervalSeconds: 300}
  domainPool: apps-pool
  registry: harbor
  port: 8080
  environments:
    - {name: dev,  branch: main, autoSync: true,  replicas: 1}
    - {name: prod, branch: main, autoSync: false, replicas: 3, secretRefs: [{name: api-secrets-prod}]}
  previewEnvironments: {enabled: false, include: ["*"], exclude: ["main"], ttlHours: 168}
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/dev.yaml", REGISTRY)
    return [str(e) for e in caught.value.errors]


def test_the_spec_example_loads_with_its_defaults():
    stack = load_stack_text(PLATFORM + PROJECT, "stacks/dev.yaml", REGISTRY)
    project = stack.get("Project", "api")
    assert project is not None
    assert isinstance(project.spec, ProjectSpec)
    assert [e.name for e in project.spec.environments] == ["dev", "prod"]
    assert project.spec.repo.branch == "main"
    assert project.spec.environments[1].secret_refs[0].name == "api-secrets-prod"
    registry = stack.get("Registry", "harbor")
    assert registry is not None
    assert registry.spec.repository("api") == "harbor.corp.com/myapp/api"


def test_a_missing_domain_pool_or_registry_is_named_at_its_line():
    text = PLATFORM + PROJECT.replace("domainPool: apps-pool", "domainPool: other-pool").replace(
        "registry: harbor", "registry: quay"
    )
    assert errors_of(text) == [
        "stacks/dev.yaml:13: Project/api: spec.domainPool: DomainPool 'other-pool' is not defined in this stack",
        "stacks/dev.yaml:14: Project/api: spec.registry: Registry 'quay' is not defined in this stack",
    ]


def test_two_environments_with_one_name_are_rejected():
    text = PLATFORM + PROJECT.replace("{name: prod,", "{name: dev,")
    (error,) = errors_of(text)
    assert error.startswith("stacks/dev.yaml:16: Project/api: spec.environments: ")
    assert "environments[0] and environments[1] are both named 'dev'" in error


@pytest.mark.parametrize("glob", ["feature/[abc", "feature branch", "a:b", ""])
def test_an_invalid_glob_is_rejected_at_its_field(glob: str):
    text = PLATFORM + PROJECT.replace('include: ["*"]', f"include: [{glob!r}]")
    (error,) = errors_of(text)
    assert error.startswith("stacks/dev.yaml:19: Project/api: spec.previewEnvironments.include[0]: ")


@pytest.mark.parametrize(("port", "message"), [(0, "must be >= 1"), (70000, "must be <= 65535")])
def test_a_port_out_of_range_is_rejected(port: int, message: str):
    (error,) = errors_of(PLATFORM + PROJECT.replace("port: 8080", f"port: {port}"))
    assert error == f"stacks/dev.yaml:15: Project/api: spec.port: {message}"


@pytest.mark.parametrize(
    ("replace", "replacement", "field"),
    [
        (
            "secretRefs: [{name: api-secrets-prod}]",
            "secretRefs: [{name: api-secrets-prod, value: hunter2}]",
            "spec.environments[1].secretRefs[0].value",
        ),
        (
            "secretRefs: [{name: api-secrets-prod}]",
            "secretRefs: [{name: api-secrets-prod, stringData: {DB_PASSWORD: hunter2}}]",
            "spec.environments[1].secretRefs[0].stringData",
        ),
        (
            "replicas: 3,",
            "replicas: 3, env: [{name: DB_PASSWORD, value: hunter2}],",
            "spec.environments[1].env",
        ),
        ("replicas: 3,", "replicas: 3, secrets: {DB_PASSWORD: hunter2},", "spec.environments[1].secrets"),
    ],
)
def test_a_secret_value_in_a_project_is_refused_with_what_to_do_instead(replace, replacement, field):
    (error,) = errors_of(PLATFORM + PROJECT.replace(replace, replacement))
    assert error.startswith(
        f"stacks/dev.yaml:18: Project/api: {field}: secret values never go in a stack document"
    )
    assert "hunter2" not in error
    assert "secretRefs" in error


def test_a_registry_password_in_the_document_is_refused():
    text = PLATFORM.replace(
        "credentialsSecret: harbor-push-credentials}", "credentialsSecret: x, password: hunter2}"
    )
    # The Registry is there, if invalid: the Project naming it is not told it is missing.
    (error,) = errors_of(text + PROJECT)
    assert error.startswith("stacks/dev.yaml:7: Registry/harbor: spec.password: secret values never go in")
    assert "hunter2" not in error


@pytest.mark.parametrize(
    "url",
    [
        "https://bot:hunter2@git.corp.com/acme/api.git",
        "https://hunter2@git.corp.com/acme/api.git",  # a token as the user name
        "https://x-access-token:hunter2@git.corp.com/acme/api.git",
        "https://bot:hun@ter2@git.corp.com/acme/api.git",  # an unescaped '@' in the password
        "http://hunter2@git.corp.com:8080/acme/api.git",
        "https://hunter2:@git.corp.com/acme/api.git",
        "https://@git.corp.com/acme/api.git",
        "ssh://git:hunter2@git.corp.com/acme/api.git",
        "ssh://hunter2@git.corp.com/acme/api.git",  # a user other than git
        "ssh://git:@git.corp.com/acme/api.git",
        "git://hunter2@git.corp.com/acme/api.git",
        "git@hunter2@git.corp.com:acme/api.git",
    ],
)
def test_credentials_in_the_git_url_are_refused_and_never_echoed(url: str):
    (error,) = errors_of(PLATFORM + PROJECT.replace("https://git.corp.com/acme/api.git", url))
    assert error.startswith("stacks/dev.yaml:12: Project/api: spec.repo.url: ")
    assert "carries credentials" in error
    assert "hunter2" not in error
    assert "ter2" not in error


@pytest.mark.parametrize(
    "url",
    [
        "https://git.corp.com/acme/api.git",
        "http://git.corp.com:8080/acme/api.git",
        "https://git.corp.com/acme/api@v2.git",  # an '@' in the path is no user
        "ssh://git@git.corp.com/acme/api.git",
        "ssh://git@git.corp.com:2222/acme/api.git",
        "ssh://git.corp.com/acme/api.git",
        "git://git.corp.com/acme/api.git",
        "git@git.corp.com:acme/api.git",
    ],
)
def test_git_urls_without_credentials_load(url: str):
    text = PLATFORM + PROJECT.replace("https://git.corp.com/acme/api.git", url)
    project = load_stack_text(text, "stacks/dev.yaml", REGISTRY).get("Project", "api")
    assert project is not None
    assert isinstance(project.spec, ProjectSpec)
    assert project.spec.repo.url == url


@pytest.mark.parametrize(
    "url", ["https:///acme/api.git", "git@git.corp.com", "git@:acme/api.git", "ftp://h/x"]
)
def test_a_git_url_without_a_host_or_path_is_refused(url: str):
    (error,) = errors_of(PLATFORM + PROJECT.replace("https://git.corp.com/acme/api.git", url))
    assert error.startswith("stacks/dev.yaml:12: Project/api: spec.repo.url: ")
    assert "is not a git URL" in error


def test_a_project_in_its_registrys_credentials_namespace_is_refused():
    text = PLATFORM.replace(
        "credentialsSecret: harbor-push-credentials}", "credentialsSecret: push, credentialsNamespace: ci}"
    )
    errors = errors_of(
        text + PROJECT.replace("metadata: {name: api}", "metadata: {name: api, namespace: ci}")
    )
    assert errors == [
        "stacks/dev.yaml:10: Project/api: metadata.namespace: namespace 'ci' is where Registry/harbor "
        "(line 5) keeps credentialsSecret 'push': the Project's copy of that Secret would be the Secret "
        "itself, and deleting the Project would delete the namespace and the Secret with it; give the "
        "Project a namespace of its own"
    ]


def test_a_project_named_after_the_default_credentials_namespace_is_refused_at_its_name():
    credentials, system = errors_of(
        PLATFORM + PROJECT.replace("metadata: {name: api}", "metadata: {name: default}")
    )
    assert credentials.startswith(
        "stacks/dev.yaml:10: Project/default: metadata.name: namespace 'default' is where Registry/harbor "
    )
    assert system.startswith(
        "stacks/dev.yaml:10: Project/default: metadata.name: namespace 'default' is a system namespace"
    )


def test_a_project_in_another_registrys_credentials_namespace_is_refused():
    other = "---\nkind: Registry\nmetadata: {name: quay}\nspec: {server: quay.io, repositoryPrefix: acme, credentialsSecret: quay-push, credentialsNamespace: api}\n"
    (error,) = errors_of(PLATFORM + PROJECT + other)
    assert error == (
        "stacks/dev.yaml:10: Project/api: metadata.name: namespace 'api' is where Registry/quay (line 21) "
        "keeps credentialsSecret 'quay-push': deleting the Project would delete the namespace and the "
        "Secret with it; give the Project a namespace of its own"
    )


def test_a_pinned_image_needs_auto_sync_off():
    text = PLATFORM + PROJECT.replace(
        "autoSync: true,  replicas: 1}", "autoSync: true, replicas: 1, image: 'harbor.corp.com/myapp/api:v1'}"
    )
    (error,) = errors_of(text)
    assert error.startswith("stacks/dev.yaml:17: Project/api: spec.environments[0]: ")
    assert "autoSync: false" in error


def test_a_promoted_image_must_be_a_full_reference():
    text = PLATFORM + PROJECT.replace("autoSync: false,", "autoSync: false, image: latest,")
    (error,) = errors_of(text)
    assert error.startswith("stacks/dev.yaml:18: Project/api: spec.environments[1].image: ")


def test_an_environment_name_must_be_a_host_label_and_a_service_name():
    (error,) = errors_of(PLATFORM + PROJECT.replace("{name: dev,", "{name: 1st,"))
    assert error.startswith("stacks/dev.yaml:17: Project/api: spec.environments[0].name: ")


def test_cluster_wide_kinds_take_no_namespace():
    text = PLATFORM.replace("metadata: {name: apps-pool}", "metadata: {name: apps-pool, namespace: x}")
    error, _missing_for_the_project = errors_of(text + PROJECT)
    assert error == (
        "stacks/dev.yaml:2: DomainPool/apps-pool: metadata.namespace: DomainPool is not namespaced; "
        "remove metadata.namespace"
    )


def test_every_problem_is_reported_at_once():
    text = PLATFORM + PROJECT.replace("port: 8080", "port: 0").replace("ttlHours: 168", "ttlHours: 0")
    assert [e.split(": ")[2] for e in errors_of(text)] == ["spec.port", "spec.previewEnvironments.ttlHours"]
