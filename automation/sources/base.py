"""Sources of change: the things outside a stack's documents that can make it need an ``up``.

Each source is polled by the daemon's loop: ``poll(now)`` does whatever is due and returns the
changes it saw, ``next_due(now)`` says when it next has work so the loop can sleep until then.
``poll`` never waits on the network: a source that reaches a remote system (git, Vault, a
registry) starts the request in the background and applies its result at a later ``poll`` (see
:class:`Background`), so a hung remote delays only its own observation. Sources never run an
operation themselves; they record what they observed in the
:class:`~automation.observation_store.ObservationStore` and name the stacks affected. Whether a
stack then needs an operation is decided by its fingerprint, so a spurious change costs a hash,
not a deploy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from automation.times import iso
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


@runtime_checkable
class Background(Protocol):
    """A source whose polls run in the background (on threads, bounded by timeouts).

    ``close`` does not wait for them: a command under way is killed, a request under way is
    abandoned, so a daemon stops promptly whatever the remote is doing.
    """

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no poll is under way, at most ``timeout`` seconds; True when none is.

        For one-shot callers: poll, wait, poll again to apply the results.
        """
        ...


# A target whose last polls all failed this many times in a row is reported as stale.
STALE_AFTER_FAILURES = 3


@dataclass(frozen=True)
class TargetHealth:
    """How polling one target (a repository, a secret) of a source fares."""

    source: str
    target: str
    failures: int  # polls in a row that failed or timed out; 0 after a success
    last_success: datetime | None
    last_error: str | None  # the last failure; never a secret value
    polling_since: datetime | None = None  # when the poll under way started

    @property
    def stale(self) -> bool:
        """What the daemon knows of this target is old: its polls keep failing."""
        return self.failures >= STALE_AFTER_FAILURES

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "stale": self.stale,
            "consecutiveFailures": self.failures,
            "lastSuccessAt": _iso(self.last_success),
            "lastError": self.last_error,
            "pollingSince": _iso(self.polling_since),
        }


def _iso(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


@runtime_checkable
class Reporting(Protocol):
    """A source that keeps the health of each target it polls, for status."""

    def health(self) -> list[TargetHealth]: ...


class HealthBook:
    """Each target's poll results: consecutive failures, last success, last error, poll under way.

    Written by the loop's thread and read by the status endpoint's, hence the lock.
    """

    def __init__(self, source: str):
        self.source = source
        self._targets: dict[str, TargetHealth] = {}
        self._lock = threading.Lock()

    def track(self, targets: Iterable[str]) -> None:
        """Report exactly these targets from now on; a new one has no result yet."""
        wanted = set(targets)
        with self._lock:
            for target in list(self._targets):
                if target not in wanted:
                    del self._targets[target]  # a repository no stack uses any more
            for target in wanted - self._targets.keys():
                self._targets[target] = TargetHealth(self.source, target, 0, None, None)

    # A result for a target no longer tracked (its poll outlived the stack using it) is dropped.

    def started(self, target: str, now: datetime) -> None:
        with self._lock:
            if target in self._targets:
                self._targets[target] = replace(self._targets[target], polling_since=now)

    def succeeded(self, target: str, now: datetime) -> None:
        with self._lock:
            if target in self._targets:
                self._targets[target] = TargetHealth(self.source, target, 0, now, None)

    def failed(self, target: str, error: str) -> None:
        with self._lock:
            previous = self._targets.get(target)
            if previous is not None:
                self._targets[target] = replace(
                    previous, failures=previous.failures + 1, last_error=error, polling_since=None
                )

    def errors(self) -> dict[str, str]:
        """Target → error of every target whose last poll failed."""
        with self._lock:
            return {t: h.last_error for t, h in self._targets.items() if h.last_error is not None}

    def report(self) -> list[TargetHealth]:
        with self._lock:
            return [self._targets[target] for target in sorted(self._targets)]


def health_report(sources: Iterable[object]) -> list[dict[str, Any]]:
    """Every polled target's health (``TargetHealth.to_json``), stale ones first, for status."""
    found = [health for source in sources if isinstance(source, Reporting) for health in source.health()]
    found.sort(key=lambda health: (not health.stale, health.source, health.target))
    return [health.to_json() for health in found]


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
