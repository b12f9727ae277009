"""The deletion guard: an ``up`` never deletes most of a stack because its file lost its content.

An ``up`` deletes every resource whose document is gone from the stack file. That is what a
person means when they delete one document; it is rarely what they mean when an editor
truncated the file, a tool wrote it in two steps, or a merge emptied it. So before an ``up``,
the documents the file holds now (by ``Kind/name``) are compared with those the last successful
``up`` applied. The ``up`` is held — not run — when the file holds no documents though some were
applied, or when more than ``deletionGuard.maxDocumentLossShare`` of the applied documents are
gone. It runs once a person allows it:

- a new value of the ``driftless.dev/allow-deletions`` annotation on any document of the stack
  (each value allows one ``up``; one left in the file allows nothing later);
- ``python -m automation run --allow-deletions STACK`` (the file as that run first reads it) or
  ``python -m automation up --stack STACK --allow-deletions``, for a file with no document left
  to annotate.

Pure functions; the reconciler and the command line decide what to do with the answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from components.documents import StackDocuments

ALLOW_DELETIONS_ANNOTATION = "driftless.dev/allow-deletions"
_LISTED = 10  # documents named in a one-line message; status keeps them all


@dataclass(frozen=True)
class DeletionRisk:
    """An ``up`` of this file would delete documents a person has not allowed to go."""

    file: str
    remaining: int  # documents in the file now
    applied: int | None  # documents the last up applied; None when an older status did not record them
    lost: tuple[str, ...]  # "Kind/name" of each applied document the file no longer holds

    def describe(self) -> str:
        """One line: the file, what it holds, what an up would delete."""
        if self.applied is None:
            return f"{self.file} has no documents; an up would delete every resource this stack has applied"
        shown = ", ".join(self.lost[:_LISTED])
        more = len(self.lost) - _LISTED
        listed = shown + (f" and {more} more" if more > 0 else "")
        return (
            f"{self.file} has {self.remaining} document(s), the last up applied {self.applied}: "
            f"an up would delete {len(self.lost)} of them ({listed})"
        )

    def how_to_allow(self, stack: str) -> str:
        """What a person does when the deletions are meant."""
        commands = (
            f"`python -m automation run --allow-deletions {stack}` or "
            f"`python -m automation up --stack {stack} --allow-deletions`"
        )
        if self.remaining == 0:
            return f"restore the file, or allow the deletions with {commands}"
        return (
            f"restore the file, or allow the deletions with a new `{ALLOW_DELETIONS_ANNOTATION}` "
            f"annotation value on one of its documents, or {commands}"
        )


def subjects(documents: StackDocuments) -> list[str]:
    """``Kind/name`` of every document, sorted: what ``appliedDocuments`` records."""
    return sorted(document.subject for document in documents)


def allow_deletion_tokens(documents: StackDocuments) -> dict[str, str]:
    """``"Kind/name" -> token`` for every document carrying an allow-deletions annotation."""
    return {
        document.subject: token
        for document in documents
        if (token := document.metadata.annotations.get(ALLOW_DELETIONS_ANNOTATION))
    }


def deletion_risk(
    documents: StackDocuments,
    *,
    applied: Iterable[str] | None,
    anything_applied: bool,
    max_loss_share: float,
) -> DeletionRisk | None:
    """Whether an ``up`` of ``documents`` needs a person's allowance; None when it may run.

    ``applied`` is what the last successful ``up`` applied (None: not recorded, as in a status an
    older daemon wrote); ``anything_applied`` whether an ``up`` ever succeeded. Without a record
    only the plainest case is held: a file with no documents after a successful ``up``.
    """
    now = set(subjects(documents))
    if applied is None:
        if anything_applied and not now:
            return DeletionRisk(documents.file, 0, None, ())
        return None
    before = set(applied)
    lost = tuple(sorted(before - now))
    if not lost:
        return None
    if now and len(lost) / len(before) <= max_loss_share:
        return None
    return DeletionRisk(documents.file, len(now), len(before), lost)
