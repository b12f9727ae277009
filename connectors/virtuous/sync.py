"""Virtuous sync: contacts, then gifts; each stream re-reads its changed records, then reads its new ones.

State (as checkpointed)::

    {"contacts": {"last_id": "1234", "total_synced": 1234},
     "contacts_modified": {"since": "2024-05-01T10:00:00+00:00", "began": null, "ceiling": null,
                           "last_id": null, "total_synced": 0},
     "gifts": {...}, "gifts_modified": {...}}

Each stream has two cursors, each with its own checkpoint. The ID cursor (``<table>``) reads the
records created since the last sync: it resumes after its ``last_id`` and checkpoints after every
round of pages (see :mod:`common.cursor`). The change cursor (``<table>_modified``, see
:mod:`common.changes`) runs first: it re-reads, sorted by ID, the records up to the ID cursor's
position whose ``Last Modified Date`` is at or after the instant the previous sync began, less
``modified_overlap_seconds`` (900), and upserts them over their old versions. A record edited
after its first sync therefore arrives edited after the next one. On the very first sync the change
cursor starts at that sync's start (everything is read as new anyway); a stream synced by an
earlier version of this connector (an ID cursor but no change cursor) re-reads its records once.

Deletions: Virtuous' query API returns only existing records and offers no feed of deleted ones,
so a contact or gift deleted at the source stays in the warehouse (a merged contact comes back
with ``merged_into_contact_id`` set, when Virtuous keeps it).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import models
from api import VirtuousApi
from common import config, errors_table
from common.changes import OVERLAP, ChangeCursor, overlap_from
from common.cursor import PARALLEL_REQUESTS, IdCursor, TakePolicy, sync_id_cursor
from common.output import Output
from common.rate_budget import MAX_WAIT_SECONDS
from common.retry import RetryPolicy, call_with_retries

log = logging.getLogger("connector.virtuous")

# (warehouse table, API entity, row builder), in sync order
STREAMS: tuple[tuple[str, str, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
    (models.CONTACTS, "Contact", models.contact_row),
    (models.GIFTS, "Gift", models.gift_row),
)


@dataclass(frozen=True)
class Settings:
    """How patiently and how widely the sync reads."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    takes: TakePolicy = field(default_factory=TakePolicy)
    request_timeout: float = 300.0
    # How long a sync may wait for the hourly request budget to reset before it stops (checkpointed).
    rate_limit_max_wait: float = MAX_WAIT_SECONDS
    # How far before the previous sync's start changed records are read again (clock skew, late commits).
    modified_overlap: timedelta = OVERLAP


def settings_from(configuration: Mapping[str, object]) -> Settings:
    """The settings from the configuration's optional tuning keys (see configuration.example.json)."""
    return Settings(
        retry=config.retry_policy(configuration),
        takes=TakePolicy(
            parallel=config.integer(
                configuration, "parallel_requests", PARALLEL_REQUESTS, minimum=1, maximum=8
            )
        ),
        request_timeout=config.number(configuration, "request_timeout_seconds", 300.0, minimum=0.01),
        rate_limit_max_wait=config.number(
            configuration, "rate_limit_max_wait_seconds", MAX_WAIT_SECONDS, minimum=0.0
        ),
        modified_overlap=overlap_from(configuration),
    )


def sync_all(
    api: VirtuousApi,
    state: Mapping[str, Any],
    out: Output,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Syncs every stream from ``state`` onward and returns the final state."""
    current: dict[str, Any] = copy.deepcopy(dict(state))
    # Changes from this instant on are the next sync's: the change cursors move here at the most.
    started = now().astimezone(UTC).replace(microsecond=0)
    for table, entity, to_row in STREAMS:
        sync_changes(
            api, current, out, settings, table=table, entity=entity, to_row=to_row, now=started, sleep=sleep
        )
        sync_stream(api, current, out, settings, table=table, entity=entity, to_row=to_row, sleep=sleep)
    return current


def _reader(
    api: VirtuousApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    *,
    key: str,
    table: str,
    entity: str,
    to_row: Callable[[dict[str, Any]], dict[str, Any]],
    sleep: Callable[[float], None],
    modified_since: datetime | None = None,
    up_to_id: str | None = None,
) -> tuple[
    Callable[[str | None, int, int], list[dict[str, Any]]],
    Callable[[Sequence[dict[str, Any]]], None],
    Callable[[BaseException], None],
]:
    """fetch, emit and failed for one pass of the ID cursor (``key`` names it in the errors table)."""

    def fetch(after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        answer = call_with_retries(
            lambda: api.query(
                entity,
                after_id=after_id,
                skip=skip,
                take=take,
                modified_since=modified_since,
                up_to_id=up_to_id,
            ),
            settings.retry,
            sleep=sleep,
        )
        return answer["list"]

    def emit(records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            out.upsert(table, to_row(record))

    def failed(error: BaseException) -> None:
        out.upsert(errors_table.TABLE, errors_table.row_for(key, error))
        out.checkpoint(state)

    return fetch, emit, failed


def sync_changes(
    api: VirtuousApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    *,
    table: str,
    entity: str,
    to_row: Callable[[dict[str, Any]], dict[str, Any]],
    now: datetime,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Re-reads the records of ``table`` modified since the previous sync began.

    ``state[table + "_modified"]`` holds the change cursor and is checkpointed as it moves.
    """
    key = f"{table}_modified"
    synced_up_to = IdCursor.from_state(state.get(table)).last_id
    if key in state:
        changes = ChangeCursor.from_state(state[key])
    else:
        # No change cursor yet: a new stream reads everything as new from here; a stream synced before
        # changes were tracked reads its records once more, as they may have changed since.
        changes = ChangeCursor(since=None if synced_up_to is not None else now)
    if not changes.under_way:
        if synced_up_to is None or (changes.since is not None and changes.since >= now):
            state[key] = changes.to_state()
            return
        changes.begin(now, synced_up_to)
        state[key] = changes.to_state()
        out.checkpoint(state)
    lower = changes.lower_bound(settings.modified_overlap)
    log.info(
        "%s: re-reading records up to id %s modified since %s, after id %s",
        table,
        changes.ceiling,
        lower.isoformat() if lower else "ever",
        changes.ids.last_id,
    )
    fetch, emit, failed = _reader(
        api,
        state,
        out,
        settings,
        key=key,
        table=table,
        entity=entity,
        to_row=to_row,
        sleep=sleep,
        modified_since=lower,
        up_to_id=changes.ceiling,
    )

    def progress(moved: IdCursor) -> None:
        state[key] = changes.to_state()
        out.checkpoint(state)

    stats = sync_id_cursor(
        changes.ids, fetch, emit=emit, progress=progress, failed=failed, policy=settings.takes, name=key
    )
    changes.finish()
    state[key] = changes.to_state()
    out.checkpoint(state)
    log.info("%s: %d changed records re-read in %d requests", table, stats.records, stats.requests)


def sync_stream(
    api: VirtuousApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    *,
    table: str,
    entity: str,
    to_row: Callable[[dict[str, Any]], dict[str, Any]],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Syncs the new records of one stream; ``state[table]`` holds its ID cursor, checkpointed as it moves."""
    cursor = IdCursor.from_state(state.get(table))
    log.info("%s: starting after id %s", table, cursor.last_id)
    fetch, emit, failed = _reader(
        api, state, out, settings, key=table, table=table, entity=entity, to_row=to_row, sleep=sleep
    )

    def progress(moved: IdCursor) -> None:
        state[table] = moved.to_state()
        out.checkpoint(state)

    state[table] = cursor.to_state()
    stats = sync_id_cursor(
        cursor, fetch, emit=emit, progress=progress, failed=failed, policy=settings.takes, name=table
    )
    log.info(
        "%s: done, %d new records in %d requests, %d unreadable",
        table,
        stats.records,
        stats.requests,
        len(stats.failed),
    )
