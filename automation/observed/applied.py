"""What each document's last successful ``up`` applied, per stack: ``"<Kind>/<name>"`` → its facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class AppliedRecords:
    """Each stack's last applied facts, as the kinds' ``applied_from_outputs`` read them from the
    component outputs; a later ``up`` replaces a document's facts whole."""

    def __init__(self) -> None:
        self._by_stack: dict[str, dict[str, dict[str, Any]]] = {}
        self.dirty = False

    def stacks(self) -> set[str]:
        return set(self._by_stack)

    def record(self, stack: str, subject: str, facts: Mapping[str, Any]) -> bool:
        """Keep ``facts`` as what was applied of ``subject``; True when they changed. No facts (an
        output that names none) keeps the last ones: what is applied is still there."""
        if not facts:
            return False
        records = self._by_stack.setdefault(stack, {})
        entry = dict(facts)
        if records.get(subject) == entry:
            return False
        records[subject] = entry
        self.dirty = True
        return True

    def of(self, stack: str, subjects: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stack's facts of ``subjects`` (its documents), sorted by subject."""
        records = self._by_stack.get(stack, {})
        return {subject: dict(records[subject]) for subject in sorted(set(subjects)) if subject in records}

    def to_json(self, stack: str) -> dict[str, dict[str, Any]]:
        return {subject: dict(facts) for subject, facts in sorted(self._by_stack.get(stack, {}).items())}

    def load(self, stack: str, raw: Mapping[str, Any]) -> None:
        self._by_stack[stack] = {subject: dict(facts) for subject, facts in raw.items()}
