"""Time as a dependency: the daemon asks a clock for the time and to wait, never ``time`` directly.

Tests pass a :class:`ManualClock`, whose ``wait`` advances time instead of sleeping, so a backoff
schedule of hours is checked in microseconds and no test depends on the machine's speed.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for measuring durations."""
        ...

    def wait(self, seconds: float, event: threading.Event) -> bool:
        """Wait up to ``seconds`` or until ``event`` is set; True when it is set."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, seconds: float, event: threading.Event) -> bool:
        return event.wait(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to (or when something waits on it)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            self._elapsed += seconds

    def wait(self, seconds: float, event: threading.Event) -> bool:
        if event.is_set():
            return True
        self.advance(max(0.0, seconds))
        return event.is_set()
