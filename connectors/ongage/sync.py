"""OnGage sync: discover the lists, read each list's new contacts in time windows, then its changed ones.

State (as checkpointed)::

    {"lists": {"101": {"cursor": "2024-05-01T00:00:00+00:00",
                       "changed": {"ocx_unsubscribe_date": "2024-05-01T00:00:00+00:00", ...}},
               "102": {"cursor": null, "changed": {...}}}}

The first sync discovers every list of the account (later syncs add lists that appeared since)
and upserts them into ``lists``. Each list's contacts are then read with OnGage's asynchronous
contact search over ``ocx_created_date`` windows (:mod:`common.windows`): a list above
``large_list_threshold`` contacts (200,000) starts with 3-month windows, a smaller one with one
search over the whole range, split into windows only if that search times out. The list's cursor
is the end of the last window done, checkpointed after every window; the next sync reads from
there up to its own start time. A search that does not complete within ``search_timeout_seconds``
counts as a timeout, and the window shrinks (to 2 weeks at least).

A contact that unsubscribes, resubscribes, bounces or complains after it was synced is read again:
after its new contacts, each list runs one search per status-change date (``ocx_unsubscribe_date``,
``ocx_resubscribe_date``, ``ocx_bounce_date``, ``ocx_complaint_date``) over the same kind of
windows, from that date's cursor (``changed``) less ``modified_overlap_seconds`` (900) up to the
sync's start, and upserts what it finds over the old rows. Each date's cursor moves and is
checkpointed window by window, like the list's own. A list discovered by this sync starts its
change cursors at the sync's start (its contacts are read as they are now); a list synced by an
earlier version of this connector (no ``changed``) reads every status change of its history once.

Deletions: OnGage's contact search finds only the contacts a list holds, and no documented call
lists the contacts deleted from a list, so a contact deleted in OnGage stays in the warehouse.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import models
from api import CHANGE_DATES, CREATED_DATE, OnGageApi
from common import config, errors_table, http
from common.changes import OVERLAP, overlap_from
from common.clock import Clock
from common.errors import InvalidResponseError, RequestTimeoutError, TransientError
from common.output import Output
from common.retry import RetryPolicy, call_with_retries
from common.transform import id_str, utc_datetime
from common.windows import WindowPolicy, sync_windows

log = logging.getLogger("connector.ongage")

LARGE_LIST_THRESHOLD = 200_000
LISTS_PAGE_SIZE = 100
SEARCH_COMPLETED = {2, "2", "completed"}
SEARCH_FAILED = {3, "3", "failed"}


class SearchTimeoutError(RequestTimeoutError):
    """A contact search did not complete in time: the window is too large (or OnGage is slow)."""


class SearchFailedError(TransientError):
    """OnGage reported the contact search as failed."""


@dataclass(frozen=True)
class Settings:
    """How patiently and in which windows the sync reads."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    windows: WindowPolicy = field(default_factory=WindowPolicy)
    request_timeout: float = 300.0
    search_timeout: float = 600.0
    search_poll: float = 5.0
    large_list_threshold: int = LARGE_LIST_THRESHOLD
    start_date: datetime = datetime(2010, 1, 1, tzinfo=UTC)
    list_ids: tuple[str, ...] = ()
    # How far before the previous sync's start status changes are read again (clock skew, late commits).
    modified_overlap: timedelta = OVERLAP


def settings_from(configuration: Mapping[str, object]) -> Settings:
    """The settings from the configuration's optional keys (see configuration.example.json)."""
    list_ids = config.optional(configuration, "list_ids", "")
    return Settings(
        retry=config.retry_policy(configuration),
        request_timeout=config.number(configuration, "request_timeout_seconds", 300.0, minimum=0.01),
        search_timeout=config.number(configuration, "search_timeout_seconds", 600.0, minimum=0.01),
        search_poll=config.number(configuration, "search_poll_seconds", 5.0, minimum=0),
        large_list_threshold=config.integer(
            configuration, "large_list_threshold", LARGE_LIST_THRESHOLD, minimum=0
        ),
        start_date=config.date(configuration, "start_date", "2010-01-01"),
        list_ids=tuple(part.strip() for part in list_ids.split(",") if part.strip()),
        modified_overlap=overlap_from(configuration),
    )


def sync_all(
    api: OnGageApi, state: Mapping[str, Any], out: Output, settings: Settings, *, clock: Clock | None = None
) -> dict[str, Any]:
    """Syncs the lists and every list's contacts from ``state`` onward; returns the final state."""
    clock = clock or Clock()
    current: dict[str, Any] = copy.deepcopy(dict(state))
    # Contacts created from here on belong to the next sync: every window ends at this instant at the latest.
    end = clock.now().astimezone(UTC).replace(microsecond=0)
    lists = discover_lists(api, current, out, settings, clock, end=end)
    for raw in lists:
        sync_list(api, current, out, settings, raw, end=end, clock=clock)
        sync_list_changes(api, current, out, settings, raw, end=end, clock=clock)
    return current


def discover_lists(
    api: OnGageApi, state: dict[str, Any], out: Output, settings: Settings, clock: Clock, *, end: datetime
) -> list[dict[str, Any]]:
    """Pages through the account's lists, upserts them, and adds the new ones to ``state["lists"]``.

    A new list's change cursors start at ``end`` (the sync's start): its contacts are read as they
    are from then on.

    Returns the lists to sync (all of them, or those in ``list_ids``), ordered by ID.
    """
    first_sync = "lists" not in state
    known: dict[str, Any] = state.setdefault("lists", {})
    found: list[dict[str, Any]] = []

    def page_at(offset: int) -> Callable[[], dict[str, Any]]:
        return lambda: api.lists(offset=offset, limit=LISTS_PAGE_SIZE)

    offset = 0
    while True:
        answer = call_with_retries(page_at(offset), settings.retry, sleep=clock.sleep)
        page = answer.get("payload") if isinstance(answer, dict) else None
        if not isinstance(page, list):
            raise InvalidResponseError("GET /api/lists: the answer has no 'payload' list")
        for raw in page:
            out.upsert(models.LISTS, models.list_row(raw))
        found.extend(page)
        if len(page) < LISTS_PAGE_SIZE:
            break
        offset += LISTS_PAGE_SIZE
    wanted = set(settings.list_ids)
    chosen = sorted(
        (raw for raw in found if not wanted or id_str(raw.get("id")) in wanted),
        key=lambda raw: (len(str(raw["id"])), str(raw["id"])),  # numeric IDs in numeric order
    )
    added = [str(raw["id"]) for raw in chosen if str(raw["id"]) not in known]
    for list_id in added:
        known[list_id] = {"cursor": None, "changed": dict.fromkeys(CHANGE_DATES, end.isoformat())}
    log.info(
        "%s %d lists, %d to sync, %d new",
        "discovered" if first_sync else "found",
        len(found),
        len(chosen),
        len(added),
    )
    out.checkpoint(state)
    return chosen


def _list_start(raw_list: dict[str, Any], settings: Settings) -> datetime:
    created = utc_datetime(raw_list.get("created"))
    return datetime.fromisoformat(created) if created else settings.start_date


def sync_list(
    api: OnGageApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    raw_list: dict[str, Any],
    *,
    end: datetime,
    clock: Clock,
) -> None:
    """Reads the contacts of one list created since its cursor, window by window, up to ``end``."""
    list_id = str(raw_list["id"])
    entry = state["lists"].setdefault(list_id, {"cursor": None})
    start = (
        datetime.fromisoformat(entry["cursor"]) if entry.get("cursor") else _list_start(raw_list, settings)
    )

    def done(cursor: datetime) -> None:
        entry["cursor"] = cursor.isoformat()
        out.checkpoint(state)

    _search_windows(api, out, settings, raw_list, start, end, CREATED_DATE, done=done, clock=clock)


def sync_list_changes(
    api: OnGageApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    raw_list: dict[str, Any],
    *,
    end: datetime,
    clock: Clock,
) -> None:
    """Re-reads the contacts of one list whose status changed since the last sync, by change date."""
    list_id = str(raw_list["id"])
    entry = state["lists"].setdefault(list_id, {"cursor": None})
    # A list synced before status changes were tracked reads them from its beginning, once.
    changed: dict[str, str | None] = entry.setdefault("changed", {})
    for date_field in CHANGE_DATES:
        since = changed.get(date_field)
        if since is not None and datetime.fromisoformat(since) >= end:
            continue
        start = (
            datetime.fromisoformat(since) - settings.modified_overlap
            if since is not None
            else _list_start(raw_list, settings)
        )

        def done(cursor: datetime, date_field: str = date_field) -> None:
            changed[date_field] = cursor.isoformat()
            out.checkpoint(state)

        _search_windows(api, out, settings, raw_list, start, end, date_field, done=done, clock=clock)


def _search_windows(
    api: OnGageApi,
    out: Output,
    settings: Settings,
    raw_list: dict[str, Any],
    start: datetime,
    end: datetime,
    date_field: str,
    *,
    done: Callable[[datetime], None],
    clock: Clock,
) -> None:
    """Upserts the contacts of a list whose ``date_field`` is in ``[start, end)``, window by window."""
    list_id = str(raw_list["id"])
    start = start.astimezone(UTC).replace(microsecond=0)
    if start >= end:
        return
    count = models.contact_count(raw_list)
    large = count > settings.large_list_threshold
    what = "created" if date_field == CREATED_DATE else f"with {date_field}"
    stream = f"{models.CONTACTS}:{list_id}"
    log.info(
        "list %s: %d contacts, reading those %s in %s..%s%s",
        list_id,
        count,
        what,
        start,
        end,
        " in windows" if large else "",
    )

    def run(window_start: datetime, window_end: datetime) -> None:
        search_id = start_search(
            api, list_id, window_start, window_end, settings, clock, date_field=date_field
        )
        text = call_with_retries(
            lambda: api.export_contact_search(list_id, search_id), settings.retry, sleep=clock.sleep
        )
        # Every row is converted before the first is emitted: a window is all or nothing.
        rows = [models.contact_row(list_id, raw) for raw in models.parse_export(text)]
        for row in rows:
            out.upsert(models.CONTACTS, row)
        log.info("list %s: %d contacts %s in %s..%s", list_id, len(rows), what, window_start, window_end)

    def failed(window_start: datetime, window_end: datetime, error: BaseException) -> None:
        out.upsert(errors_table.TABLE, errors_table.row_for(stream, error))

    sync_windows(
        start,
        end,
        run,
        done=done,
        failed=failed,
        policy=settings.windows,
        whole_range_first=not large,
        name=f"list {list_id}" if date_field == CREATED_DATE else f"list {list_id} {date_field}",
    )


def start_search(
    api: OnGageApi,
    list_id: str,
    start: datetime,
    end: datetime,
    settings: Settings,
    clock: Clock,
    *,
    date_field: str = CREATED_DATE,
) -> str:
    """Starts a contact search over ``date_field`` in ``[start, end)`` and waits for it; returns its ID.

    Raises :class:`SearchTimeoutError` when it does not complete within the search timeout and
    :class:`SearchFailedError` when OnGage reports it failed; both carry the search request (URL and
    body) for the errors table.
    """
    url = api.search_url(list_id)
    payload = http.payload_text(api.search_body(list_id, start, end, date_field=date_field))
    answer = call_with_retries(
        lambda: api.create_contact_search(list_id, start, end, date_field=date_field),
        settings.retry,
        sleep=clock.sleep,
    )
    try:
        search_id = str(answer["payload"]["id"])
    except (KeyError, TypeError):
        raise InvalidResponseError(
            f"POST {url}: the answer has no payload.id", url=url, payload=payload
        ) from None
    deadline = clock.monotonic() + settings.search_timeout
    while True:
        status_answer = call_with_retries(
            lambda: api.contact_search(list_id, search_id), settings.retry, sleep=clock.sleep
        )
        status = (status_answer.get("payload") or {}).get("status")
        if isinstance(status, str):
            status = status.strip().lower()
        if status in SEARCH_COMPLETED:
            return search_id
        if status in SEARCH_FAILED:
            raise SearchFailedError(
                f"POST {url}: contact search {search_id} failed", url=url, payload=payload
            )
        if clock.monotonic() >= deadline:
            raise SearchTimeoutError(
                f"POST {url}: contact search {search_id} not complete after {settings.search_timeout:g}s",
                url=url,
                payload=payload,
            )
        clock.sleep(min(settings.search_poll, max(0.0, deadline - clock.monotonic())))
