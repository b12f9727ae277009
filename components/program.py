"""The Pulumi program proper: one component per stack document, through the kind registry.

``__main__.py`` (what ``pulumi up`` runs) and the offline renderer both call :func:`run_stack`, so
a review render shows exactly what an ``up`` would register.
"""

from __future__ import annotations

import pulumi

from components.context import StackContext
from components.documents import SpecError, StackFileError, references_of
from components.registry import KindRegistry, default_registry


def run_stack(context: StackContext, registry: KindRegistry | None = None) -> None:
    """Create every document's component and export its status as ``<Kind>/<name>``.

    Checks that need the context run for every document first: a stack with any problem raises
    :class:`StackFileError` before a single resource is registered.
    """
    registry = registry or default_registry()
    errors = context_errors(context, registry)
    if errors:
        raise StackFileError(errors)
    for document in context.documents:
        registration = registry.get(document.kind)
        if registration is None:  # the loader already rejects unknown kinds
            raise ValueError(f"{document.subject}: unknown kind")
        component = registration.create(document, context)
        status = getattr(component, "status", None)
        if status is not None:
            pulumi.export(document.subject, status)


def context_errors(context: StackContext, registry: KindRegistry | None = None) -> list[SpecError]:
    """What each kind's ``check_in_context`` finds in the stack's documents.

    Needs no Pulumi runtime, so the documents that did validate in a file with errors are checked
    too. A document naming one that is not among them is skipped: the loader has reported why.
    """
    registry = registry or default_registry()
    errors: list[SpecError] = []
    for document in context.documents:
        registration = registry.get(document.kind)
        if registration is None or registration.check_in_context is None:
            continue
        if any(context.documents.get(r.kind, r.name) is None for r in references_of(document)):
            continue
        errors.extend(registration.check_in_context(document, context))
    return errors
