"""Small helpers for the Kubernetes objects every domain builds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

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


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a component's child: parented to the component and nothing more."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)
