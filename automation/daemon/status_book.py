"""The live status of every stack: one table, shared by the cycle and the pool's threads.

Statuses are read from the store once, at start, and written through on every change, so a
restart finds exactly what was last decided — including the ``inFlight`` record of an operation
a crash cut short. One re-entrant lock guards the table; whoever changes a status holds it from
reading the status to saving it (:meth:`StatusBook.edit`).
"""

from __future__ import annotations

import threading
from collections.abc import Container, Iterator
from contextlib import contextmanager
from datetime import datetime

from automation.daemon.clock import Clock
from automation.daemon.interfaces import MetricsSink
from automation.daemon.status import PHASE_REMOVED, StackStatus
from automation.daemon.store import StatusStore


class StatusBook:
    """Every stack's :class:`StackStatus`, kept in memory and saved to the store on each change."""

    def __init__(self, store: StatusStore, metrics: MetricsSink, clock: Clock, lock: threading.RLock):
        self.lock = lock
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._statuses: dict[str, StackStatus] = {s.name: s for s in store.all()}
        for status in self._statuses.values():  # what a restart read back is on /metrics at once
            metrics.set_component_health(status.name, status.components)

    def get(self, name: str) -> StackStatus:
        """The live status (created on first use); change it only while holding :attr:`lock`."""
        with self.lock:
            status = self._statuses.get(name)
            if status is None:
                status = StackStatus(name)
                self._statuses[name] = status
            status.ensure_conditions(self._clock.now())
            return status

    def save(self, status: StackStatus) -> None:
        """Derive the phase and the next check, then write the status through to the store."""
        with self.lock:
            status.update_phase()
            status.update_next_check()
            self._store.save(status)
            self._metrics.set_stack_phases({s.name: s.phase for s in self._statuses.values()})
            self._metrics.set_component_health(status.name, status.components)

    @contextmanager
    def edit(self, name: str) -> Iterator[StackStatus]:
        """``with book.edit(name) as status:`` change it under the lock; saved at the end."""
        with self.lock:
            status = self.get(name)
            yield status
            self.save(status)

    def names(self) -> set[str]:
        with self.lock:
            return set(self._statuses)

    def copy(self, name: str) -> StackStatus | None:
        """A snapshot, safe to read on any thread."""
        with self.lock:
            status = self._statuses.get(name)
            return StackStatus.from_json(status.to_json()) if status else None

    def copies(self) -> list[StackStatus]:
        with self.lock:
            return [StackStatus.from_json(s.to_json()) for s in self._statuses.values()]

    def next_due(self, busy: Container[str]) -> datetime | None:
        """The earliest timer (retry, requeue, drift check) of any stack present and not ``busy``."""
        with self.lock:
            times = [
                s.next_check_at
                for s in self._statuses.values()
                if s.next_check_at is not None and s.phase != PHASE_REMOVED and s.name not in busy
            ]
        return min(times) if times else None
