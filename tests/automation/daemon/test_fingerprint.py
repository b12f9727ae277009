"""Fingerprints change exactly when something that can change an ``up`` changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.daemon.fingerprint import (
    ProgramSource,
    fingerprint,
    force_tokens,
    stack_config_material,
)
from components.documents import load_stack_text
from tests.automation.daemon.helpers import REGISTRY


def documents(text: str):
    return load_stack_text(text, "stacks/dev.yaml", REGISTRY)


def print_of(text: str, *, program: str = "p1", config=None, observations=None) -> str:
    return fingerprint(
        documents(text), program_digest=program, config=config or {}, observations=observations or {}
    ).value


BASE = "kind: Note\nmetadata: {name: a}\nspec: {data: {color: red, size: '3'}}\n"


def test_formatting_comments_and_key_order_do_not_count():
    reformatted = (
        "# the same document, written differently\n"
        "---\n"
        "spec:\n"
        "  data:\n"
        "    size: '3'\n"
        '    color: "red"\n'
        "metadata:\n"
        "  name: a\n"
        "kind: Note\n"
    )
    assert print_of(reformatted) == print_of(BASE)


def test_every_part_counts():
    base = print_of(BASE)
    assert print_of(BASE.replace("red", "blue")) != base
    assert print_of(BASE, program="p2") != base
    assert print_of(BASE, config={"driftless:vaultAddress": "https://vault"}) != base
    assert print_of(BASE, observations={"git": {"https://git/api.git": {"main": "abc"}}}) != base


def test_the_force_token_is_tracked_apart_from_the_fingerprint():
    forced = BASE.replace(
        "metadata: {name: a}", "metadata: {name: a, annotations: {driftless.dev/force-reconcile: t1}}"
    )

    assert print_of(forced) == print_of(BASE)
    assert force_tokens(documents(forced)) == {"Note/a": "t1"}
    assert force_tokens(documents(BASE)) == {}


def test_other_annotations_count():
    annotated = BASE.replace("metadata: {name: a}", "metadata: {name: a, annotations: {team: ml}}")
    assert print_of(annotated) != print_of(BASE)


def test_a_program_change_changes_only_the_program_part():
    before = fingerprint(documents(BASE), program_digest="p1", config={}, observations={})
    after = fingerprint(documents(BASE), program_digest="p2", config={}, observations={})

    assert [k for k in after.parts if after.parts[k] != before.parts[k]] == ["program"]
    assert after.value.startswith("sha256:")
    assert after.value != before.value


def test_program_source_covers_main_and_components(tmp_path: Path):
    (tmp_path / "components" / "wazuh").mkdir(parents=True)
    (tmp_path / "__main__.py").write_text("main()\n")
    module = tmp_path / "components" / "wazuh" / "component.py"
    module.write_text("X = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    source = ProgramSource(tmp_path)
    first = source.digest()

    (tmp_path / "README.md").write_text("other docs\n")
    assert source.digest() == first

    module.write_text("X = 2\n")
    assert source.digest() != first

    module.write_text("X = 1\n")
    assert source.digest() == first


def test_program_source_covers_what_connector_packages_hold(tmp_path: Path):
    connector = tmp_path / "connectors" / "donors"
    (connector / "files").mkdir(parents=True)
    (tmp_path / "connectors" / "common").mkdir()
    (connector / "connector.py").write_text("def update(): ...\n")
    shared = tmp_path / "connectors" / "common" / "cursor.py"
    shared.write_text("TAKES = [1000]\n")
    local_config = connector / "configuration.json"
    local_config.write_text('{"token": "local"}\n')
    source = ProgramSource(tmp_path)
    first = source.digest()

    local_config.write_text('{"token": "other"}\n')  # never packaged: not source
    (connector / "files" / "state.json").write_text("{}\n")  # fivetran debug output
    assert source.digest() == first

    shared.write_text("TAKES = [1000, 500]\n")
    assert source.digest() != first


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_stack_config_ignores_the_keys_the_daemon_writes(tmp_path: Path, suffix: str):
    (tmp_path / f"Pulumi.dev{suffix}").write_text(
        "config:\n"
        "  driftless:stackFile: /srv/stacks/dev.yaml\n"
        "  driftless:observationsFile: /srv/.driftless/observations/dev.json\n"
        "  driftless:vaultAddress: https://vault.corp.com\n"
    )

    assert stack_config_material(tmp_path, "dev") == {"driftless:vaultAddress": "https://vault.corp.com"}
    assert stack_config_material(tmp_path, "prod") == {}


@pytest.mark.parametrize("name", ["Pulumi.yaml", "requirements.txt"])
def test_program_source_covers_the_project_file_and_the_dependencies(tmp_path: Path, name: str):
    (tmp_path / "__main__.py").write_text("main()\n")
    (tmp_path / "Pulumi.yaml").write_text("name: driftless\nruntime: python\n")
    (tmp_path / "requirements.txt").write_text("pulumi==3.200.0\n")
    source = ProgramSource(tmp_path)
    first = source.digest()

    changed = {
        "Pulumi.yaml": "name: driftless\nruntime: {name: python, options: {toolchain: uv}}\n",
        "requirements.txt": "pulumi==3.272.0\n",
    }
    (tmp_path / name).write_text(changed[name])

    assert source.digest() != first
