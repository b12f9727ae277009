"""The ID cursor: resumable pagination by ``id > last_id`` with adaptive take sizes and parallel requests.

Each round asks for ``parallel`` consecutive pages of the records after the cursor, sorted by ID
(page *i* is ``skip = i * take``), all at once. The pages are then taken in order: every complete
page is emitted and moves the cursor to its last ID, and the round ends with a checkpoint (the
cursor in the connector state), so a crash loses at most one round. Because the filter is
``id > last_id`` rather than a growing ``skip``, the query stays cheap deep into a large table and
a resumed sync starts exactly after the last emitted record.

When a page fails with a :class:`~common.errors.TransientError` (a timeout, a 5xx the HTTP retries
did not cure), the pages before it are kept and the take shrinks along ``TAKE_SIZES`` (1000 → 500
→ 250 → 50 → 10 → 1); after ``grow_after`` clean rounds it grows back one step. A record that still
fails at take 1 after ``retries_at_smallest`` retries is reported through ``failed`` (the connector
writes it to the ``errors`` table) and stepped over with ``skip``: the next request asks for the
record after it, and the cursor moves past it with the first record that can be read.

A :class:`~common.errors.PermanentError` (bad credentials, a malformed query) is raised, and so is
a transient error that is not about the request's size (a refused connection, 429, 503: see
``TransientError.shrinkable``) once the HTTP retries are spent: stepping over records then would
turn an outage into data loss. For the same reason ``max_unreadable_in_a_row`` records that fail
alone one after the other end the sync instead of being stepped over (the cursor stays before
them, so the next sync reads them again), and so does a source that ignores the ID filter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from common.errors import PermanentError, TransientError

TAKE_SIZES: tuple[int, ...] = (1000, 500, 250, 50, 10, 1)
PARALLEL_REQUESTS = 8
RETRIES_AT_SMALLEST = 3
GROW_AFTER = 3
MAX_UNREADABLE_IN_A_ROW = 5

log = logging.getLogger("connector.cursor")

Record = dict[str, Any]
# fetch(after_id, skip, take) -> the records with id > after_id (all when None), sorted by ID, from skip.
Fetch = Callable[[str | None, int, int], Sequence[Record]]


@dataclass
class IdCursor:
    """Where a stream stands: the last ID emitted and how many records were emitted in total."""

    last_id: str | None = None
    total_synced: int = 0

    def to_state(self) -> dict[str, Any]:
        """The cursor as it is kept in the connector state."""
        return {"last_id": self.last_id, "total_synced": self.total_synced}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> IdCursor:
        """The cursor kept in ``state`` (a fresh one when there is none)."""
        state = state or {}
        last_id = state.get("last_id")
        return cls(
            last_id=None if last_id is None else str(last_id), total_synced=int(state.get("total_synced", 0))
        )


@dataclass(frozen=True)
class TakePolicy:
    """Take sizes to step through, how many pages to request at once, and when to give up on a record."""

    sizes: tuple[int, ...] = TAKE_SIZES
    parallel: int = PARALLEL_REQUESTS
    retries_at_smallest: int = RETRIES_AT_SMALLEST
    grow_after: int = GROW_AFTER
    max_unreadable_in_a_row: int = MAX_UNREADABLE_IN_A_ROW

    def __post_init__(self) -> None:
        if not self.sizes or any(size < 1 for size in self.sizes):
            raise ValueError("take sizes must be positive")
        if any(later >= earlier for earlier, later in zip(self.sizes, self.sizes[1:], strict=False)):
            raise ValueError("take sizes must be strictly decreasing")
        if self.parallel < 1:
            raise ValueError("parallel must be at least 1")
        if self.retries_at_smallest < 0 or self.grow_after < 1 or self.max_unreadable_in_a_row < 1:
            raise ValueError("retries_at_smallest must be >= 0, grow_after and max_unreadable_in_a_row >= 1")


@dataclass
class CursorStats:
    """What one run of the cursor did."""

    rounds: int = 0
    requests: int = 0
    records: int = 0
    shrinks: int = 0
    failed: list[BaseException] = field(default_factory=list)


def _default_id(record: Record) -> str:
    return str(record["id"])


def sync_id_cursor(
    cursor: IdCursor,
    fetch: Fetch,
    *,
    emit: Callable[[Sequence[Record]], None],
    progress: Callable[[IdCursor], None],
    failed: Callable[[BaseException], None],
    policy: TakePolicy = TakePolicy(),
    id_of: Callable[[Record], str] = _default_id,
    name: str = "records",
) -> CursorStats:
    """Reads every record after ``cursor`` and returns what it did; ``cursor`` is updated in place.

    ``emit`` gets each complete page in ID order (from this thread only); ``progress`` gets the
    cursor after each round that moved it (checkpoint there); ``failed`` gets the error of a record
    that could not be read even alone.
    """
    stats = CursorStats()
    level = 0
    clean_rounds = 0
    failures_at_smallest = 0
    unreadable_ahead = 0  # records right after the cursor that failed even alone, stepped over with skip
    with ThreadPoolExecutor(max_workers=policy.parallel, thread_name_prefix=f"{name}-fetch") as pool:
        while True:
            take = policy.sizes[level]
            offsets = [unreadable_ahead + page * take for page in range(policy.parallel)]
            futures: list[Future[Sequence[Record]]] = [
                pool.submit(fetch, cursor.last_id, offset, take) for offset in offsets
            ]
            stats.rounds += 1
            stats.requests += len(futures)
            pages: list[Sequence[Record]] = []
            failure: BaseException | None = None
            for future in futures:  # every future is waited for, so no request outlives the round
                try:
                    records = future.result()
                except Exception as error:  # noqa: BLE001 -- any failure ends the usable prefix; raised below
                    failure = failure or error
                    continue
                if failure is None:
                    pages.append(records)

            before = cursor.last_id
            moved = finished = False
            for records in pages:
                if records:
                    emit(records)
                    cursor.last_id = id_of(records[-1])
                    cursor.total_synced += len(records)
                    stats.records += len(records)
                    moved = True
                    unreadable_ahead = 0
                if len(records) < take:  # the last page: what comes after it (even a failure) is past the end
                    finished = True
                    break
            if moved and cursor.last_id == before:
                raise PermanentError(
                    f"{name}: the source answered records up to id {before} again: is the id filter ignored?"
                )
            if moved:
                progress(cursor)
                log.info(
                    "%s: %d synced, last id %s (take %d)", name, cursor.total_synced, cursor.last_id, take
                )
            if finished:
                return stats
            if failure is None:
                failures_at_smallest = 0
                clean_rounds += 1
                if clean_rounds >= policy.grow_after and level > 0:
                    level -= 1
                    clean_rounds = 0
                continue
            if not isinstance(failure, TransientError) or not failure.shrinkable:
                raise failure
            clean_rounds = 0
            if moved:
                failures_at_smallest = 0  # the failing record is a new one: its attempts start now
            if level < len(policy.sizes) - 1:
                level += 1
                stats.shrinks += 1
                log.warning("%s: take %d failed, trying %d: %s", name, take, policy.sizes[level], failure)
                continue
            failures_at_smallest += 1
            if failures_at_smallest <= policy.retries_at_smallest:
                log.warning(
                    "%s: record after id %s failed alone (retry %d/%d): %s",
                    name,
                    cursor.last_id,
                    failures_at_smallest,
                    policy.retries_at_smallest,
                    failure,
                )
                continue
            if unreadable_ahead + 1 >= policy.max_unreadable_in_a_row:
                log.error(
                    "%s: %d records in a row cannot be read: failing the sync", name, unreadable_ahead + 1
                )
                raise failure
            log.error("%s: giving up on the record after id %s: %s", name, cursor.last_id, failure)
            stats.failed.append(failure)
            failed(failure)
            failures_at_smallest = 0
            unreadable_ahead += 1
