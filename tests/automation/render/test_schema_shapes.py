"""Schema validation judges each shape of object once, and never lets that hide an error.

Objects of one kind across many stacks differ mostly in names, which no schema rule reads: once one
is found valid, another of its shape is valid too. A string that a rule does read (an enum, a
pattern, a length, uniqueness, through a ``$ref`` or in a map's values) is part of the shape, so
an object that differs there is checked on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from automation.render.schemas import SchemaValidator

API_VERSION = "example.driftless.dev/v1"
KIND = "Widget"

WIDGET_SCHEMA = {
    "type": "object",
    "definitions": {"Mode": {"type": "string", "enum": ["fast", "safe"]}},
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "string", "enum": ["small", "large"]},
                "mode": {"$ref": "#/definitions/Mode"},
                "owner": {"type": "string", "maxLength": 12},
                "zones": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "ports": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "pattern": "^[0-9]+$"},
                },
                "description": {"type": "string"},
            },
        },
    },
}


@pytest.fixture
def validator(tmp_path: Path) -> SchemaValidator:
    (tmp_path / f"example.driftless.dev_v1_{KIND}.json").write_text(json.dumps(WIDGET_SCHEMA))
    return SchemaValidator(crd_schema_dir=tmp_path)


def widget(name: str, **spec: Any) -> dict[str, Any]:
    fields = {
        "size": "small",
        "mode": "fast",
        "owner": "team-a",
        "zones": ["a", "b"],
        "ports": {"http": "80"},
        "description": "a widget",
    }
    fields.update(spec)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": {"name": name}, "spec": fields}


def paths(validator: SchemaValidator, obj: dict[str, Any]) -> list[str]:
    return [finding.path for finding in validator.validate(obj)]


@pytest.mark.parametrize(
    ("field", "bad", "path"),
    [
        ("size", "huge", "spec.size"),  # an enum
        ("mode", "reckless", "spec.mode"),  # an enum behind a $ref
        ("owner", "a-very-long-team-name", "spec.owner"),  # a length
        ("zones", ["a", "a"], "spec.zones"),  # uniqueness
        ("ports", {"http": "eighty"}, "spec.ports.http"),  # a pattern on a map's values
    ],
)
def test_a_string_a_rule_reads_is_checked_after_a_valid_object_of_the_same_layout(
    validator: SchemaValidator, field: str, bad: Any, path: str
) -> None:
    assert paths(validator, widget("first")) == []
    assert paths(validator, widget("second", **{field: bad})) == [path]


def test_strings_no_rule_reads_do_not_change_the_verdict(validator: SchemaValidator) -> None:
    assert paths(validator, widget("first")) == []
    assert paths(validator, widget("second", description="another widget", owner="team-b")) == []


def test_each_invalid_object_is_reported_with_its_own_values(validator: SchemaValidator) -> None:
    first = validator.validate(widget("first", size="huge"))
    second = validator.validate(widget("second", size="tiny"))
    assert "'huge'" in first[0].message
    assert "'tiny'" in second[0].message


def test_a_layout_the_schema_rejects_is_rejected_every_time(validator: SchemaValidator) -> None:
    assert paths(validator, widget("first", extra=1)) == paths(validator, widget("second", extra=2))
    assert paths(validator, widget("third", zones="not-a-list")) == ["spec.zones"]


def test_a_schema_whose_root_reads_strings_shares_no_shape(tmp_path: Path) -> None:
    """A kind whose every field's values are checked (the root's own map-value rule) is judged whole."""
    schema = {"type": "object", "additionalProperties": {"type": ["string", "object"], "minLength": 3}}
    (tmp_path / f"example.driftless.dev_v1_{KIND}.json").write_text(json.dumps(schema))
    validator = SchemaValidator(crd_schema_dir=tmp_path)
    valid = {"apiVersion": API_VERSION, "kind": KIND, "owner": "team-a"}

    assert paths(validator, valid) == []
    assert paths(validator, {**valid, "owner": "ab"}) == ["owner"]
