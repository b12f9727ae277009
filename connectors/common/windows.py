"""Time-window batches that shrink on timeout: for sources whose expensive queries filter by time.

The range ``[start, end)`` is read window by window, oldest first; each window is half-open, so a
record stamped exactly on a boundary belongs to one window only. After each window that is done,
``done(window_end)`` is called: the connector records the new cursor and checkpoints, so a crash
resumes at the first window not yet done.

A window starts at ``initial`` (3 months, as 90 days). When ``run`` raises a
:class:`~common.errors.TransientError` (the source's search timed out or failed), the window is
halved, down to ``minimum`` (2 weeks), and tried again; a window that fails at the minimum size is
retried ``retries_at_minimum`` (3) times and then reported through ``failed`` (the connector writes
it to the ``errors`` table) and stepped over, so one bad fortnight does not stall the stream
forever. After ``grow_after`` windows that succeed the size doubles back towards ``initial``.

A :class:`~common.errors.PermanentError`, or a transient error that is not about the window's
size (a refused connection, 429, 503: ``TransientError.shrinkable``), is raised; and
``max_failed_in_a_row`` windows that fail one after the other end the sync rather than being
stepped over, so an outage fails the sync instead of skipping the whole range. ``run`` should emit
a window's rows only once it has read them all (a window is all or nothing).

Window boundaries stay on whole seconds (the sources filter by Unix seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from common.errors import TransientError

INITIAL_WINDOW = timedelta(days=90)  # "3 months"
MIN_WINDOW = timedelta(days=14)
RETRIES_PER_WINDOW = 3
GROW_AFTER = 3
MAX_FAILED_IN_A_ROW = 3

log = logging.getLogger("connector.windows")


def _whole_seconds(span: timedelta) -> timedelta:
    return timedelta(seconds=int(span.total_seconds()))


@dataclass(frozen=True)
class WindowPolicy:
    """Window sizes and the retry budget at the smallest size."""

    initial: timedelta = INITIAL_WINDOW
    minimum: timedelta = MIN_WINDOW
    retries_at_minimum: int = RETRIES_PER_WINDOW
    grow_after: int = GROW_AFTER
    max_failed_in_a_row: int = MAX_FAILED_IN_A_ROW

    def __post_init__(self) -> None:
        if self.minimum < timedelta(seconds=1) or self.initial < self.minimum:
            raise ValueError("windows need 1s <= minimum <= initial")
        if self.retries_at_minimum < 0 or self.grow_after < 1 or self.max_failed_in_a_row < 1:
            raise ValueError("retries_at_minimum must be >= 0, grow_after and max_failed_in_a_row >= 1")

    def smaller(self, span: timedelta) -> timedelta:
        """The size to try after a window of ``span`` failed."""
        if span > self.initial:
            return self.initial
        return max(self.minimum, _whole_seconds(span / 2))


@dataclass
class WindowStats:
    """What one run over a range did."""

    windows: int = 0
    attempts: int = 0
    shrinks: int = 0
    failed: list[tuple[datetime, datetime, BaseException]] = field(default_factory=list)


def sync_windows(
    start: datetime,
    end: datetime,
    run: Callable[[datetime, datetime], None],
    *,
    done: Callable[[datetime], None],
    failed: Callable[[datetime, datetime, BaseException], None],
    policy: WindowPolicy = WindowPolicy(),
    whole_range_first: bool = False,
    name: str = "windows",
) -> WindowStats:
    """Runs ``run(window_start, window_end)`` over ``[start, end)`` and returns what it did.

    With ``whole_range_first`` the first attempt covers the whole range (a small list is read
    with one search); if that fails the range is split into ``initial`` windows.
    """
    stats = WindowStats()
    size = _whole_seconds(end - start) if whole_range_first else policy.initial
    size = max(size, timedelta(seconds=1))
    failures_at_minimum = 0
    failed_in_a_row = 0
    clean = 0
    while start < end:
        stop = min(start + size, end)
        stats.attempts += 1
        try:
            run(start, stop)
        except TransientError as error:
            if not error.shrinkable:
                raise
            clean = 0
            span = stop - start
            if span > policy.minimum:
                size = policy.smaller(span)
                stats.shrinks += 1
                log.warning("%s: %s..%s failed, trying %s: %s", name, start, stop, size, error)
                continue
            failures_at_minimum += 1
            if failures_at_minimum <= policy.retries_at_minimum:
                log.warning(
                    "%s: %s..%s failed (retry %d/%d): %s",
                    name,
                    start,
                    stop,
                    failures_at_minimum,
                    policy.retries_at_minimum,
                    error,
                )
                continue
            failed_in_a_row += 1
            if failed_in_a_row >= policy.max_failed_in_a_row:
                log.error("%s: %d windows in a row cannot be read: failing the sync", name, failed_in_a_row)
                raise
            log.error("%s: giving up on %s..%s: %s", name, start, stop, error)
            stats.failed.append((start, stop, error))
            failed(start, stop, error)
        else:
            failed_in_a_row = 0
            stats.windows += 1
            clean += 1
            if clean >= policy.grow_after and size < policy.initial:
                size = min(policy.initial, size * 2)
                clean = 0
        failures_at_minimum = 0
        start = stop
        done(start)
    return stats
