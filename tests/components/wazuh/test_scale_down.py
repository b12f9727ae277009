"""Indexer scale-down safety: a render refuses what could lose the indexer cluster, from what the
last successful ``up`` applied (the observations' ``applied`` section), unless the spec allows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.wazuh.checks import applied_facts
from tests.components.wazuh import fakes
from tests.components.wazuh.test_component import STS, document, written
from tests.harness import write_stack

NOW = "2026-12-04T12:00:00Z"


def applied(replicas: int) -> dict[str, Any]:
    return {"now": NOW, "applied": {"WazuhCluster/siem": {"indexerReplicas": replicas}}}


def indexer(replicas: int, **extra: Any) -> dict[str, Any]:
    return document({"indexer": {"replicas": replicas, **extra}})


@pytest.mark.parametrize(("before", "after"), [(5, 4), (3, 2), (4, 3), (3, 3), (3, 7), (1, 1)])
def test_one_node_less_keeping_a_majority_or_more_nodes_renders(render, before, after):
    graph = render([indexer(after)], observations=applied(before))
    assert graph.problems == []
    [statefulset] = [r for r in written(graph, STS) if r.name == "siem-indexer"]
    assert statefulset.inputs["spec"]["replicas"] == after


def test_more_than_one_node_at_once_is_refused_on_the_replicas_line(render):
    graph = render([indexer(3)], observations=applied(5))
    [problem] = graph.result.problems
    assert (problem.resource, problem.path, problem.line) == ("WazuhCluster/siem", "spec.indexer.replicas", 8)
    assert "from 5 (last applied) to 3 removes 2 indexer nodes at once" in problem.message
    assert "leaves fewer than a majority" not in problem.message  # 3 of 5 is a majority
    assert "spec.indexer.allowUnsafeScaleDown: true" in problem.message
    # refused before any component registers: nothing is applied
    assert graph.resources == []


@pytest.mark.parametrize(("before", "after", "majority"), [(3, 1, 2), (2, 1, 2)])
def test_leaving_less_than_a_majority_of_the_cluster_manager_eligible_nodes_is_refused(
    render, before, after, majority
):
    graph = render([indexer(after)], observations=applied(before))
    [problem] = graph.result.problems
    assert f"leaves fewer than a majority ({majority}) of the {before} cluster-manager-eligible nodes" in (
        problem.message
    )
    assert "allowUnsafeScaleDown" in problem.message
    assert graph.resources == []


def test_both_reasons_are_given_at_once(render):
    [problem] = render([indexer(1)], observations=applied(5)).result.problems
    assert "removes 4 indexer nodes at once" in problem.message
    assert "fewer than a majority (3) of the 5" in problem.message


@pytest.mark.parametrize(("before", "after"), [(5, 3), (3, 1), (5, 1)])
def test_allow_unsafe_scale_down_accepts_it(render, before, after):
    graph = render([indexer(after, allowUnsafeScaleDown=True)], observations=applied(before))
    assert graph.problems == []
    [statefulset] = [r for r in written(graph, STS) if r.name == "siem-indexer"]
    assert statefulset.inputs["spec"]["replicas"] == after


def test_without_a_record_of_what_was_applied_nothing_is_refused(render):
    # a first deploy, a render without observations, another document's record, a file from before
    # the section existed
    assert render([indexer(1)]).problems == []
    other = {"now": NOW, "applied": {"WazuhCluster/other": {"indexerReplicas": 5}}}
    assert render([indexer(1)], observations=other).problems == []
    assert render([indexer(1)], observations={"now": NOW, "images": {}}).problems == []


def test_the_render_command_reads_the_section_and_an_old_file_without_it(tmp_path: Path):
    stack = write_stack([indexer(3)], tmp_path / "siem.yaml")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"now": NOW, "git": {}, "previews": {}, "images": {}}), encoding="utf-8")
    new = tmp_path / "new.json"
    new.write_text(json.dumps(applied(5)), encoding="utf-8")

    def render_command(observations: Path) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "automation", "render", "--file", str(stack)]
        return subprocess.run([*command, "--observations", str(observations)], capture_output=True, text=True)

    assert render_command(old).returncode == 0
    refused = render_command(new)
    assert refused.returncode != 0
    assert f"{stack}:8: WazuhCluster/siem: spec.indexer.replicas: scaling the indexer down from 5" in (
        refused.stdout + refused.stderr
    )


def test_the_status_output_names_the_applied_indexer_replicas(render):
    graph = render([indexer(4)], outputs=fakes.all_outputs())
    assert graph.problems == []
    status = graph.result.outputs["WazuhCluster/siem"]
    assert status["components"]["indexer"]["replicas"] == 4
    assert applied_facts(status) == {"indexerReplicas": 4}


@pytest.mark.parametrize("outputs", [{}, {"components": {}}, {"components": {"indexer": {"replicas": True}}}])
def test_outputs_without_a_count_give_no_facts(outputs):
    assert applied_facts(outputs) == {}
