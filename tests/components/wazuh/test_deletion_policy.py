"""deletionPolicy: what removing a WazuhCluster document leaves in the cluster, shown in the plan.

Each test renders the stack twice, with the document and then without it (or with the policy
changed), and reads the review diff between the two renders, as ``diff`` shows it in a pull request.
"""

from __future__ import annotations

from typing import Any

import pytest

from automation.render.diff import diff_renders, to_markdown
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import STS, assert_valid, document, written
from tests.harness import RenderedGraph

SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
# The namespace and the Secrets holding what the retained volumes were written with.
RETAINED = {
    (NAMESPACE, "siem-namespace"),
    (SECRET, "siem-indexer-cred"),
    (SECRET, "siem-dashboard-cred"),
    (SECRET, "siem-api-cred"),
    (SECRET, "siem-cluster-key"),
    (SECRET, "siem-authd-pass"),
}
# Something else in the stack, so that removing the WazuhCluster leaves a stack to render.
OTHER = {
    "apiVersion": "driftless.dev/v1alpha1",
    "kind": "DomainPool",
    "metadata": {"name": "apps-pool"},
    "spec": {"baseDomain": "apps.corp.com", "clusterIssuer": "letsencrypt-prod"},
}


def render_json(render, documents: list[dict[str, Any]]) -> tuple[RenderedGraph, dict[str, Any]]:
    graph = render(documents, outputs=fakes.all_outputs())
    assert_valid(graph)
    return graph, graph.result.to_json()


def retained(graph: RenderedGraph) -> set[tuple[str, str]]:
    return {(r.type, r.name) for r in graph.resources if r.retain_on_delete}


@pytest.mark.parametrize("spec", [{}, {"deletionPolicy": "Retain"}])
def test_retain_is_the_default_and_keeps_namespace_volumes_and_credentials(render, spec):
    graph, before = render_json(render, [document(spec), OTHER])
    assert retained(graph) == RETAINED
    for workload in written(graph, STS):
        policy = workload.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}, workload.name

    _, after = render_json(render, [OTHER])
    plan = diff_renders(before, after)
    assert not plan.added
    assert not plan.updated
    removed = {(r["type"], r["name"]): bool(r.get("retainOnDelete")) for r in plan.removed}
    assert {key for key, kept in removed.items() if kept} == RETAINED
    # the workloads, certificates and configuration go; the claims stay through the StatefulSets' policy
    assert {(STS, name) for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker")} <= {
        key for key, kept in removed.items() if not kept
    }
    markdown = to_markdown(plan)
    retained_note = "— **retained**: leaves the stack, stays in the cluster"
    assert f"`{NAMESPACE}` **siem-namespace** (in `siem`) {retained_note}" in markdown
    assert f"`{SECRET}` **siem-cluster-key** (in `siem`) {retained_note}" in markdown
    assert f"`{SECRET}` **siem-indexer-certs** (in `siem`)\n" in markdown  # not retained
    assert f"({len(RETAINED)} of the deleted retained in the cluster)" in markdown


def test_delete_removes_everything_data_included(render):
    graph, before = render_json(render, [document({"deletionPolicy": "Delete"}), OTHER])
    assert retained(graph) == set()
    for workload in written(graph, STS):
        policy = workload.inputs["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Delete", "whenScaled": "Retain"}, workload.name

    _, after = render_json(render, [OTHER])
    markdown = to_markdown(diff_renders(before, after))
    assert "retained" not in markdown
    assert f"- `-` `{NAMESPACE}` **siem-namespace** (in `siem`)\n" in markdown


def test_changing_the_policy_shows_on_every_resource_it_affects(render):
    _, retain = render_json(render, [document({"deletionPolicy": "Retain"})])
    _, delete = render_json(render, [document({"deletionPolicy": "Delete"})])
    plan = diff_renders(retain, delete)
    changed = {(r["type"], r["name"]): [c.path for c in changes] for r, changes in plan.updated}
    for key in RETAINED:
        assert changed.pop(key) == ["retainOnDelete (resource option)"], key
    assert changed == {
        (STS, name): ["spec.persistentVolumeClaimRetentionPolicy.whenDeleted"]
        for name in ("siem-indexer", "siem-manager-master", "siem-manager-worker")
    }
    assert "`retainOnDelete (resource option)`: `true` → `false`" in to_markdown(plan)


def test_without_its_own_namespace_only_the_credentials_are_retained(render):
    graph, _ = render_json(render, [document({"createNamespace": False})])
    assert retained(graph) == RETAINED - {(NAMESPACE, "siem-namespace")}
