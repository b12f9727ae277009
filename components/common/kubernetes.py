"""The Pulumi side of the Kubernetes objects every domain builds: child options and the stack-wide
transform. The objects themselves are plain data (:mod:`components.common.objects`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pulumi


def child(parent: pulumi.Resource, **kwargs: Any) -> pulumi.ResourceOptions:
    """Options for a component's child: parented to the component and nothing more."""
    return pulumi.ResourceOptions(parent=parent, **kwargs)


PATCH_FORCE_ANNOTATION = "pulumi.com/patchForce"


def annotate_every_object(annotations: Mapping[str, str]) -> None:
    """Every Kubernetes object the stack writes gets ``annotations``, as it is sent to the provider.

    For how objects are applied rather than what they are, so render (the mock runtime runs no
    transforms) shows the objects without them:

    - ``pulumi.com/patchForce: "true"``, always: driftless owns the fields it sets, as a
      controller applying with ``ForceOwnership`` does. An out-of-band edit makes its author the
      field's server-side-apply manager, and without force remediating it would fail on the
      conflict instead of putting the field back.
    - ``pulumi.com/skipAwait: "true"`` on a cluster that runs no pods (a control plane without
      kubelets, such as the engine sandbox): no Deployment ever becomes available there, so
      readiness waits could only time out. Real clusters keep the waits.
    """

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not args.type_.startswith("kubernetes:"):
            return None
        props: dict[str, Any] = dict(cast(Mapping[str, Any], args.props))
        metadata = dict(props.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        props["metadata"] = metadata
        return pulumi.ResourceTransformResult(props, args.opts)

    pulumi.runtime.register_resource_transform(transform)
