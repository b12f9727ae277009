"""Every error of a stack file in one pass: a document's errors never hide another kind of error.

A document with errors in its spec still takes part in the rules across documents (references,
duplicates, namespaces, a kind's own stack rules) with its invalid values left out, and a rule over
a whole list is reported beside its items' errors. Only documents with no error reach the program.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from pydantic import Field

from components.common.spec import DnsLabel, SpecModel
from components.documents import SpecReference, StackDocuments, StackFileError, load_stack_text
from components.registry import KindRegistration, KindRegistry

PLATFORM = """kind: Registry
metadata: {name: harbor}
spec: {server: harbor.corp.com, repositoryPrefix: myapp, credentialsSecret: push}
---
"""


def refused(text: str, registry: KindRegistry | None = None) -> StackFileError:
    with pytest.raises(StackFileError) as caught:
        load_stack_text(text, "stacks/dev.yaml", registry)
    return caught.value


def located(error: StackFileError) -> list[tuple[int | None, str, str]]:
    """Each error as (line, Kind/name, field), in the order reported."""
    return [(e.line, e.subject, e.path) for e in error.errors]


def test_a_duplicate_environment_comes_with_a_bad_branch_and_the_missing_domain_pool():
    error = refused(
        PLATFORM
        + """kind: Project
metadata: {name: api}
spec:
  repo: {url: "https://git.corp.com/acme/api.git", branch: "bad..branch"}
  domainPool: nowhere
  registry: harbor
  environments:
    - {name: dev, branch: "also..bad"}
    - {name: dev}
"""
    )
    assert located(error) == [
        (8, "Project/api", "spec.repo.branch"),
        (9, "Project/api", "spec.domainPool"),
        (11, "Project/api", "spec.environments"),
        (12, "Project/api", "spec.environments[0].branch"),
    ]
    assert "DomainPool 'nowhere' is not defined in this stack" in str(error)
    assert "environments[0] and environments[1] are both named 'dev'" in str(error)


def test_a_kinds_rule_on_the_document_name_comes_with_the_documents_spec_errors():
    error = refused("kind: WazuhCluster\nmetadata: {name: 1siem}\nspec: {indexer: {replicas: 0}}\n")
    assert located(error) == [
        (2, "WazuhCluster/1siem", "metadata.name"),
        (3, "WazuhCluster/1siem", "spec.indexer.replicas"),
    ]
    assert "'1siem' must start with a letter" in error.errors[0].message


def test_a_duplicate_document_is_reported_even_when_the_first_has_errors():
    error = refused(
        "kind: WandB\nmetadata: {name: ml}\nspec: {retainOnDelete: maybe}\n"
        "---\nkind: WandB\nmetadata: {name: ml, namespace: other}\n"
    )
    assert located(error) == [(3, "WandB/ml", "spec.retainOnDelete"), (6, "WandB/ml", "metadata.name")]
    assert "duplicate document: WandB/ml is already defined at line 1" in str(error)


def test_a_namespace_conflict_is_reported_beside_the_spec_errors_of_a_document_in_it():
    error = refused(
        "kind: WandB\nmetadata: {name: ml, namespace: shared}\nspec: {retainOnDelete: maybe}\n"
        "---\nkind: WazuhCluster\nmetadata: {name: logs, namespace: shared}\n"
    )
    assert located(error) == [
        (3, "WandB/ml", "spec.retainOnDelete"),
        (6, "WazuhCluster/logs", "metadata.namespace"),
    ]
    assert "namespace 'shared' is already created by WandB/ml (line 1)" in str(error)


def test_a_document_with_errors_is_still_there_for_the_documents_naming_it():
    # baseDomain is required: nothing of the pool can be checked, but it is defined all the same
    error = refused(
        PLATFORM
        + "kind: DomainPool\nmetadata: {name: apps}\nspec: {clusterIssuer: letsencrypt}\n---\n"
        + "kind: Project\nmetadata: {name: api}\n"
        + 'spec: {repo: {url: "https://git.corp.com/acme/api.git"}, domainPool: apps, registry: harbor}\n'
    )
    assert located(error) == [(7, "DomainPool/apps", "spec.baseDomain")]


def test_only_documents_without_errors_are_handed_on():
    error = refused(
        PLATFORM
        + "kind: WandB\nmetadata: {name: ml}\nspec: {retainOnDelete: maybe}\n---\n"
        + "kind: WandB\nmetadata: {name: ds}\n"
    )
    assert isinstance(error.documents, StackDocuments)
    assert [d.subject for d in error.documents] == ["Registry/harbor", "WandB/ds"]


class PoolSpec(SpecModel):
    domain: str


class AppSpec(SpecModel):
    pool: DnsLabel = "shared"
    replicas: int = Field(default=1, ge=1)

    def references(self) -> Iterable[SpecReference]:
        yield SpecReference(("pool",), "Pool", self.pool)


def _unused_factory(document, context):  # the loader never builds components
    raise AssertionError("not called")


REGISTRY = KindRegistry(
    [
        KindRegistration("Pool", PoolSpec, _unused_factory, namespaced=False),
        KindRegistration("App", AppSpec, _unused_factory),
    ]
)


def test_a_rule_never_reports_on_the_default_standing_in_for_an_invalid_value():
    # Left out, pool would be 'shared', which no document defines: that is not the user's mistake.
    error = refused("kind: App\nmetadata: {name: web}\nspec: {pool: Not_A_Label, replicas: 0}\n", REGISTRY)
    assert located(error) == [(3, "App/web", "spec.pool"), (3, "App/web", "spec.replicas")]


def test_a_reference_is_checked_when_another_field_of_the_document_is_invalid():
    error = refused("kind: App\nmetadata: {name: web}\nspec:\n  pool: elsewhere\n  replicas: 0\n", REGISTRY)
    assert located(error) == [(4, "App/web", "spec.pool"), (5, "App/web", "spec.replicas")]
    assert error.errors[0].message == "Pool 'elsewhere' is not defined in this stack"
