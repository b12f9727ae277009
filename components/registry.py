"""The kind registry: which document kind is modelled by which spec and built by which component.

Each domain package under ``components/`` declares ``KINDS``, a tuple of :class:`KindRegistration`.
The default registry collects them from every domain package, so adding a domain is adding one
package; nothing central has to be edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

import components
from components.common.spec import SpecModel

if TYPE_CHECKING:
    import pulumi

    from components.context import StackContext
    from components.documents import Document, SpecError, StackDocuments
    from components.inputs import AppliedFromOutputs, ImagesFromOutputs, ObservedRegistry, ObservedRepository
    from components.ownership import NamespaceUse

ComponentFactory = Callable[["Document", "StackContext"], "pulumi.ComponentResource"]
StackCheck = Callable[["StackDocuments"], Iterable["SpecError"]]
"""A rule across the documents of a stack (e.g. one namespace per WandB), checked at load time."""

NamespaceOf = Callable[["Document"], "str | None"]
"""The namespace a document creates (and so owns: deleting the document deletes it), or None."""

NamespacesUsed = Callable[["Document"], Iterable["NamespaceUse"]]
"""The namespaces a document reads objects from that no stack creates (a Registry's credentials)."""

DocumentCheck = Callable[["Document", "StackContext"], Iterable["SpecError"]]
"""A rule that needs the program's context (project folder, settings, observations): run by the
program for every document before any component registers."""

RepositoriesOf = Callable[["Document"], Iterable["ObservedRepository"]]
"""The git repositories a document reads branch heads of: the daemon polls them."""

AddCommands = Callable[[Any, Path], None]
"""Add the kind's own subcommands to the command line: (argparse sub-parsers, the project folder).
Each sets its ``handler``, called with the parsed arguments, returning the exit code."""

RegistriesOf = Callable[["Document"], Iterable["ObservedRegistry"]]
"""The container registries a document uses: the daemon watches and verifies their credentials."""

# Packages under components/ that hold shared code, not a domain.
_NOT_DOMAINS = frozenset({"common"})


@dataclass(frozen=True)
class KindRegistration:
    """One document kind: its spec model and the factory that builds its component."""

    kind: str
    spec_model: type[SpecModel]
    create: ComponentFactory
    namespaced: bool = True  # False for cluster-wide kinds, which take no metadata.namespace
    # Cross-document rules: run by the loader, so a stack breaking one is rejected before any
    # component registers anything.
    check_stack: StackCheck | None = None
    check_in_context: DocumentCheck | None = None
    # The namespace a document of this kind creates, if any: the loader rejects a stack where two
    # documents, of any kinds, would create the same one.
    creates_namespace: NamespaceOf | None = None
    # Namespaces a document reads from but does not create: no document, in this stack or in another
    # on the same cluster, may create one of them (deleting it would delete what is read there).
    uses_namespaces: NamespacesUsed | None = None
    # What the daemon observes for a document of this kind (components.inputs): the repositories it
    # polls (and which branches of them the program reads), the registries whose credentials it
    # verifies, and the images it keeps from the component's outputs for the next run.
    observes_repositories: RepositoriesOf | None = None
    observes_registries: RegistriesOf | None = None
    images_from_outputs: ImagesFromOutputs | None = None
    # The facts of the component's outputs the daemon keeps as what was last applied, handed back
    # in the observations' ``applied`` section (a check_in_context can compare the spec with them).
    applied_from_outputs: AppliedFromOutputs | None = None
    # The stack config ``driftless:<option>`` values this kind reads, as a pydantic model whose
    # field aliases are the option names (validated by ProgramSettings.options_for).
    options_model: type[BaseModel] | None = None
    # Subcommands of ``python -m automation`` that belong to this kind (e.g. import-fivetran).
    add_commands: AddCommands | None = None


class KindRegistry:
    """An immutable kind → registration table."""

    def __init__(self, registrations: Iterable[KindRegistration]):
        self._by_kind: dict[str, KindRegistration] = {}
        for registration in registrations:
            if registration.kind in self._by_kind:
                raise ValueError(f"kind {registration.kind!r} is registered twice")
            self._by_kind[registration.kind] = registration

    def get(self, kind: str) -> KindRegistration | None:
        return self._by_kind.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)

    def registrations(self) -> list[KindRegistration]:
        return [self._by_kind[kind] for kind in self.kinds()]

    def option_names(self) -> list[str]:
        """Every ``driftless:<option>`` a kind reads: the aliases of the kinds' options models."""
        names = {
            info.alias or name
            for registration in self._by_kind.values()
            if registration.options_model is not None
            for name, info in registration.options_model.model_fields.items()
        }
        return sorted(names)

    def repositories(self, documents: Iterable[Document]) -> list[ObservedRepository]:
        """The git repositories the documents read, in document order (components.inputs)."""
        return [
            repository
            for document in documents
            if (registration := self._by_kind.get(document.kind)) is not None
            and registration.observes_repositories is not None
            for repository in registration.observes_repositories(document)
        ]

    def registries_by_document(
        self, documents: Iterable[Document]
    ) -> list[tuple[Document, ObservedRegistry]]:
        """Each container registry the documents use, with the document using it, in document order."""
        return [
            (document, registry)
            for document in documents
            if (registration := self._by_kind.get(document.kind)) is not None
            and registration.observes_registries is not None
            for registry in registration.observes_registries(document)
        ]

    def container_registries(self, documents: Iterable[Document]) -> list[ObservedRegistry]:
        """The container registries the documents use, in document order (components.inputs)."""
        return [registry for _, registry in self.registries_by_document(documents)]


def domain_packages() -> list[str]:
    """The importable names of every domain package, sorted."""
    return sorted(
        f"components.{module.name}"
        for module in pkgutil.iter_modules(components.__path__)
        if module.ispkg and module.name not in _NOT_DOMAINS
    )


@cache
def default_registry() -> KindRegistry:
    """Every kind declared by a domain package's ``KINDS``."""
    registrations: list[KindRegistration] = []
    for package in domain_packages():
        registrations.extend(getattr(importlib.import_module(package), "KINDS", ()))
    return KindRegistry(registrations)
