"""Namespace ownership: one creator per namespace on a cluster, never a system namespace.

The real kinds, loaded from stack text: WazuhCluster, WandB and Project create their namespace
unless ``createNamespace: false`` declares it external; a Registry only reads its credentials
Secret from ``credentialsNamespace``.
"""

from __future__ import annotations

import pytest

from components.documents import StackDocuments, StackFileError, load_stack_text
from components.ownership import SYSTEM_NAMESPACES, check_across_stacks

PLATFORM = (
    "kind: DomainPool\nmetadata: {name: pool}\nspec: {baseDomain: apps.corp.com, clusterIssuer: le}\n---\n"
    "kind: Registry\nmetadata: {name: harbor}\n"
    "spec: {server: harbor.corp.com, repositoryPrefix: acme, credentialsSecret: push}\n---\n"
)
PROJECT_SPEC = (
    "spec:\n  repo: {url: 'https://git.corp.com/acme/api.git'}\n  domainPool: pool\n  registry: harbor\n"
)


def creator(kind: str, namespace: str, *, external: bool = False) -> str:
    """A document of ``kind`` in ``namespace``, with the Kapsa platform it needs after it."""
    switch = "createNamespace: false" if external else ""
    if kind == "Project":
        text = f"kind: Project\nmetadata: {{name: api, namespace: {namespace}}}\n{PROJECT_SPEC}"
        text += f"  {switch}\n" if switch else ""
    else:
        name = "siem" if kind == "WazuhCluster" else "wandb"
        text = f"kind: {kind}\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec: {{{switch}}}\n"
    return text + "---\n" + PLATFORM


def load(text: str, filename: str = "stacks/dev.yaml") -> StackDocuments:
    return load_stack_text(text, filename)


def errors_of(text: str, filename: str = "stacks/dev.yaml") -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load(text, filename)
    return [str(e) for e in caught.value.errors]


# --- across stack files ------------------------------------------------------------------------


def test_the_same_document_in_two_stack_files_refuses_both_each_naming_the_other():
    siem = "# the SIEM\nkind: WazuhCluster\nmetadata:\n  name: siem\n  namespace: security\n"
    dev = load(siem, "stacks/dev.yaml")
    prod = load("kind: WazuhCluster\nmetadata: {name: siem, namespace: security}\n", "stacks/prod.yaml")

    errors = [str(e) for e in check_across_stacks([dev, prod])]

    why = (
        ", on the same cluster: deleting either document would delete the namespace and everything "
        "the other put in it, so none of these stacks is applied until only one of them creates it; "
        "target another namespace, or set createNamespace: false in all stacks but one"
    )
    assert errors == [
        "stacks/dev.yaml:5: WazuhCluster/siem: metadata.namespace: namespace 'security' is also owned "
        "by stacks/prod.yaml:2 WazuhCluster/siem" + why,
        "stacks/prod.yaml:2: WazuhCluster/siem: metadata.namespace: namespace 'security' is also owned "
        "by stacks/dev.yaml:5 WazuhCluster/siem" + why,
    ]


@pytest.mark.parametrize(
    ("first", "second"), [("WazuhCluster", "WandB"), ("WandB", "Project"), ("Project", "WazuhCluster")]
)
def test_documents_of_any_kinds_in_two_files_cannot_create_one_namespace(first: str, second: str):
    stacks = [
        load(creator(first, "shared"), "stacks/a.yaml"),
        load(creator(second, "shared"), "stacks/b.yaml"),
    ]

    errors = [str(e) for e in check_across_stacks(stacks)]

    assert [e.split(": namespace")[0] for e in errors] == [
        f"stacks/a.yaml:2: {stacks[0].documents[0].subject}: metadata.namespace",
        f"stacks/b.yaml:2: {stacks[1].documents[0].subject}: metadata.namespace",
    ]
    assert (
        f"is also owned by stacks/b.yaml:2 {stacks[1].documents[0].subject}, on the same cluster" in errors[0]
    )
    assert (
        f"is also owned by stacks/a.yaml:2 {stacks[0].documents[0].subject}, on the same cluster" in errors[1]
    )


def test_a_namespace_owned_by_three_files_names_both_others_in_each():
    stacks = [load(creator("WandB", "ml"), f"stacks/{name}.yaml") for name in ("a", "b", "c")]

    errors = [str(e) for e in check_across_stacks(stacks)]

    assert len(errors) == 3
    assert (
        "also owned by stacks/b.yaml:2 WandB/wandb, stacks/c.yaml:2 WandB/wandb, on the same cluster"
        in errors[0]
    )
    assert (
        "also owned by stacks/a.yaml:2 WandB/wandb, stacks/c.yaml:2 WandB/wandb, on the same cluster"
        in errors[1]
    )


def test_a_namespace_declared_external_may_be_created_by_another_stack():
    owner = load(creator("WazuhCluster", "security"), "stacks/a.yaml")
    users = [
        load(creator(kind, "security", external=True), f"stacks/{kind.lower()}.yaml")
        for kind in ("WazuhCluster", "WandB", "Project")
    ]
    assert check_across_stacks([owner, *users]) == []


def test_stacks_in_different_namespaces_do_not_conflict():
    stacks = [
        load(creator("WandB", "ml-a"), "stacks/a.yaml"),
        load(creator("WandB", "ml-b"), "stacks/b.yaml"),
    ]
    assert check_across_stacks(stacks) == []


@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB", "Project"])
def test_a_stack_creating_another_stacks_registry_credentials_namespace_is_refused(kind: str):
    registry = "kind: Registry\nmetadata: {name: harbor}\nspec:\n  server: harbor.corp.com\n  repositoryPrefix: acme\n  credentialsSecret: push\n  credentialsNamespace: ci\n"
    platform = load(registry, "stacks/platform.yaml")
    owner = load(creator(kind, "ci"), "stacks/team.yaml")

    errors = [str(e) for e in check_across_stacks([platform, owner])]

    subject = owner.documents[0].subject
    assert errors == [
        f"stacks/team.yaml:2: {subject}: metadata.namespace: namespace 'ci' is where "
        "stacks/platform.yaml:7 Registry/harbor keeps credentialsSecret 'push', which no stack creates: "
        f"deleting {subject} would delete the namespace and credentialsSecret 'push' with it; target "
        "another namespace, or set createNamespace: false to use it as it is"
    ]  # the Registry's own stack is not refused: it creates nothing
    assert check_across_stacks([platform, load(creator(kind, "ci", external=True), "stacks/team.yaml")]) == []


def test_conflicts_inside_one_file_are_left_to_the_loader():
    text = creator("WandB", "ml")
    stack = StackDocuments("stacks/a.yaml", (*load(text).documents, *load(text).documents))
    assert check_across_stacks([stack]) == []


# --- inside one stack file ---------------------------------------------------------------------


@pytest.mark.parametrize("namespace", sorted(SYSTEM_NAMESPACES))
@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB", "Project"])
def test_a_system_namespace_is_refused_as_a_target(kind: str, namespace: str):
    errors = [e for e in errors_of(creator(kind, namespace)) if "system namespace" in e]

    subject = {"WazuhCluster": "WazuhCluster/siem", "WandB": "WandB/wandb", "Project": "Project/api"}[kind]
    assert errors == [
        f"stacks/dev.yaml:2: {subject}: metadata.namespace: namespace {namespace!r} is a system namespace: "
        f"driftless never creates it, since deleting {subject} would then delete it; target another "
        "namespace, or set createNamespace: false to deploy into it as it is"
    ]


def test_a_system_namespace_defaulted_from_the_name_is_located_at_the_name():
    (error,) = errors_of("kind: WandB\nmetadata:\n  name: default\n")
    assert error.startswith(
        "stacks/dev.yaml:3: WandB/default: metadata.name: namespace 'default' is a system"
    )


@pytest.mark.parametrize(
    ("kind", "namespace"),
    [
        (kind, namespace)
        for kind in ("WazuhCluster", "WandB", "Project")
        for namespace in sorted(SYSTEM_NAMESPACES)
        # a Project in its Registry's credentials namespace ("default") is refused anyway: below
        if (kind, namespace) != ("Project", "default")
    ],
)
def test_a_system_namespace_declared_external_is_accepted(kind: str, namespace: str):
    stack = load(creator(kind, namespace, external=True))
    assert stack.documents[0].namespace == namespace


def test_a_project_using_its_registrys_default_credentials_namespace_is_still_refused():
    # Its copy of the credentials Secret would be the Secret itself, created or not.
    (error,) = errors_of(creator("Project", "default", external=True))
    assert error.startswith("stacks/dev.yaml:2: Project/api: metadata.namespace: namespace 'default' is ")
    assert "the Project's copy of that Secret would be the Secret itself; give the Project" in error


@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB"])
def test_a_document_creating_its_stacks_registry_credentials_namespace_is_refused(kind: str):
    text = creator(kind, "ci").replace(
        "credentialsSecret: push}", "credentialsSecret: push, credentialsNamespace: ci}"
    )
    (error,) = errors_of(text)
    subject = load(creator(kind, "x")).documents[0].subject
    assert error == (
        f"stacks/dev.yaml:2: {subject}: metadata.namespace: namespace 'ci' is where Registry/harbor "
        f"(line 11) keeps credentialsSecret 'push', which no stack creates: deleting {subject} would "
        "delete the namespace and credentialsSecret 'push' with it; target another namespace, or set "
        "createNamespace: false to use it as it is"
    )
    external = creator(kind, "ci", external=True)
    assert (
        len(
            load(
                external.replace(
                    "credentialsSecret: push}", "credentialsSecret: push, credentialsNamespace: ci}"
                )
            )
        )
        == 3
    )


def test_a_system_namespace_is_reported_with_the_files_other_errors():
    text = (
        "kind: WandB\nmetadata: {name: wandb, namespace: kube-system}\n"
        "---\nkind: WazuhCluster\nmetadata: {name: siem, namespace: kube-public}\nspec: {bogus: 1}\n"
        "---\nkind: WazuhCluster\nmetadata: {name: logs, namespace: kube-node-lease}\n"
    )
    errors = errors_of(text)
    assert [e.split(": ")[:3] for e in errors] == [
        ["stacks/dev.yaml:2", "WandB/wandb", "metadata.namespace"],
        ["stacks/dev.yaml:5", "WazuhCluster/siem", "metadata.namespace"],  # its spec's error aside
        ["stacks/dev.yaml:6", "WazuhCluster/siem", "spec.bogus"],
        ["stacks/dev.yaml:9", "WazuhCluster/logs", "metadata.namespace"],
    ]
    assert "'kube-system' is a system namespace" in errors[0]
    assert "'kube-public' is a system namespace" in errors[1]
    assert "'kube-node-lease' is a system namespace" in errors[3]
