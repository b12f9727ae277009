"""The stack document loader: every class of error is located by file, line, subject and field."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pydantic import Field, field_validator

from components.common.spec import CronSchedule, Quantity, SpecModel
from components.documents import (
    SpecReference,
    StackFileError,
    creates_its_namespace,
    creates_its_namespace_unless_disabled,
    load_stack_text,
    one_namespace_each,
)
from components.registry import KindRegistration, KindRegistry


class DatabaseSpec(SpecModel):
    replicas: int = Field(default=1, ge=1, le=9)
    storage: Quantity = "1Gi"
    backup_schedule: CronSchedule | None = None

    @field_validator("storage")
    @classmethod
    def _not_zero(cls, value: str) -> str:
        if value in {"0", "0Gi"}:
            raise ValueError("storage must be more than zero")
        return value


class PoolSpec(SpecModel):
    domain: str


class AppSpec(SpecModel):
    pool: str

    def references(self) -> Iterable[SpecReference]:
        yield SpecReference(("pool",), "Pool", self.pool)


def _unused_factory(document, context):  # the loader never builds components
    raise AssertionError("not called")


REGISTRY = KindRegistry(
    [
        KindRegistration("Database", DatabaseSpec, _unused_factory),
        KindRegistration("Pool", PoolSpec, _unused_factory, namespaced=False),
        KindRegistration("App", AppSpec, _unused_factory),
    ]
)


def load(text: str):
    return load_stack_text(text, "stacks/prod.yaml", REGISTRY)


def errors_of(text: str) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load(text)
    return [str(e) for e in caught.value.errors]


def test_valid_file_yields_typed_documents_in_order():
    stack = load(
        """
kind: Database
metadata: {name: orders, namespace: shop}
spec: {replicas: 3, storage: 20Gi}
---
apiVersion: driftless.dev/v1alpha1
kind: Database
metadata: {name: users}
"""
    )
    assert [d.subject for d in stack] == ["Database/orders", "Database/users"]
    orders, users = stack.documents
    assert orders.spec == DatabaseSpec(replicas=3, storage="20Gi")
    assert orders.namespace == "shop"
    assert users.namespace == "users"  # the namespace defaults to the name
    assert orders.line == 2


def test_value_out_of_range_names_file_line_subject_and_field():
    assert errors_of(
        """kind: Database
metadata: {name: orders}
spec:
  replicas: 0
"""
    ) == ["stacks/prod.yaml:4: Database/orders: spec.replicas: must be >= 1"]


def test_unknown_field_is_an_error_not_ignored():
    assert errors_of(
        """kind: Database
metadata: {name: orders}
spec:
  replicas: 2
  replica: 3
"""
    ) == ["stacks/prod.yaml:5: Database/orders: spec.replica: unknown field"]


def test_every_error_of_a_file_is_reported_at_once():
    errors = errors_of(
        """kind: Database
metadata: {name: Orders_DB}
spec:
  storage: 50 gigs
  backupSchedule: every day
---
kind: Database
metadata: {name: users}
spec: {replicas: 12}
"""
    )
    assert len(errors) == 4
    assert errors[0].startswith(
        "stacks/prod.yaml:2: Database/Orders_DB: metadata.name: 'Orders_DB' is not a DNS-1123"
    )
    assert errors[1].startswith(
        "stacks/prod.yaml:4: Database/Orders_DB: spec.storage: '50 gigs' is not a Kubernetes quantity"
    )
    assert errors[2].startswith(
        "stacks/prod.yaml:5: Database/Orders_DB: spec.backupSchedule: 'every day' is not"
    )
    assert errors[3] == "stacks/prod.yaml:9: Database/users: spec.replicas: must be <= 9"


def test_custom_validator_message_is_kept():
    assert errors_of("kind: Database\nmetadata: {name: a}\nspec: {storage: 0Gi}\n") == [
        "stacks/prod.yaml:3: Database/a: spec.storage: storage must be more than zero"
    ]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("kind: Database\nmetadata: {name: a}\nspec: {replicas: [1\n", 3, "invalid YAML"),
        ("kind: Database\nmetadata:\n  name: a\n   bad: indent\n", 4, "invalid YAML"),
        ("kind: Database\nmetadata: {name: a}\nspec: {replicas: 1}\n\tbad\n", 4, "invalid YAML"),
    ],
)
def test_broken_yaml_is_located_by_line(text, line, fragment):
    (error,) = errors_of(text)
    assert error.startswith(f"stacks/prod.yaml:{line}: {fragment}")


def test_duplicate_kind_and_name_is_an_error():
    errors = errors_of(
        "kind: Database\nmetadata: {name: a}\n---\nkind: Database\nmetadata: {name: a}\n"
        "---\nkind: App\nmetadata: {name: a}\nspec: {pool: p}\n---\nkind: Pool\nmetadata: {name: p}\nspec: {domain: x}\n"
    )
    assert errors == [
        "stacks/prod.yaml:5: Database/a: metadata.name: duplicate document: Database/a is already defined at line 1"
    ]


def test_duplicate_yaml_key_is_an_error():
    assert errors_of("kind: Database\nmetadata: {name: a}\nspec:\n  replicas: 1\n  replicas: 2\n") == [
        "stacks/prod.yaml:5: spec.replicas: duplicate key in YAML mapping"
    ]


def test_unknown_kind_and_wrong_api_version():
    errors = errors_of("apiVersion: driftless.dev/v2\nkind: Cache\nmetadata: {name: a}\n")
    assert errors[0].startswith("stacks/prod.yaml:1: Cache/a: apiVersion: must be one of")
    assert (
        errors[1]
        == "stacks/prod.yaml:2: Cache/a: kind: unknown kind 'Cache'; known kinds: App, Database, Pool"
    )


def test_missing_metadata_name_and_non_mapping_document():
    errors = errors_of("kind: Database\nmetadata: {}\n---\n- just a list\n")
    assert errors == [
        "stacks/prod.yaml:2: Database/?: metadata.name: required field is missing",
        "stacks/prod.yaml:4: a document must be a mapping",
    ]


def test_reference_to_a_missing_document_is_an_error():
    assert errors_of("kind: App\nmetadata: {name: web}\nspec:\n  pool: shared\n") == [
        "stacks/prod.yaml:4: App/web: spec.pool: Pool 'shared' is not defined in this stack"
    ]


def test_cluster_wide_kind_rejects_a_namespace():
    assert errors_of("kind: Pool\nmetadata: {name: p, namespace: x}\nspec: {domain: d}\n") == [
        "stacks/prod.yaml:2: Pool/p: metadata.namespace: Pool is not namespaced; remove metadata.namespace"
    ]


def test_force_reconcile_annotation_is_exposed():
    stack = load(
        "kind: Database\nmetadata:\n  name: a\n  annotations: {driftless.dev/force-reconcile: '2026-11-21'}\n"
    )
    assert stack.documents[0].force_reconcile_token == "2026-11-21"


def test_empty_documents_are_ignored():
    assert len(load("---\n---\nkind: Database\nmetadata: {name: a}\n---\n")) == 1


def test_stack_checks_run_at_load_and_name_the_second_document():
    registry = KindRegistry(
        [
            KindRegistration(
                "Database",
                DatabaseSpec,
                _unused_factory,
                check_stack=one_namespace_each("Database", "each Database owns its namespace"),
            )
        ]
    )
    text = "kind: Database\nmetadata: {name: a, namespace: data}\n---\nkind: Database\nmetadata: {name: b, namespace: data}\n"
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/prod.yaml", registry)
    assert [str(e) for e in caught.value.errors] == [
        "stacks/prod.yaml:5: Database/b: metadata.namespace: namespace 'data' already belongs to "
        "Database/a (line 1); each Database owns its namespace"
    ]


# --- namespaces created by documents of different kinds ------------------------------------------


class CacheSpec(SpecModel):
    create_namespace: bool = True


NAMESPACE_OWNERS = KindRegistry(
    [
        KindRegistration("Database", DatabaseSpec, _unused_factory, creates_namespace=creates_its_namespace),
        KindRegistration(
            "Cache", CacheSpec, _unused_factory, creates_namespace=creates_its_namespace_unless_disabled
        ),
        KindRegistration("Pool", PoolSpec, _unused_factory, namespaced=False),
    ]
)


def namespace_errors(text: str, registry: KindRegistry = NAMESPACE_OWNERS) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/prod.yaml", registry)
    return [str(e) for e in caught.value.errors]


def test_two_documents_of_different_kinds_cannot_create_one_namespace():
    text = (
        "kind: Database\nmetadata: {name: orders, namespace: shop}\n---\n"
        "kind: Cache\nmetadata:\n  name: sessions\n  namespace: shop\n"
    )
    assert namespace_errors(text) == [
        "stacks/prod.yaml:7: Cache/sessions: metadata.namespace: namespace 'shop' is already created by "
        "Database/orders (line 1); a namespace can be created by one document only, since deleting that "
        "document deletes the namespace and everything in it: use another namespace, or set "
        "createNamespace: false to share it"
    ]


def test_a_namespace_defaulted_from_the_name_is_located_at_the_name():
    text = "kind: Cache\nmetadata: {name: shop}\n---\nkind: Database\nmetadata: {name: orders, namespace: shop}\n"
    (error,) = namespace_errors(text)
    assert error.startswith(
        "stacks/prod.yaml:5: Database/orders: metadata.namespace: namespace 'shop' is already created by "
        "Cache/shop (line 1); "
    )
    assert error.endswith("use another namespace")  # a Database cannot opt out of creating it
    text = "kind: Database\nmetadata: {name: orders, namespace: shop}\n---\nkind: Cache\nmetadata: {name: shop}\n"
    (error,) = namespace_errors(text)
    assert error.startswith("stacks/prod.yaml:5: Cache/shop: metadata.name: namespace 'shop' is already")


def test_a_document_that_does_not_create_its_namespace_may_share_it():
    text = (
        "kind: Database\nmetadata: {name: orders, namespace: shop}\n---\n"
        "kind: Cache\nmetadata: {name: sessions, namespace: shop}\nspec: {createNamespace: false}\n---\n"
        "kind: Cache\nmetadata: {name: carts, namespace: shop}\nspec: {createNamespace: false}\n"
    )
    assert len(load_stack_text(text, "stacks/prod.yaml", NAMESPACE_OWNERS)) == 3


def test_a_kinds_own_namespace_rule_is_not_repeated_by_the_shared_one():
    registry = KindRegistry(
        [
            KindRegistration(
                "Database",
                DatabaseSpec,
                _unused_factory,
                check_stack=one_namespace_each("Database", "each Database owns its namespace"),
                creates_namespace=creates_its_namespace,
            )
        ]
    )
    text = "kind: Database\nmetadata: {name: a, namespace: data}\n---\nkind: Database\nmetadata: {name: b, namespace: data}\n"
    assert namespace_errors(text, registry) == [
        "stacks/prod.yaml:5: Database/b: metadata.namespace: namespace 'data' already belongs to "
        "Database/a (line 1); each Database owns its namespace"
    ]


REAL_KINDS = {
    "wazuh": "kind: WazuhCluster\nmetadata: {name: siem, namespace: shared}\n",
    "wandb": "kind: WandB\nmetadata: {name: wandb, namespace: shared}\n",
    "project": (
        "kind: Project\nmetadata: {name: api, namespace: shared}\nspec:\n"
        "  repo: {url: 'https://git.corp.com/acme/api.git'}\n  domainPool: pool\n  registry: harbor\n"
    ),
}
KAPSA_PLATFORM = (
    "---\nkind: DomainPool\nmetadata: {name: pool}\nspec: {baseDomain: apps.corp.com, clusterIssuer: le}\n"
    "---\nkind: Registry\nmetadata: {name: harbor}\n"
    "spec: {server: harbor.corp.com, repositoryPrefix: myapp, credentialsSecret: push}\n"
)


@pytest.mark.parametrize(
    ("first", "second"),
    [("wazuh", "wandb"), ("wandb", "project"), ("project", "wazuh"), ("wazuh", "project")],
)
def test_the_real_kinds_never_create_one_namespace_twice(first: str, second: str):
    text = REAL_KINDS[first] + "---\n" + REAL_KINDS[second] + KAPSA_PLATFORM
    second_line = REAL_KINDS[first].count("\n") + 3  # its metadata line
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/prod.yaml")
    (error,) = [str(e) for e in caught.value.errors]
    first_subject = REAL_KINDS[first].split("\n")[0].removeprefix("kind: ")
    assert error.startswith(f"stacks/prod.yaml:{second_line}: ")
    assert f": metadata.namespace: namespace 'shared' is already created by {first_subject}/" in error
    assert "(line 1)" in error


def test_a_wazuh_cluster_or_wandb_may_use_a_namespace_another_document_creates():
    text = (
        REAL_KINDS["project"]
        + "---\n"
        + REAL_KINDS["wazuh"]
        + "spec: {createNamespace: false}\n---\n"
        + REAL_KINDS["wandb"]
        + "spec: {createNamespace: false}\n"
        + KAPSA_PLATFORM
    )
    assert len(load_stack_text(text, "stacks/prod.yaml")) == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "kind: Database\nmetadata: {name: a}\nspec: {[replicas]: 1}\n",
            "stacks/prod.yaml:3: spec: a mapping key must be a string",
        ),
        (
            "kind: Database\nmetadata: {name: a}\nspec: &loop {x: *loop}\n",
            "stacks/prod.yaml:3: spec.x: a YAML alias refers to itself",
        ),
    ],
)
def test_yaml_that_cannot_become_data_is_located_not_a_crash(text, expected):
    assert errors_of(text) == [expected]


def test_labels_are_not_a_document_field():
    assert errors_of("kind: Database\nmetadata: {name: a, labels: {team: x}}\n") == [
        "stacks/prod.yaml:2: Database/a: metadata.labels: unknown field"
    ]
