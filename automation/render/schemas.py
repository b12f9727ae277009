"""Validate rendered Kubernetes objects: built-in kinds against the Kubernetes OpenAPI schema,
custom resources against their operator's CRD schema.

Built-in schemas come from the ``kubernetes-validate`` package (strict variants: unknown fields
are errors), at a pinned Kubernetes version. CRD schemas are read from a directory of
``<group>_<version>_<Kind>.json`` files (``openAPIV3Schema`` only); where an
``<group>_<version>_<Kind>.openapi-derived.json`` exists it is preferred, because some operators
(kpack) publish a CRD with no schema and validate in a webhook instead. A custom resource with no
schema is reported as a warning: never silently passed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
from packaging.version import Version
from referencing import Registry, Resource

DEFAULT_KUBERNETES_VERSION = "1.33"
KUBERNETES_VERSION_ENV = "DRIFTLESS_KUBERNETES_VERSION"
CRD_SCHEMAS_ENV = "DRIFTLESS_CRD_SCHEMAS"
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class SchemaFinding:
    """A validation result for one object: an error at a path, or a warning about the object."""

    path: str
    message: str
    severity: str  # "error" | "warning"


class SchemaValidator:
    """Validates Kubernetes objects (plain dicts with apiVersion and kind)."""

    def __init__(
        self,
        kubernetes_version: str | None = None,
        crd_schema_dir: str | Path | None = None,
        strict: bool = True,
    ):
        requested = kubernetes_version or os.environ.get(KUBERNETES_VERSION_ENV) or DEFAULT_KUBERNETES_VERSION
        self.kubernetes_version = _supported_version(requested.removeprefix("v"))
        directory = crd_schema_dir or os.environ.get(CRD_SCHEMAS_ENV)
        self.crd_schema_dir = Path(directory) if directory else None
        self.strict = strict
        # Findings per distinct object (canonical JSON): stacks of a kind repeat the same objects.
        self._findings: dict[str, tuple[SchemaFinding, ...]] = {}
        # The shapes (see ``_shape``) of the objects found valid: objects of one shape are valid together.
        self._valid_shapes: set[str] = set()

    def validate(self, obj: Mapping[str, Any]) -> list[SchemaFinding]:
        try:
            key = _canonical(obj)
        except (TypeError, ValueError):  # not plain JSON: judged each time, never remembered
            return self._validate(obj)
        findings = self._findings.get(key)
        if findings is None:
            findings = self._findings[key] = tuple(self._validate(obj))
        return list(findings)

    def _validate(self, obj: Mapping[str, Any]) -> list[SchemaFinding]:
        """The findings for one object; when it has the shape of an object found valid, none.

        Findings are never shared between objects of one shape: a message quotes the object's own
        values. Only the verdict "valid" is.
        """
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return [SchemaFinding("", "object has no apiVersion/kind", "error")]
        schema = self._schema(api_version, kind)
        if schema is None:
            where = (
                f" in {self.crd_schema_dir}" if self.crd_schema_dir else " (no --crd-schemas directory given)"
            )
            return [
                SchemaFinding(
                    "",
                    f"no schema for {api_version} {kind}{where}; the object was not validated",
                    "warning",
                )
            ]
        shape = _canonical(_shape(obj, schema.strings_checked, checked=schema.every_string_checked))
        if shape in self._valid_shapes:
            return []
        errors = sorted(schema.validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        if not errors:
            self._valid_shapes.add(shape)
        return [SchemaFinding(_path(e), _message(e), "error") for e in errors]

    def _schema(self, api_version: str, kind: str) -> _Schema | None:
        builtin = _builtin_schema(self.kubernetes_version, self.strict, api_version, kind)
        return builtin if builtin is not None else self._crd_schema(api_version, kind)

    def _crd_schema(self, api_version: str, kind: str) -> _Schema | None:
        if self.crd_schema_dir is None or "/" not in api_version:
            return None
        group, version = api_version.split("/", 1)
        for suffix in (".openapi-derived.json", ".json"):
            candidate = self.crd_schema_dir / f"{group}_{version}_{kind}{suffix}"
            if candidate.is_file():
                return _crd_schema_for(str(candidate.resolve()), self.strict)
        return None


@dataclass(frozen=True)
class _Schema:
    """A kind's validator, and the names of the fields whose strings it looks at (see ``_shape``)."""

    validator: jsonschema.protocols.Validator
    strings_checked: frozenset[str]
    every_string_checked: bool = False  # the schema's root itself checks strings: no shape is shared


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


_ANY_STRING = "\u00b7"


def _shape(value: Any, strings_checked: frozenset[str], checked: bool = False) -> Any:
    """The object with every string that no rule of its schema looks at replaced by one placeholder.

    Keys, numbers, booleans, nulls and the layout stay. A string stays as it is under a field whose
    schema checks strings (an enum, a pattern, a length, uniqueness: see
    :func:`_fields_checking_strings`), and so does everything below such a field. Two objects of one
    shape are valid or invalid together: what tells them apart, no rule of the schema reads.
    """
    if isinstance(value, dict):
        return {
            key: _shape(item, strings_checked, checked or key in strings_checked)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_shape(item, strings_checked, checked) for item in value]
    if isinstance(value, str) and not checked:
        return _ANY_STRING
    return value


# Keywords that tell one string from another. ``format`` is not among them: these validators are
# built without a format checker, so it is an annotation only.
_STRING_RULES = frozenset({"enum", "const", "pattern", "minLength", "maxLength", "uniqueItems"})
# Keywords whose subschemas apply to the same value or to its items, not to a named field.
_SAME_FIELD = ("items", "additionalItems", "contains", "not", "if", "then", "else", "unevaluatedItems")
_SAME_FIELD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_MAP_VALUES = ("additionalProperties", "unevaluatedProperties", "patternProperties", "dependentSchemas")


def _fields_checking_strings(document: Any, definitions: Any) -> frozenset[str]:
    """Every field name whose schema, anywhere in ``document``, checks the strings under it.

    A schema document (and, apart, the definitions it refers to) is walked whole: a name is kept if
    any field of that name checks strings, so the answer errs towards keeping strings, never towards
    treating two different objects as one. ``apiVersion`` and ``kind`` pick the schema: always kept.
    """
    names = {"apiVersion", "kind"}
    for node in _nodes(document):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, field_schema in properties.items():
                if _checks_strings(field_schema, document, definitions, set()):
                    names.add(name)
    return frozenset(names)


def _nodes(document: Any) -> Iterator[dict[str, Any]]:
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _checks_strings(schema: Any, document: Any, definitions: Any, seen: set[str]) -> bool:
    """Whether ``schema`` checks a string it applies to, or one in its items or map values.

    Named fields (``properties``) are not followed: they are judged by their own names.
    """
    if not isinstance(schema, dict):
        return False
    if _STRING_RULES & schema.keys():
        return True
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference not in seen:
        seen.add(reference)
        target = _referenced(reference, document, definitions)
        if target is None or _checks_strings(target, document, definitions, seen):
            return True  # a rule that cannot be found is taken to check strings
    subschemas: list[Any] = [schema.get(key) for key in _SAME_FIELD]
    for key in _SAME_FIELD_LISTS:
        subschemas.extend(schema.get(key) or ())
    for key in _MAP_VALUES:
        value = schema.get(key)
        subschemas.extend(
            value.values()
            if key in ("patternProperties", "dependentSchemas") and isinstance(value, dict)
            else [value]
        )
    return any(_checks_strings(sub, document, definitions, seen) for sub in subschemas)


def _referenced(reference: str, document: Any, definitions: Any) -> Any:
    """The subschema a ``$ref`` names: in its own document, or in the shared definitions file."""
    base, _, pointer = reference.partition("#")
    target = definitions if base.endswith("_definitions.json") else document if not base else None
    for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
        if not isinstance(target, dict):
            return None
        target = target.get(part.replace("~1", "/").replace("~0", "~"))
    return target


def _supported_version(requested: str) -> str:
    versions = kv.all_versions()
    wanted = Version(kv.major_minor(requested))
    usable = [v for v in versions if Version(kv.major_minor(v)) <= wanted]
    if not usable or wanted > Version(kv.major_minor(versions[-1])):
        raise ValueError(
            f"Kubernetes {requested} is not supported by kubernetes-validate "
            f"{kv.__version__} (it has {versions[0]} to {versions[-1]})"
        )
    return usable[-1]


def _builtin_schema_name(api_version: str, kind: str) -> str:
    # "apps/v1" -> "apps-v1", "networking.k8s.io/v1" -> "networking-v1", "v1" -> "v1"
    group, _, version = api_version.rpartition("/")
    prefix = f"{group.split('.')[0]}-" if group else ""
    return f"{kind.lower()}-{prefix}{version}.json"


@cache
def _definitions_contents(schema_dir: str) -> Any:
    return kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)


@cache
def _definitions_checking_strings(schema_dir: str) -> frozenset[str]:
    definitions = _definitions_contents(schema_dir)
    return _fields_checking_strings(definitions, definitions)


@cache
def _definitions(schema_dir: str) -> Registry:
    return Resource.from_contents(_definitions_contents(schema_dir)) @ Registry()


@cache
def _builtin_schema(version: str, strict: bool, api_version: str, kind: str) -> _Schema | None:
    schema_dir = f"v{version}-local" + ("-strict" if strict else "")
    try:
        schema = kv.schema_contents(
            f"kubernetes-json-schema/{schema_dir}/{_builtin_schema_name(api_version, kind)}", version
        )
    except FileNotFoundError:
        return None
    # A CRD's kind can share a name with a built-in one (a group's "Image"); only trust the match
    # when the schema declares exactly this group/version/kind.
    if not _declares(schema, api_version, kind):
        return None
    registry = Resource.from_contents(schema) @ _definitions(schema_dir)
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    definitions = _definitions_contents(schema_dir)
    checked = _fields_checking_strings(schema, definitions) | _definitions_checking_strings(schema_dir)
    return _Schema(validator, checked, _checks_strings(schema, schema, definitions, set()))


def _declares(schema: Mapping[str, Any], api_version: str, kind: str) -> bool:
    group, _, version = api_version.rpartition("/")
    declared = schema.get("x-kubernetes-group-version-kind") or []
    return any(
        gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind
        for gvk in declared
    )


@cache
def _crd_schema_for(path: str, strict: bool) -> _Schema:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    if strict:
        schema = _forbid_unknown_fields(schema)
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return _Schema(
        validator_class(schema),
        _fields_checking_strings(schema, schema),
        _checks_strings(schema, schema, schema, set()),
    )


def _forbid_unknown_fields(schema: Any) -> Any:
    """What the API server's strict field validation does: an object schema that lists its
    properties and does not preserve unknown fields rejects any other field (instead of pruning
    it silently, which would hide a typo)."""
    if isinstance(schema, list):
        return [_forbid_unknown_fields(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _forbid_unknown_fields(value) for key, value in schema.items()}
    if (
        "properties" in result
        and isinstance(result["properties"], dict)
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        result["additionalProperties"] = False
    return result


def _path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: jsonschema.ValidationError) -> str:
    message = error.message
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
