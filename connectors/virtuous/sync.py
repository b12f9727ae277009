"""Virtuous sync: contacts, then gifts, each through the shared ID cursor.

State (as checkpointed)::

    {"contacts": {"last_id": "1234", "total_synced": 1234}, "gifts": {"last_id": null, "total_synced": 0}}

Each stream resumes after its ``last_id``; a checkpoint follows every round of pages (see
:mod:`common.cursor`). The ID cursor picks up new records; a record changed after it was synced
keeps its synced version until the stream is re-synced (reset the connector state, or the
stream's entry), as the source offers no ID-ordered change feed.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import models
from api import VirtuousApi
from common import config, errors_table
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
    )


def sync_all(
    api: VirtuousApi,
    state: Mapping[str, Any],
    out: Output,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Syncs every stream from ``state`` onward and returns the final state."""
    current: dict[str, Any] = copy.deepcopy(dict(state))
    for table, entity, to_row in STREAMS:
        sync_stream(api, current, out, settings, table=table, entity=entity, to_row=to_row, sleep=sleep)
    return current


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
    """Syncs one stream; ``state[table]`` holds its cursor and is checkpointed as it moves."""
    cursor = IdCursor.from_state(state.get(table))
    log.info("%s: starting after id %s", table, cursor.last_id)

    def fetch(after_id: str | None, skip: int, take: int) -> list[dict[str, Any]]:
        answer = call_with_retries(
            lambda: api.query(entity, after_id=after_id, skip=skip, take=take), settings.retry, sleep=sleep
        )
        return answer["list"]

    def emit(records: Sequence[dict[str, Any]]) -> None:
        for record in records:
            out.upsert(table, to_row(record))

    def progress(moved: IdCursor) -> None:
        state[table] = moved.to_state()
        out.checkpoint(state)

    def failed(error: BaseException) -> None:
        out.upsert(errors_table.TABLE, errors_table.row_for(table, error))
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
