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
from collections.abc import Mapping
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

    def validate(self, obj: Mapping[str, Any]) -> list[SchemaFinding]:
        try:
            key = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):  # not plain JSON: judged each time, never remembered
            return self._validate(obj)
        findings = self._findings.get(key)
        if findings is None:
            findings = self._findings[key] = tuple(self._validate(obj))
        return list(findings)

    def _validate(self, obj: Mapping[str, Any]) -> list[SchemaFinding]:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not isinstance(api_version, str) or not isinstance(kind, str):
            return [SchemaFinding("", "object has no apiVersion/kind", "error")]
        validator = _builtin_validator(self.kubernetes_version, self.strict, api_version, kind)
        if validator is None:
            validator = self._crd_validator(api_version, kind)
        if validator is None:
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
        errors = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [SchemaFinding(_path(e), _message(e), "error") for e in errors]

    def _crd_validator(self, api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
        if self.crd_schema_dir is None or "/" not in api_version:
            return None
        group, version = api_version.split("/", 1)
        for suffix in (".openapi-derived.json", ".json"):
            candidate = self.crd_schema_dir / f"{group}_{version}_{kind}{suffix}"
            if candidate.is_file():
                return _crd_validator_for(str(candidate.resolve()), self.strict)
        return None


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
def _definitions(schema_dir: str) -> Registry:
    contents = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    return Resource.from_contents(contents) @ Registry()


@cache
def _builtin_validator(
    version: str, strict: bool, api_version: str, kind: str
) -> jsonschema.protocols.Validator | None:
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
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _declares(schema: Mapping[str, Any], api_version: str, kind: str) -> bool:
    group, _, version = api_version.rpartition("/")
    declared = schema.get("x-kubernetes-group-version-kind") or []
    return any(
        gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind
        for gvk in declared
    )


@cache
def _crd_validator_for(path: str, strict: bool) -> jsonschema.protocols.Validator:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    if strict:
        schema = _forbid_unknown_fields(schema)
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return validator_class(schema)


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
