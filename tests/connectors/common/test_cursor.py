"""The ID cursor: every record once, in order, resumable; takes shrink on failure; unreadable records are reported."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from common.cursor import IdCursor, TakePolicy, sync_id_cursor
from common.errors import ConnectionFailedError, PermanentError, RequestTimeoutError, ServerBusyError


class Source:
    """Records with IDs that have gaps; queries larger than ``max_take`` time out; ``poison`` pages fail."""

    def __init__(self, ids: list[int], *, max_take: int = 1000, poison: Sequence[int] = ()) -> None:
        self.ids = sorted(ids)
        self.max_take = max_take
        self.poison = set(poison)
        self.calls: list[tuple[str | None, int, int]] = []
        self.active = 0
        self.most_active = 0
        self.lock = threading.Lock()

    def fetch(self, after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        with self.lock:
            self.calls.append((after_id, skip, take))
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(0.002)  # long enough for a round's requests to overlap
            if take > self.max_take:
                raise RequestTimeoutError(
                    "too slow", url=f"/q?skip={skip}&take={take}", payload=str(after_id)
                )
            after = -1 if after_id is None else int(after_id)
            page = [i for i in self.ids if i > after][skip : skip + take]
            if self.poison & set(page):
                raise ServerBusyError(
                    "HTTP 500", status=500, url=f"/q?skip={skip}&take={take}", payload=str(after_id)
                )
            return [{"id": i} for i in page]
        finally:
            with self.lock:
                self.active -= 1


class Recorder:
    def __init__(self) -> None:
        self.emitted: list[int] = []
        self.checkpoints: list[dict[str, Any]] = []
        self.failures: list[BaseException] = []

    def run(self, source: Source, cursor: IdCursor, policy: TakePolicy | None = None) -> IdCursor:
        sync_id_cursor(
            cursor,
            source.fetch,
            emit=lambda records: self.emitted.extend(int(r["id"]) for r in records),
            progress=lambda c: self.checkpoints.append(c.to_state()),
            failed=self.failures.append,
            policy=policy or TakePolicy(),
        )
        return cursor


IDS = list(range(3, 9000, 3))  # 2999 records with gaps


def test_every_record_is_emitted_once_in_id_order() -> None:
    out = Recorder()
    cursor = out.run(Source(IDS), IdCursor())
    assert out.emitted == IDS
    assert cursor == IdCursor(last_id=str(IDS[-1]), total_synced=len(IDS))
    assert out.checkpoints[-1] == {"last_id": str(IDS[-1]), "total_synced": len(IDS)}


def test_each_round_sends_up_to_eight_requests_at_once_for_consecutive_pages() -> None:
    source = Source(IDS)
    Recorder().run(source, IdCursor())
    first_round = source.calls[:8]
    assert sorted(skip for _, skip, _ in first_round) == [n * 1000 for n in range(8)]
    assert 1 < source.most_active <= 8


def test_a_resumed_cursor_starts_after_the_last_checkpoint() -> None:
    first = Recorder()
    first.run(Source(IDS[:1500]), IdCursor())
    saved = first.checkpoints[-1]
    source = Source(IDS)
    second = Recorder()
    cursor = second.run(source, IdCursor.from_state(saved))
    assert second.emitted == IDS[1500:]
    assert cursor.total_synced == len(IDS)
    assert source.calls[0][0] == saved["last_id"] == str(IDS[1499])


def test_timeouts_shrink_the_take_until_requests_succeed() -> None:
    source = Source(IDS, max_take=250)
    out = Recorder()
    out.run(source, IdCursor())
    assert out.emitted == IDS
    takes_in_order = list(dict.fromkeys(take for _, _, take in source.calls))
    assert takes_in_order[:3] == [1000, 500, 250]
    assert 50 not in takes_in_order  # 250 works: no need to go lower


def test_the_take_grows_back_after_clean_rounds() -> None:
    source = Source(IDS, poison=[IDS[100]])
    out = Recorder()
    out.run(source, IdCursor(), TakePolicy(parallel=2, grow_after=2))
    takes = [take for _, _, take in source.calls]
    assert takes.index(1) < len(takes) - 1 - takes[::-1].index(10)  # after take 1, take 10 again


def test_a_record_that_fails_alone_is_reported_and_skipped() -> None:
    poison = IDS[1234]
    source = Source(IDS, poison=[poison])
    out = Recorder()
    cursor = out.run(source, IdCursor(), TakePolicy(retries_at_smallest=3))
    assert out.emitted == [i for i in IDS if i != poison]
    assert cursor.total_synced == len(IDS) - 1
    (failure,) = out.failures
    assert failure.payload == str(IDS[1233])  # the query that asked for the record after the last good one
    assert failure.url == "/q?skip=0&take=1"

    def asks_for_poison_alone(after_id: str | None, skip: int, take: int) -> bool:
        after = -1 if after_id is None else int(after_id)
        return take == 1 and [i for i in IDS if i > after][skip] == poison

    assert sum(asks_for_poison_alone(*call) for call in source.calls) == 4  # one attempt and three retries


def test_two_unreadable_records_in_a_row_are_both_skipped() -> None:
    poison = [IDS[10], IDS[11]]
    out = Recorder()
    out.run(Source(IDS, poison=poison), IdCursor(), TakePolicy(retries_at_smallest=0))
    assert out.emitted == [i for i in IDS if i not in poison]
    assert len(out.failures) == 2


def test_unreadable_records_at_the_end_leave_the_cursor_before_them() -> None:
    poison = IDS[-1]
    out = Recorder()
    cursor = out.run(Source(IDS, poison=[poison]), IdCursor(), TakePolicy(retries_at_smallest=0))
    assert cursor.last_id == str(IDS[-2])  # the next sync tries it again
    assert len(out.failures) == 1


def test_a_permanent_error_ends_the_sync_without_shrinking() -> None:
    calls: list[int] = []

    def fetch(after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        calls.append(take)
        raise PermanentError("HTTP 401", status=401)

    with pytest.raises(PermanentError):
        sync_id_cursor(IdCursor(), fetch, emit=lambda r: None, progress=lambda c: None, failed=lambda e: None)
    assert set(calls) == {1000}


def test_an_empty_source_finishes_without_a_checkpoint() -> None:
    out = Recorder()
    cursor = out.run(Source([]), IdCursor())
    assert out.emitted == []
    assert out.checkpoints == []
    assert cursor == IdCursor()


@pytest.mark.parametrize("sizes", [(), (10, 10), (10, 50), (0,)])
def test_take_sizes_must_be_positive_and_strictly_decreasing(sizes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="take sizes"):
        TakePolicy(sizes=sizes)


def always(error: Exception) -> Any:
    calls: list[int] = []

    def fetch(after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        calls.append(take)
        raise error

    fetch.calls = calls  # type: ignore[attr-defined]
    return fetch


@pytest.mark.parametrize(
    "error",
    [
        ConnectionFailedError("connection refused"),
        ServerBusyError("HTTP 429", status=429, retry_after=5),
        ServerBusyError("HTTP 503", status=503),
    ],
)
def test_an_outage_fails_the_sync_instead_of_shrinking_or_skipping(error: Exception) -> None:
    fetch = always(error)
    failures: list[BaseException] = []
    with pytest.raises(type(error)):
        sync_id_cursor(
            IdCursor(), fetch, emit=lambda r: None, progress=lambda c: None, failed=failures.append
        )
    assert set(fetch.calls) == {1000}
    assert failures == []


def test_records_that_all_fail_alone_end_the_sync_with_the_cursor_before_them() -> None:
    source = Source(IDS, poison=IDS[100:])
    out = Recorder()
    cursor = IdCursor()
    with pytest.raises(ServerBusyError):
        out.run(source, cursor, TakePolicy(retries_at_smallest=0, max_unreadable_in_a_row=5))
    assert out.emitted == IDS[:100]
    assert cursor.last_id == str(IDS[99])
    assert len(out.failures) == 4


def test_a_source_that_ignores_the_id_filter_is_an_error_not_an_endless_loop() -> None:
    def fetch(after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        return [{"id": i} for i in range(1, take + 1)]  # the same page whatever is asked

    with pytest.raises(PermanentError, match="id filter"):
        sync_id_cursor(IdCursor(), fetch, emit=lambda r: None, progress=lambda c: None, failed=lambda e: None)
