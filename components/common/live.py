"""Reading a Kubernetes object as it is now: the one way every domain reads live status.

:func:`read_live` reads an object (a workload the component wrote, or one it only uses, such as a
ClusterIssuer) and returns its ``metadata``, ``spec`` and ``status`` as Kubernetes writes them:
camelCase keys, plain dicts and lists, ``{}`` for a part the object does not have. The domains'
pure status functions take that shape, so they are tested with fixtures copied from ``kubectl get
-o json``.

A read runs on every ``up``: a written resource's own outputs are only what the provider saw the
last time it changed the object, and an ``up`` with nothing to change does not ask the provider at
all, so an operator's status would stay frozen at "just created". Give a written object's read the
written resource's id (or an Output of it), so it runs after the write; while a preview plans a new
object its id is unknown and Pulumi skips the read instead of failing on an object that does not
exist yet.

Only public API is used:

- built-in kinds (``apps/v1`` Deployment, ``batch/v1`` Job, ...) through their typed
  ``pulumi_kubernetes`` class's ``get``; the SDK hands its outputs over keyed in snake_case, which
  :func:`components.common.objects.normalize` turns back into Kubernetes' names;
- custom resources through Pulumi's own :class:`pulumi.CustomResource`, registered as a read of
  the same type token (``kubernetes:<apiVersion>:<kind>``) the Kubernetes provider serves.
  ``pulumi_kubernetes.apiextensions.CustomResource`` cannot do it: Pulumi resolves only the
  properties a resource class declares, that class declares no ``status``, and its ``get`` declares
  nothing at all. The resource here declares ``status`` (never sent: a ``None`` property is left
  out of the request) and pins the provider version the ``pulumi_kubernetes`` package is built
  for, as that package's own resources do, so the read goes through the same default provider.

Offline, under a renderer's mock runtime, nothing can answer a read. A renderer then installs an
:class:`OfflineReads` with :func:`reads_recorded_by`: a read it cannot answer is handed to it to
record, and comes back unknown, as the engine's preview would report it, without the Output chain of
a registration that could only end unknown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from importlib import resources
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from components.common.objects import normalize

_PARTS = ("metadata", "spec", "status")


class OfflineReads(Protocol):
    """Where a renderer takes the reads nothing offline can answer."""

    def answers(self, type_token: str) -> bool:
        """Whether a read of this type can be answered (a test's realistic live object)."""
        ...

    def record(
        self,
        resource_name: str,
        type_token: str,
        id: pulumi.Input[str],
        properties: Mapping[str, Any],
        opts: pulumi.ResourceOptions,
    ) -> None:
        """Keep the read as the engine would have received it."""
        ...


_offline_reads: OfflineReads | None = None


@contextmanager
def reads_recorded_by(reads: OfflineReads) -> Iterator[None]:
    """While a renderer runs the program, reads go to ``reads`` instead of Pulumi."""
    global _offline_reads
    previous, _offline_reads = _offline_reads, reads
    try:
        yield
    finally:
        _offline_reads = previous


def read_live(
    resource_name: str,
    *,
    api_version: str,
    kind: str,
    id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[dict[str, Any]]:
    """``{"metadata": …, "spec": …, "status": …}`` of the existing object ``id``.

    ``id`` is ``<namespace>/<name>``, or ``<name>`` for a cluster-wide kind; ``opts`` should make
    the read a child of the component. ``up`` fails, naming the object, when it does not exist.
    """
    typed = _typed_class(api_version, kind)
    type_token = f"kubernetes:{api_version}:{kind}"
    if _offline_reads is not None and not _offline_reads.answers(type_token):
        # A typed class's read sends no properties; a custom resource's sends its identity.
        properties = {} if typed is not None else _custom_resource_identity(api_version, kind, id)
        _offline_reads.record(resource_name, type_token, id, properties, opts)
        return _unknown()
    if typed is None:
        found = _LiveCustomResource(resource_name, api_version=api_version, kind=kind, id=id, opts=opts)
        return pulumi.Output.all(found.metadata, found.spec, found.status).apply(_parts)
    live: Any = typed.get(resource_name, id, opts=opts)
    return pulumi.Output.all(*(getattr(live, part).apply(normalize) for part in _PARTS)).apply(_parts)


def _unknown() -> pulumi.Output[Any]:
    async def nothing() -> None:
        return None

    async def not_known() -> bool:
        return False

    return pulumi.Output(set(), nothing(), not_known())


def _custom_resource_identity(api_version: str, kind: str, id: pulumi.Input[str]) -> dict[str, Any]:
    """What a read of a custom resource sends: the name and namespace go in ``metadata`` as well as
    in the id. Given an ``apiVersion`` and ``kind``, the provider takes the namespace from the
    inputs only, and would look for a namespaced object outside its namespace (and report it gone)."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": pulumi.Output.from_input(id).apply(_metadata_of),
    }


def _parts(values: list[Any]) -> dict[str, Any]:
    return {part: value or {} for part, value in zip(_PARTS, values, strict=True)}


def _typed_class(api_version: str, kind: str) -> Any:
    """The ``pulumi_kubernetes`` class of a built-in kind, or None for a custom resource.

    Built-in groups have no dot (``apps``, the core group's empty one) or end in ``.k8s.io``; a
    custom resource's group is a domain of its own. ``networking.k8s.io`` is ``k8s.networking``.
    """
    group, _, version = api_version.rpartition("/")
    if "." in group and not group.endswith(".k8s.io"):
        return None
    module = getattr(getattr(k8s, group.split(".")[0] or "core", None), version, None)
    return getattr(module, kind, None)


@cache
def _provider_version() -> str:
    """The Kubernetes provider version the installed ``pulumi_kubernetes`` package is built for."""
    plugin = resources.files("pulumi_kubernetes").joinpath("pulumi-plugin.json").read_text()
    version: str = json.loads(plugin)["version"]
    return version


class _LiveCustomResource(pulumi.CustomResource):
    """A read of a custom resource that declares ``status``, so the provider's answer reaches the
    program (see the module docstring)."""

    metadata: pulumi.Output[Any]
    spec: pulumi.Output[Any]
    status: pulumi.Output[Any]

    def __init__(
        self,
        resource_name: str,
        *,
        api_version: str,
        kind: str,
        id: pulumi.Input[str],
        opts: pulumi.ResourceOptions,
    ):
        properties = {
            **_custom_resource_identity(api_version, kind, id),
            "spec": None,  # outputs only: declared so that they are resolved, never sent
            "status": None,
        }
        super().__init__(
            f"kubernetes:{api_version}:{kind}",
            resource_name,
            properties,
            pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id, version=_provider_version())),
        )


def _metadata_of(object_id: str) -> dict[str, str]:
    namespace, _, name = object_id.rpartition("/")
    return {"name": name, "namespace": namespace} if namespace else {"name": name}
