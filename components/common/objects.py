"""Kubernetes objects as plain data: pure helpers, no Pulumi, for builders and for the modules that
infer status."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.common.spec import ResourceRequirements

_SNAKE = re.compile(r"_([a-z0-9])")


def normalize(value: Any) -> Any:
    """A live object or status as Kubernetes writes it: camelCase keys, plain dicts and lists.

    The provider SDK hands back typed output objects keyed in snake_case (``ready_replicas``);
    the API, and the tests' fixtures, use camelCase. Both come out the same.
    """
    if isinstance(value, Mapping):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), str(k)): normalize(v) for k, v in value.items()}
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
