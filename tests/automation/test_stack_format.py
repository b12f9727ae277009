"""``docs/stack-format.md`` is the reference users read: it must name every kind and field the
loader accepts, and never fall behind the spec models."""

from __future__ import annotations

from pathlib import Path

from automation.cli import main
from automation.stack_format import DOCUMENT, render_stack_format
from components.registry import default_registry

REPO = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_current():
    committed = (REPO / DOCUMENT).read_text()
    assert committed == render_stack_format(default_registry()), (
        "docs/stack-format.md is stale: run `python -m automation stack-format --write`"
    )


def test_every_kind_and_every_field_is_documented():
    text = render_stack_format(default_registry())
    for registration in default_registry().registrations():
        assert f"## {registration.kind}\n" in text
        for name, field in registration.spec_model.model_fields.items():
            assert f"| `{field.alias or name}` |" in text, f"{registration.kind}.spec.{field.alias or name}"


def test_nested_fields_get_their_own_table_with_types_and_defaults():
    text = render_stack_format(default_registry())
    assert "### `spec.infra.kafka`" in text
    assert "| `port` | integer (≥ 1, ≤ 65535) | `8080` |" in text
    assert "### `spec.environments[]`" in text


def test_the_command_writes_the_file(tmp_path, capsys):
    assert main(["stack-format", "--write", "--project-dir", str(tmp_path)]) == 0
    assert (tmp_path / DOCUMENT).read_text() == render_stack_format(default_registry())
    assert main(["stack-format"]) == 0
    assert capsys.readouterr().out == render_stack_format(default_registry())
