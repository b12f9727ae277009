"""Load-time rules on a WazuhCluster that its spec model cannot see: the document name, and how far
the indexer may be scaled down from what was last applied.

A document name is a DNS-1123 label (it may start with a digit, and have up to 63 characters), but
a WazuhCluster derives names with stricter rules from it: its Services are DNS-1035 labels (a
letter first, at most 63 characters), its StatefulSets may have at most 52 characters, its CronJob
52 (see :mod:`components.wazuh.builders.names`). A name breaking one of them would be accepted
here and rejected by the API server halfway through an ``up``; :func:`check_names` rejects it with
the stack, at load time. It is a stack check (``KindRegistration.check_stack``) because the name
lives in ``metadata``, not in the spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document, SpecError, StackDocuments
from components.wazuh.builders.names import Names, longest_document_name
from components.wazuh.spec import WazuhClusterSpec

KIND = "WazuhCluster"


def check_names(stack: StackDocuments) -> Iterator[SpecError]:
    """Every WazuhCluster's name starts with a letter and is short enough for every derived name."""
    longest, kind, suffix = longest_document_name()
    for document in stack.of_kind(KIND):
        name = document.name
        problems = []
        if not name[:1].isalpha():
            service = Names(name, document.namespace).indexer
            problems.append(
                f"{name!r} must start with a letter: it prefixes Service names such as {service!r}, "
                "which are DNS-1035 labels"
            )
        if len(name) > longest:
            derived = f"{name}{suffix}"
            problems.append(
                f"{name!r} has {len(name)} characters, at most {longest} allowed: the {kind} "
                f"{derived!r} would have {len(derived)}, over Kubernetes' limit of {longest + len(suffix)}"
            )
        for message in problems:
            yield document.error(("metadata", "name"), message)


INDEXER_REPLICAS = "indexerReplicas"  # the applied fact: the indexer's replica count


def applied_facts(outputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """What a WazuhCluster's status output says was applied: the indexer's replica count
    (``KindRegistration.applied_from_outputs``)."""
    components = outputs.get("components")
    indexer = components.get("indexer") if isinstance(components, Mapping) else None
    replicas = indexer.get("replicas") if isinstance(indexer, Mapping) else None
    # Numbers may come back as floats from the engine; a bool is not a count.
    if isinstance(replicas, int | float) and not isinstance(replicas, bool) and replicas == int(replicas):
        return {INDEXER_REPLICAS: int(replicas)}
    return {}


def check_scale_down(document: Document, context: StackContext) -> list[SpecError]:
    """Refuse an indexer scale-down that can lose the cluster, unless the spec allows it.

    Every indexer node is cluster-manager-eligible (``cluster.initial_master_nodes`` names them
    all), so removing more than one at a time, or leaving fewer than a majority of the applied
    nodes, can leave the cluster without a quorum of voting nodes, and shards whose copies were all
    on the removed nodes are lost. With no record of what was applied (a first deploy, or a render
    without observations) nothing is refused.
    """
    spec = spec_of(document, WazuhClusterSpec)
    applied = (context.observations.applied_to(document.subject) or {}).get(INDEXER_REPLICAS)
    if spec.indexer.allow_unsafe_scale_down or not isinstance(applied, int):
        return []
    wanted = spec.indexer.replicas
    majority = applied // 2 + 1
    if wanted >= applied:
        return []
    problems = []
    if applied - wanted > 1:
        problems.append(f"removes {applied - wanted} indexer nodes at once; scale down by one at a time")
    if wanted < majority:
        problems.append(
            f"leaves fewer than a majority ({majority}) of the {applied} cluster-manager-eligible nodes, "
            "so the cluster can lose its quorum"
        )
    if not problems:
        return []
    message = (
        f"scaling the indexer down from {applied} (last applied) to {wanted} "
        + " and ".join(problems)
        + "; set spec.indexer.allowUnsafeScaleDown: true to do it anyway "
        + "(data on the removed nodes may be lost)"
    )
    return [document.error(("spec", "indexer", "replicas"), message)]
