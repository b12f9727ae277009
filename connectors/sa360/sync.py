"""Search Ads 360 sync: each report's daily rows, in date windows, re-reading the last days every sync.

State (as checkpointed)::

    {"campaign": {"cursor": "2024-05-02"}, "ad_group": {"cursor": "2024-05-02"}}

A report's cursor is the first day not yet read. Each sync reads from the cursor less
``lookback_days`` (default 7: conversions are attributed to the day of the click and settle for
days after it, so a day's metrics keep changing) up to today, both included; the first sync starts
at ``start_date`` (default: 90 days back). Rows are upserted by resource ID and date, so a day read
again replaces its row and never adds one. Today is read although it is not over: the next sync
reads it again within its lookback.

The days are read in windows (:mod:`common.windows`, 30 days, halved down to 1), each one searchStream
query; a window is all or nothing (the whole stream is read before the first row is emitted), then
the cursor moves past it and is checkpointed, so a crash resumes at the first window not done (less
the lookback: those days are upserted again, harmlessly). A window that fails at 1 day after 3
retries (500, an unreadable row) goes to the ``errors`` table and is stepped over; a quota that is
spent (429 ``RESOURCE_EXHAUSTED``), 503, a refused connection or a permanent error (a query or a
permission refused, a revoked refresh token) fails the sync with the cursor where it is.

Days are those of ``segments.date``, which SA360 counts in the account's time zone; "today" is
taken in UTC, and the lookback covers the difference.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import models
from api import Sa360Api
from common import config, errors_table, http
from common.clock import Clock
from common.errors import ConfigurationError, InvalidResponseError
from common.output import Output
from common.retry import RetryPolicy, call_with_retries
from common.windows import WindowPolicy, sync_windows

log = logging.getLogger("connector.sa360")

DEFAULT_LOOKBACK_DAYS = 7
DEFAULT_HISTORY_DAYS = 90
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Settings:
    """Which reports, how far back, and how patiently the sync reads."""

    reports: tuple[models.Report, ...] = tuple(models.REPORTS[name] for name in models.DEFAULT_REPORTS)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    windows: WindowPolicy = field(
        default_factory=lambda: WindowPolicy(initial=timedelta(days=30), minimum=timedelta(days=1))
    )
    request_timeout: float = 300.0
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    start_date: date | None = None


def reports_from(text: str) -> tuple[models.Report, ...]:
    """The reports named in ``reports`` (comma-separated, from :data:`models.REPORTS`)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in models.REPORTS]
    if unknown or not names:
        raise ConfigurationError(
            f"configuration key 'reports' must list reports among {', '.join(models.REPORTS)}"
        )
    return tuple(models.REPORTS[name] for name in dict.fromkeys(names))


def settings_from(configuration: Mapping[str, object]) -> Settings:
    """The settings from the configuration's optional keys (see configuration.example.json)."""
    start = config.optional(configuration, "start_date", "")
    return Settings(
        reports=reports_from(config.optional(configuration, "reports", ",".join(models.DEFAULT_REPORTS))),
        retry=config.retry_policy(configuration),
        request_timeout=config.number(configuration, "request_timeout_seconds", 300.0, minimum=0.01),
        lookback_days=config.integer(
            configuration, "lookback_days", DEFAULT_LOOKBACK_DAYS, minimum=0, maximum=365
        ),
        start_date=config.date(configuration, "start_date", start).date() if start else None,
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def first_day_from(moment: datetime) -> date:
    """The first day whose midnight is at or after ``moment``.

    Windows shrink by halves (30 days, 15, 7.5...), so their boundaries are not always midnights;
    a window reads the days whose midnight lies in it, which keeps consecutive windows from
    sharing or skipping a day, and a window of at least a day always holds one.
    """
    day = moment.astimezone(UTC).date()
    return day if _midnight(day) == moment else day + DAY


def sync_all(
    api: Sa360Api,
    state: Mapping[str, Any],
    out: Output,
    settings: Settings,
    *,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Syncs every configured report from ``state`` onward; returns the final state."""
    clock = clock or Clock()
    current: dict[str, Any] = copy.deepcopy(dict(state))
    today = clock.now().astimezone(UTC).date()
    for report in settings.reports:
        sync_report(api, current, out, settings, report=report, today=today, clock=clock)
    return current


def first_day(entry: Mapping[str, Any], settings: Settings, today: date) -> date:
    """The first day this sync reads: the cursor less the lookback, or the start date."""
    start = settings.start_date or today - DEFAULT_HISTORY_DAYS * DAY
    if entry.get("cursor"):
        # Never before the start date: a first sync stopped within its first days re-reads no more.
        return max(start, date.fromisoformat(entry["cursor"]) - settings.lookback_days * DAY)
    return start


def sync_report(
    api: Sa360Api,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    *,
    report: models.Report,
    today: date,
    clock: Clock,
) -> None:
    """Reads ``report``'s days from its cursor (less the lookback) through ``today``, window by window."""
    entry = state.setdefault(report.table, {"cursor": None})
    start, end = first_day(entry, settings, today), today + DAY
    if start >= end:
        return
    log.info("%s: reading %s..%s", report.table, start, today)

    def run(window_start: datetime, window_end: datetime) -> None:
        first, last = first_day_from(window_start), first_day_from(window_end) - DAY
        query = report.query(first, last)
        batches = call_with_retries(lambda: api.search_stream(query), settings.retry, sleep=clock.sleep)
        # Every batch is read and every row converted before the first is emitted: all or nothing.
        try:
            rows = [
                models.row(result, report)
                for batch in batches
                for result in batch.get("results") or []
                if isinstance(result, dict)
            ]
        except (ValueError, TypeError) as error:
            raise InvalidResponseError(
                f"POST {api.search_url}: {error}",
                url=api.search_url,
                payload=http.payload_text({"query": query}),
            ) from error
        for converted in rows:
            out.upsert(report.table, converted)
        log.info("%s: %d rows for %s..%s", report.table, len(rows), first, last)

    def done(cursor: datetime) -> None:
        entry["cursor"] = first_day_from(cursor).isoformat()
        out.checkpoint(state)

    def failed(window_start: datetime, window_end: datetime, error: BaseException) -> None:
        out.upsert(errors_table.TABLE, errors_table.row_for(report.table, error))

    sync_windows(
        _midnight(start),
        _midnight(end),
        run,
        done=done,
        failed=failed,
        policy=settings.windows,
        name=report.table,
    )


def report_tables(reports: Sequence[models.Report]) -> list[dict[str, Any]]:
    """The tables of ``reports``."""
    return [report.schema for report in reports]
