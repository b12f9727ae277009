"""``createNamespace: false`` declares a namespace external: the component deploys into it, never creates it.

Rendered through the real program, loader and schema validation (``tests/harness.py``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import RenderedGraph

NAMESPACE = "kubernetes:core/v1:Namespace"
PLATFORM: list[dict[str, Any]] = [
    {
        "kind": "DomainPool",
        "metadata": {"name": "pool"},
        "spec": {"baseDomain": "apps.corp.com", "clusterIssuer": "letsencrypt-prod"},
    },
    {
        "kind": "Registry",
        "metadata": {"name": "harbor"},
        "spec": {"server": "harbor.corp.com", "repositoryPrefix": "acme", "credentialsSecret": "push"},
    },
]


def documents(kind: str, namespace: str, spec: dict[str, Any]) -> list[dict[str, Any]]:
    if kind == "Project":
        spec = {
            "repo": {"url": "https://git.corp.com/acme/api.git"},
            "domainPool": "pool",
            "registry": "harbor",
            "environments": [{"name": "dev"}],
            **spec,
        }
        return [*PLATFORM, {"kind": kind, "metadata": {"name": "api", "namespace": namespace}, "spec": spec}]
    return [{"kind": kind, "metadata": {"name": "infra", "namespace": namespace}, "spec": spec}]


def namespaces_of_objects(graph: RenderedGraph) -> set[str]:
    return {
        r.inputs["metadata"]["namespace"]
        for r in graph.kubernetes_objects()
        if r.read is None and "namespace" in r.inputs.get("metadata", {})
    }


@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB", "Project"])
def test_an_external_system_namespace_is_deployed_into_and_never_created(render, kind: str):
    graph = render(documents(kind, "kube-system", {"createNamespace": False}))

    assert graph.problems == []
    assert graph.of_type(NAMESPACE) == []
    assert namespaces_of_objects(graph) == {"kube-system"}


@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB", "Project"])
def test_a_namespace_that_is_not_external_is_created(render, kind: str):
    graph = render(documents(kind, "team", {}))

    assert graph.problems == []
    assert [r.inputs["metadata"]["name"] for r in graph.of_type(NAMESPACE)] == ["team"]
    assert namespaces_of_objects(graph) == {"team"}


@pytest.mark.parametrize("kind", ["WazuhCluster", "WandB", "Project"])
def test_a_system_namespace_that_is_not_external_renders_nothing(render, kind: str):
    graph = render(documents(kind, "kube-system", {}))

    assert graph.resources == []
    assert any("namespace 'kube-system' is a system namespace" in p for p in graph.problems)
