"""WazuhCluster names: every name derived from the document's must be valid where it is used."""

from __future__ import annotations

import dataclasses
import re

import pytest

from components.documents import StackFileError, load_stack_text
from components.registry import KindRegistry
from components.wazuh import KINDS
from components.wazuh.builders.names import Names, longest_document_name
from components.wazuh.checks import check_names
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import document, written

FILE = "stacks/prod.yaml"
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def stack(*names: str) -> str:
    return "".join(
        f"---\nkind: WazuhCluster\nmetadata:\n  name: {name}\n  namespace: ns-{i}\nspec: {{}}\n"
        for i, name in enumerate(names)
    )


# The kind without its registered name check, so the check can be called on what it would reject.
UNCHECKED = KindRegistry([dataclasses.replace(KINDS[0], check_stack=None)])


def problems(*names: str) -> list[str]:
    return [str(error) for error in check_names(load_stack_text(stack(*names), FILE, UNCHECKED))]


def test_the_limit_comes_from_the_longest_suffix_under_the_tightest_limit():
    # "<name>-manager-master" and "<name>-manager-worker" are StatefulSets: at most 52 characters
    assert longest_document_name() == (37, "StatefulSet", "-manager-master")
    for kind, derived, limit in Names("x" * 37, "ns").limited():
        assert len(derived) <= limit, (kind, derived)


def test_good_names_pass():
    assert problems("siem", "soc-2", "s" * 37) == []


def test_a_name_starting_with_a_digit_is_rejected_where_it_is_written():
    [error] = problems("siem", "1siem")
    assert error.startswith(f"{FILE}:10: WazuhCluster/1siem: metadata.name: '1siem' must start with a letter")
    assert "'1siem-indexer'" in error


def test_a_name_too_long_for_a_derived_name_is_rejected():
    name = "a" * 38
    [error] = problems(name)
    assert f"at most 37 allowed: the StatefulSet '{name}-manager-master' would have 53" in error
    assert "limit of 52" in error


def test_both_problems_of_one_name_are_reported():
    assert len(problems("9" + "a" * 62)) == 2


def test_the_loader_rejects_the_stack():
    with pytest.raises(StackFileError) as caught:
        load_stack_text(stack("1siem"), FILE)
    assert [e.path for e in caught.value.errors] == ["metadata.name"]


def test_the_longest_allowed_name_renders_valid_names(render):
    name = "s" * longest_document_name()[0]
    graph = render([document({"logRotation": {"enabled": True}}, name=name)], outputs=fakes.all_outputs())
    assert graph.problems == []
    services = [r.inputs["metadata"]["name"] for r in written(graph, "kubernetes:core/v1:Service")]
    assert len(services) == 6
    for service in services:
        assert len(service) <= 63, service
        assert DNS_1035.match(service), service
    for kind in ("kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:CronJob"):
        for workload in written(graph, kind):
            assert len(workload.inputs["metadata"]["name"]) <= 52, workload.name
    # a Job names its pods' job-name label: 63 characters at most, the credentials hash included
    [job] = written(graph, "kubernetes:batch/v1:Job")
    assert len(job.inputs["metadata"]["name"]) <= 63
    assert job.inputs["metadata"]["name"].startswith(f"{name}-indexer-users-")
