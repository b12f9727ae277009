"""Custom resources whose live ``status`` the program reads.

``pulumi_kubernetes.apiextensions.CustomResource`` only exposes the properties it was given
(``apiVersion``, ``kind``, ``metadata``, ``spec``); Pulumi drops every other output the provider
reports, ``status`` included, and ``CustomResource.get`` exposes none at all. The class below
registers exactly the same resource (same type token, same provider, same inputs: a ``None``
property is never sent) but also declares ``status``, so the provider's answer reaches the program:
a kpack Image's build result, a ClusterIssuer's readiness, an operator's view of its cluster.

A read (``LiveCustomResource.read``) runs on every ``up``: a written resource's own outputs are
only what the provider saw the last time it changed it, so they would keep a stale status.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s


class LiveCustomResource(k8s.apiextensions.CustomResource):
    """A ``CustomResource`` (created or read) with ``metadata`` and ``status`` readable as Outputs."""

    def _internal_init(  # type: ignore[override]
        self,
        resource_name: str,
        api_version: str,
        kind: str,
        opts: pulumi.ResourceOptions | None = None,
        metadata: Any = None,
        spec: Any = None,
        __props__: Any = None,
    ) -> None:
        properties = {
            "apiVersion": api_version,
            "kind": kind,
            "metadata": metadata,
            "spec": spec,
            "status": None,  # an output only: declared so that it is resolved, never sent
        }
        pulumi.CustomResource.__init__(
            self, f"kubernetes:{api_version}:{kind}", resource_name, properties, opts
        )

    @classmethod
    def read(
        cls,
        resource_name: str,
        *,
        api_version: str,
        kind: str,
        id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> LiveCustomResource:
        """Read an existing object (``<namespace>/<name>`` or ``<name>`` for cluster-wide kinds).

        The name and namespace go in ``metadata`` as well as in the id: given an ``apiVersion``
        and ``kind``, the provider takes the namespace from the inputs only, and would look for a
        namespaced object outside its namespace (and report it gone).
        """
        return cls(
            resource_name,
            api_version=api_version,
            kind=kind,
            metadata=pulumi.Output.from_input(id).apply(_metadata_of),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id)),
        )

    @property
    def status(self) -> pulumi.Output[Any]:
        """The live ``status`` the operator wrote (None when it has written none)."""
        status: pulumi.Output[Any] = self.__dict__["status"]
        return status

    def live(self) -> pulumi.Output[dict[str, Any]]:
        """``{"metadata": …, "status": …}`` as the provider reports them (``{}`` for absent parts)."""
        metadata: pulumi.Output[Any] = self.__dict__["metadata"]
        return pulumi.Output.all(metadata, self.status).apply(
            lambda parts: {"metadata": parts[0] or {}, "status": parts[1] or {}}
        )


def _metadata_of(object_id: str) -> dict[str, str]:
    namespace, _, name = object_id.rpartition("/")
    return {"name": name, "namespace": namespace} if namespace else {"name": name}
