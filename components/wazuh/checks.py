"""Load-time rules on a WazuhCluster that its spec model cannot see: the document name.

A document name is a DNS-1123 label (it may start with a digit, and have up to 63 characters), but
a WazuhCluster derives names with stricter rules from it: its Services are DNS-1035 labels (a
letter first, at most 63 characters), its StatefulSets may have at most 52 characters, its CronJob
52 (see :mod:`components.wazuh.builders.names`). A name breaking one of them would be accepted
here and rejected by the API server halfway through an ``up``; :func:`check_names` rejects it with
the stack, at load time. It is a stack check (``KindRegistration.check_stack``) because the name
lives in ``metadata``, not in the spec.
"""

from __future__ import annotations

from collections.abc import Iterator

from components.documents import SpecError, StackDocuments
from components.wazuh.builders.names import Names, longest_document_name

KIND = "WazuhCluster"


def check_names(stack: StackDocuments) -> Iterator[SpecError]:
    """Every WazuhCluster's name starts with a letter and is short enough for every derived name."""
    longest, kind, suffix = longest_document_name()
    for document in stack.of_kind(KIND):
        name = document.name
        problems = []
        if not name[:1].isalpha():
            service = Names(name, document.namespace).indexer
            problems.append(
                f"{name!r} must start with a letter: it prefixes Service names such as {service!r}, "
                "which are DNS-1035 labels"
            )
        if len(name) > longest:
            derived = f"{name}{suffix}"
            problems.append(
                f"{name!r} has {len(name)} characters, at most {longest} allowed: the {kind} "
                f"{derived!r} would have {len(derived)}, over Kubernetes' limit of {longest + len(suffix)}"
            )
        for message in problems:
            yield document.error(("metadata", "name"), message)
