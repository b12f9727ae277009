"""Kubernetes objects as plain data: pure helpers, no Pulumi, for builders and for the modules that
infer status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.common.spec import ResourceRequirements

SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "driftless"


def labels(name: str, component: str, part_of: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The recommended Kubernetes labels for one component of one instance."""
    result = {
        "app.kubernetes.io/name": component,
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/part-of": part_of,
        MANAGED_BY_LABEL: MANAGED_BY,
    }
    result.update(extra or {})
    return result


def object_meta(
    name: str,
    namespace: str | None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``metadata`` block; empty label/annotation maps are left out."""
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def await_annotations(wait_for_ready: bool) -> dict[str, str]:
    """``pulumi.com/skipAwait: "true"`` unless the caller wants the provider's readiness await."""
    return {} if wait_for_ready else {SKIP_AWAIT_ANNOTATION: "true"}


_SNAKE = re.compile(r"_([a-z0-9])")


def normalize(value: Any) -> Any:
    """A live object or status as Kubernetes writes it: camelCase keys, plain dicts and lists.

    The provider SDK hands back typed output objects keyed in snake_case (``ready_replicas``);
    the API, and the tests' fixtures, use camelCase. Both come out the same.
    """
    if isinstance(value, Mapping):
        # An output object with a field named ``items`` (a volume's ConfigMap or Secret keys) shadows
        # the mapping's method with that field, so the pairs are taken from dict itself.
        pairs = dict.items(value) if isinstance(value, dict) else value.items()
        return {_SNAKE.sub(lambda m: m.group(1).upper(), str(k)): normalize(v) for k, v in pairs}
    if isinstance(value, list | tuple):
        return [normalize(item) for item in value]
    return value


def resources_block(
    requested: ResourceRequirements | None, default: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """A container's ``resources``: the spec's requests/limits, or ``default`` when the spec gives none."""
    if requested is not None:
        return requested.to_kubernetes()
    return {kind: dict(values) for kind, values in default.items()}


def volume_claim_spec(storage: str, storage_class: str | None) -> dict[str, Any]:
    """A ReadWriteOnce PersistentVolumeClaim spec of ``storage`` (the cluster's default class unless
    ``storage_class`` names one)."""
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage}},
    }
    if storage_class is not None:
        claim["storageClassName"] = storage_class
    return claim
