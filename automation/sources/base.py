"""Sources of change: the things outside a stack's documents that can make it need an ``up``.

Each source is polled by the daemon's loop: ``poll(now)`` does whatever is due and returns the
changes it saw, ``next_due(now)`` says when it next has work so the loop can sleep until then.
Sources never run an operation themselves; they record what they observed in the
:class:`~automation.observation_store.ObservationStore` and name the stacks affected. Whether a
stack then needs an operation is decided by its fingerprint, so a spurious change costs a hash,
not a deploy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from components.documents import StackDocuments

Wake = Callable[[], None]


@dataclass(frozen=True)
class Change:
    """Something the daemon observed that may change the desired state of some stacks."""

    source: str  # "files" | "program" | "git" | "vault" | "ttl" | "registry"
    stacks: frozenset[str] | None  # the stacks affected; None means every stack
    detail: str  # for people and logs; never a secret value

    def affects(self, stack: str) -> bool:
        return self.stacks is None or stack in self.stacks


@runtime_checkable
class Source(Protocol):
    """A source of change, polled by the daemon's loop."""

    name: str

    def poll(self, now: datetime) -> list[Change]:
        """Do whatever is due now and return what changed; never blocks long."""
        ...

    def next_due(self, now: datetime) -> datetime | None:
        """When ``poll`` next has work; None when it only reacts to events."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StackAware(Protocol):
    """A source whose work depends on the stacks' documents (all but the file watcher)."""

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """The stack files changed: take the new documents into account from now on."""
        ...


def merge_changes(changes: Iterable[Change]) -> list[Change]:
    """One change per source, with the union of the stacks (None absorbs everything)."""
    merged: dict[str, Change] = {}
    for change in changes:
        previous = merged.get(change.source)
        if previous is None:
            merged[change.source] = change
            continue
        stacks = None if previous.stacks is None or change.stacks is None else previous.stacks | change.stacks
        merged[change.source] = Change(change.source, stacks, f"{previous.detail}; {change.detail}")
    return list(merged.values())


class Schedule:
    """When each key (a repository, a registry, ...) is next due, each at its own interval.

    A key seen for the first time is due at once, so a new repository is polled in the same cycle
    its stack file was loaded.
    """

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._intervals: dict[str, timedelta] = {}

    def set_keys(self, intervals: Mapping[str, timedelta]) -> None:
        """Track exactly these keys; a changed interval takes effect from the last poll."""
        for key in list(self._due):
            if key not in intervals:
                del self._due[key]
        for key, interval in intervals.items():
            old = self._intervals.get(key)
            if key in self._due and old is not None and old != interval:
                self._due[key] = self._due[key] - old + interval
        self._intervals = dict(intervals)

    def due(self, now: datetime) -> list[str]:
        """The keys due at ``now`` (never polled, or their interval has elapsed)."""
        return [key for key in self._intervals if key not in self._due or self._due[key] <= now]

    def done(self, key: str, now: datetime) -> None:
        """``key`` was polled at ``now``: it is next due one interval later."""
        if key in self._intervals:
            self._due[key] = now + self._intervals[key]

    def next_due(self, now: datetime, skip: Iterable[str] = ()) -> datetime | None:
        """The earliest time a key is due; keys in ``skip`` (e.g. polls under way) are left out."""
        skipped = set(skip)
        return min((self._due.get(key, now) for key in self._intervals if key not in skipped), default=None)
