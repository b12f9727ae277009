"""Time windows: the range is covered once, windows shrink on timeout to two weeks, and a window that
still fails is reported and stepped over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from common.errors import ConnectionFailedError, PermanentError, RequestTimeoutError
from common.windows import WindowPolicy, sync_windows

START = datetime(2023, 1, 1, tzinfo=UTC)
END = datetime(2024, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


class Run:
    """A source whose searches time out above ``limit``, and always fail around ``bad``."""

    def __init__(self, limit: timedelta = timedelta(days=365 * 10), bad: datetime | None = None) -> None:
        self.limit = limit
        self.bad = bad
        self.attempts: list[tuple[datetime, datetime]] = []
        self.read: list[tuple[datetime, datetime]] = []
        self.done: list[datetime] = []
        self.failed: list[tuple[datetime, datetime]] = []

    def __call__(self, start: datetime, end: datetime) -> None:
        self.attempts.append((start, end))
        if end - start > self.limit or (self.bad is not None and start <= self.bad < end):
            raise RequestTimeoutError("search not complete", url="/search", payload=f"{start}..{end}")
        self.read.append((start, end))

    def sync(self, policy: WindowPolicy | None = None, *, whole: bool = False) -> None:
        sync_windows(
            START,
            END,
            self,
            done=self.done.append,
            failed=lambda s, e, error: self.failed.append((s, e)),
            policy=policy or WindowPolicy(),
            whole_range_first=whole,
        )


def covered(windows: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Adjacent windows merged: one span means no gap and no overlap."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def test_windows_start_at_three_months_and_cover_the_range_exactly_once() -> None:
    run = Run()
    run.sync()
    assert run.attempts[0] == (START, START + timedelta(days=90))
    assert covered(run.read) == [(START, END)]
    assert run.done == [end for _, end in run.read]  # a checkpoint after every window


def test_a_timeout_halves_the_window_down_to_two_weeks() -> None:
    run = Run(limit=timedelta(days=20))
    run.sync()
    spans = [end - start for start, end in run.attempts]
    assert spans[:4] == [
        timedelta(days=90),
        timedelta(days=45),
        timedelta(seconds=int(22.5 * 86400)),
        14 * DAY,
    ]
    assert covered(run.read) == [(START, END)]
    assert min(end - start for start, end in run.read[:-1]) >= 14 * DAY


def test_a_window_failing_at_the_minimum_is_retried_three_times_then_reported() -> None:
    bad = datetime(2023, 6, 10, tzinfo=UTC)
    run = Run(bad=bad)
    run.sync()
    ((start, end),) = run.failed
    assert start <= bad < end
    assert end - start == 14 * DAY
    assert run.attempts.count((start, end)) == 4
    assert covered([*run.read, (start, end)]) == [(START, END)]  # the sync carried on past it
    assert end in run.done


def test_the_window_grows_back_after_clean_windows() -> None:
    run = Run(bad=datetime(2023, 1, 5, tzinfo=UTC))
    run.sync(WindowPolicy(grow_after=2))
    spans = [end - start for start, end in run.read]
    assert spans[0] == 14 * DAY
    assert timedelta(days=56) in spans


def test_whole_range_first_reads_a_small_range_with_one_window() -> None:
    run = Run()
    run.sync(whole=True)
    assert run.attempts == [(START, END)]


def test_whole_range_first_falls_back_to_three_month_windows() -> None:
    run = Run(limit=timedelta(days=100))
    run.sync(whole=True)
    assert [end - start for start, end in run.attempts[:2]] == [END - START, timedelta(days=90)]
    assert covered(run.read) == [(START, END)]


def test_a_permanent_error_ends_the_sync() -> None:
    def run(start: datetime, end: datetime) -> None:
        raise PermanentError("HTTP 401", status=401)

    done: list[datetime] = []
    with pytest.raises(PermanentError):
        sync_windows(START, END, run, done=done.append, failed=lambda *a: None)
    assert done == []


def test_window_boundaries_stay_on_whole_seconds() -> None:
    run = Run(limit=timedelta(days=20))
    sync_windows(START + timedelta(seconds=7), END, run, done=lambda m: None, failed=lambda *a: None)
    assert all(moment.microsecond == 0 for window in run.attempts for moment in window)


def test_the_minimum_cannot_exceed_the_initial_window() -> None:
    with pytest.raises(ValueError, match="minimum"):
        WindowPolicy(initial=7 * DAY, minimum=14 * DAY)


def test_an_outage_fails_the_sync_instead_of_skipping_windows() -> None:
    attempts: list[tuple[datetime, datetime]] = []

    def run(start: datetime, end: datetime) -> None:
        attempts.append((start, end))
        raise ConnectionFailedError("connection refused")

    with pytest.raises(ConnectionFailedError):
        sync_windows(START, END, run, done=lambda m: None, failed=lambda *a: None)
    assert len(attempts) == 1


def test_windows_that_keep_failing_end_the_sync_after_three_in_a_row() -> None:
    run = Run(limit=timedelta(days=1))  # nothing can be read
    with pytest.raises(RequestTimeoutError):
        run.sync()
    assert len(run.failed) == 2  # the third failure in a row fails the sync instead
    assert run.done == [end for _, end in run.failed]
