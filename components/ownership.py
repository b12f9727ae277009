"""Who owns a namespace: one creator per namespace on a cluster, never a system namespace.

A document that creates its namespace owns it: ``up`` registers a Namespace object, and deleting the
document (or destroying its stack) deletes the namespace with everything in it, whoever put it
there. So, among every stack that deploys to one cluster, a namespace is created by one document at
most; a system namespace is never created (nor, with it, ever deleted); and no document creates a
namespace that another document reads something from that no stack creates (a Registry's
credentials Secret). A document that sets ``createNamespace: false`` declares its namespace
external: it only uses it, and may share it.

The checks inside one stack file run when the file loads (:func:`check_stack_namespaces`), so
their errors come with the file's other errors. The check across stack files
(:func:`check_across_stacks`) is pure too: the caller decides which stacks share a cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

from components.documents import Document, SpecError, StackDocuments, namespace_path
from components.registry import KindRegistry, default_registry

SYSTEM_NAMESPACES = frozenset({"default", "kube-node-lease", "kube-public", "kube-system"})
"""Namespaces Kubernetes itself creates and relies on: deleting one breaks the cluster."""


@dataclass(frozen=True)
class NamespaceUse:
    """A namespace a document reads an object from that it does not create."""

    namespace: str
    path: tuple[str, ...]  # where the document names it, e.g. ("spec", "credentialsNamespace")
    keeps: str  # what it reads there, for messages: "credentialsSecret 'push'"


@dataclass(frozen=True)
class _Owner:
    namespace: str
    document: Document

    @property
    def path(self) -> tuple[str, ...]:
        return namespace_path(self.document)

    @property
    def line(self) -> int:
        return self.document.line_of(self.path)

    def error(self, message: str) -> SpecError:
        return SpecError(self.document.file, self.line, self.document.subject, ".".join(self.path), message)


@dataclass(frozen=True)
class _User:
    use: NamespaceUse
    document: Document

    @property
    def line(self) -> int:
        return self.document.line_of(self.use.path)


def check_stack_namespaces(
    stack: StackDocuments, registry: KindRegistry, reported: Iterable[SpecError] = ()
) -> Iterator[SpecError]:
    """The rules inside one stack file: no system namespace created, no used namespace created.

    A problem already ``reported`` at the same place by a kind's own rule is not repeated.
    """
    already = {(e.file, e.line, e.subject, e.path) for e in reported}
    owners = list(_owners(stack, registry))
    for owner in owners:
        if owner.namespace in SYSTEM_NAMESPACES:
            yield owner.error(
                f"namespace {owner.namespace!r} is a system namespace: driftless never creates it, since "
                f"deleting {owner.document.subject} would then delete it; target another namespace"
                + _or_external(owner.document, "to deploy into it as it is")
            )
    for user in _users(stack, registry):
        for owner in owners:
            if owner.namespace != user.use.namespace:
                continue
            error = _used_namespace_error(owner, user)
            if (error.file, error.line, error.subject, error.path) not in already:
                yield error


def check_across_stacks(
    stacks: Sequence[StackDocuments], registry: KindRegistry | None = None
) -> list[SpecError]:
    """The rules between stack files that deploy to one cluster; every stack in conflict is named.

    Two files creating one namespace both get an error naming the other, since applying either
    would take the namespace from the other. A file creating a namespace that another file's
    Registry keeps its credentials in gets one too. Conflicts inside one file are the loader's.
    """
    registry = registry or default_registry()
    owners: dict[str, list[_Owner]] = {}
    users: dict[str, list[_User]] = {}
    for stack in stacks:
        for owner in _owners(stack, registry):
            owners.setdefault(owner.namespace, []).append(owner)
        for user in _users(stack, registry):
            users.setdefault(user.use.namespace, []).append(user)
    errors: list[SpecError] = []
    for namespace, claimants in sorted(owners.items()):
        for owner in claimants:
            others = [o for o in claimants if o.document.file != owner.document.file]
            if others:
                errors.append(
                    owner.error(
                        f"namespace {namespace!r} is also owned by "
                        + ", ".join(f"{o.document.file}:{o.line} {o.document.subject}" for o in others)
                        + ", on the same cluster: deleting either document would delete the namespace "
                        "and everything the other put in it, so none of these stacks is applied until only "
                        "one of them creates it; target another namespace"
                        + _or_external(owner.document, "in all stacks but one")
                    )
                )
            errors.extend(
                _used_namespace_error(owner, user)
                for user in users.get(namespace, ())
                if user.document.file != owner.document.file
            )
    return errors


def _owners(documents: Iterable[Document], registry: KindRegistry) -> Iterator[_Owner]:
    for document in documents:
        registration = registry.get(document.kind)
        if registration is None or registration.creates_namespace is None:
            continue
        namespace = registration.creates_namespace(document)
        if namespace is not None:
            yield _Owner(namespace, document)


def _users(documents: Iterable[Document], registry: KindRegistry) -> Iterator[_User]:
    for document in documents:
        registration = registry.get(document.kind)
        if registration is None or registration.uses_namespaces is None:
            continue
        for use in registration.uses_namespaces(document):
            yield _User(use, document)


def _used_namespace_error(owner: _Owner, user: _User) -> SpecError:
    return owner.error(
        f"namespace {owner.namespace!r} is where {_where(user.document, user.line, owner.document)} keeps "
        f"{user.use.keeps}, which no stack creates: deleting {owner.document.subject} would delete the "
        f"namespace and {user.use.keeps} with it; target another namespace"
        + _or_external(owner.document, "to use it as it is")
    )


def _where(document: Document, line: int, seen_from: Document) -> str:
    """A document as named in an error about another: by line in the same file, else by file:line."""
    if document.file == seen_from.file:
        return f"{document.subject} (line {line})"
    return f"{document.file}:{line} {document.subject}"


def _or_external(document: Document, how: str) -> str:
    """The way out for a kind whose namespace can be declared external (``createNamespace: false``)."""
    fields: Collection[str] = type(document.spec).model_fields
    return f", or set createNamespace: false {how}" if "create_namespace" in fields else ""
