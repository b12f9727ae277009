"""``python -m automation render``, end to end in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import SHARED_CRDS

PROJECT = Path(__file__).resolve().parents[3]


def run_render(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTLESS_CRD_SCHEMAS": str(SHARED_CRDS)}
    return subprocess.run(
        [sys.executable, "-m", "automation", "render", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_dev_stack_renders_valid_and_identically_twice():
    first = run_render("--stack", "dev", "--format", "json")
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    assert document["stack"] == "dev"
    assert document["problems"] == []
    assert document["resources"], "stacks/dev.yaml should show every kind"
    for resource in document["resources"]:
        assert {"type", "name", "parent", "inputs"} <= resource.keys()
    assert "[secret]" in first.stdout  # the example stacks hold secrets; they must print masked
    second = run_render("--stack", "dev", "--format", "json")
    assert second.stdout == first.stdout


def test_broken_yaml_exits_non_zero_naming_file_and_line(tmp_path):
    stack = tmp_path / "broken.yaml"
    stack.write_text("kind: WazuhCluster\nmetadata: {name: siem}\nspec: {indexer: [1\n")
    result = run_render("--file", str(stack), "--format", "json")
    assert result.returncode == 1
    assert f"{stack}:3: invalid YAML" in result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert problems[0]["file"] == str(stack)
    assert problems[0]["line"] == 3


def test_unknown_kind_and_field_exit_non_zero_with_every_error(tmp_path):
    stack = tmp_path / "bad.yaml"
    stack.write_text(
        "kind: Nonsense\nmetadata: {name: x}\n---\nkind: Nonsense\nmetadata: {name: y, labelz: {}}\n"
    )
    result = run_render("--file", str(stack))
    assert result.returncode == 1
    assert f"{stack}:1: Nonsense/x: kind: unknown kind 'Nonsense'" in result.stderr
    assert f"{stack}:5: Nonsense/y: metadata.labelz: unknown field" in result.stderr
