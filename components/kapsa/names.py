"""Pulumi resource names of the Kapsa components' children.

A child's URN holds its own type and name and its parent's *type*, never the parent's name. Names
built as ``f"{document}-{part}"`` therefore collide across documents of one kind: Project ``api``
with environment ``x-y`` and Project ``api-x`` with environment ``y`` would both register a
Deployment ``api-x-y``, and the engine would reject the whole update. The parts are joined with
``/`` instead: it cannot occur in a document name, an environment name or a branch slug (all DNS
labels), so the document name always ends at the first ``/`` and two documents never share a
child name.
"""

from __future__ import annotations

SEPARATOR = "/"


def child_name(document: str, *parts: str) -> str:
    """``<document>/<part>/…``: unique across the documents of a kind (see the module docstring)."""
    for part in (document, *parts):
        if not part or SEPARATOR in part:
            raise ValueError(f"{part!r} cannot be part of a resource name: it is empty or contains '/'")
    return SEPARATOR.join((document, *parts))
