"""EveryAction sync: each resource's changed records, through changed-entity export jobs in time windows.

State (as checkpointed)::

    {"contacts": {"cursor": "2024-05-01T10:00:00+00:00"}}

Each sync asks for the records changed from the resource's cursor, less ``modified_overlap_seconds``
(900), up to the sync's start: one export job over the whole range first, split into windows
(:mod:`common.windows`, 30 days down to 1) when a job does not complete within
``job_timeout_seconds`` or ends in ``Error``. A window is all or nothing: its files are downloaded
and read before the first row is emitted; then the cursor moves to the window's end and is
checkpointed, so a crash resumes at the first window not done. A window that fails at 1 day after
3 retries goes to the ``errors`` table and is stepped over; 3 failing in a row fail the sync.

The export holds the current version of every record changed in the window: a record edited since
the last sync is upserted over its old row, and a record whose change type is a deletion (see
``GET /changedEntityExportJobs/changeTypes``) becomes ``op.delete``.

The API reaches back 90 days only. The first sync starts at ``start_date`` (default: as far back as
allowed); a range that begins earlier (a ``start_date`` too old, a connector paused for months)
starts 90 days back instead, and the gap is written to the ``errors`` table: records last changed
before it are not exported by this API and need a one-off bulk export.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import models
from api import EveryActionApi
from common import config, errors_table, http
from common.changes import OVERLAP, overlap_from
from common.clock import Clock
from common.errors import InvalidResponseError, RequestTimeoutError, TransientError
from common.output import Output
from common.retry import RetryPolicy, call_with_retries
from common.windows import WindowPolicy, sync_windows

log = logging.getLogger("connector.everyaction")

# (warehouse table, resource type, key column)
STREAMS: tuple[tuple[str, str, str], ...] = ((models.CONTACTS, "Contacts", "van_id"),)
# dateChangedFrom must lie within the last 90 days; the margin absorbs a server clock ahead of ours.
REACH = timedelta(days=90)
REACH_MARGIN = timedelta(hours=1)
JOB_COMPLETE = "complete"
JOB_FAILED = "error"


class ExportTimeoutError(RequestTimeoutError):
    """An export job did not complete in time: the window is too large (or EveryAction is slow)."""


class ExportFailedError(TransientError):
    """EveryAction reported the export job as failed."""


@dataclass(frozen=True)
class Settings:
    """How patiently and in which windows the sync reads."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    windows: WindowPolicy = field(
        default_factory=lambda: WindowPolicy(initial=timedelta(days=30), minimum=timedelta(days=1))
    )
    request_timeout: float = 300.0
    job_timeout: float = 1800.0
    job_poll: float = 10.0
    start_date: datetime | None = None
    modified_overlap: timedelta = OVERLAP


def settings_from(configuration: Mapping[str, object]) -> Settings:
    """The settings from the configuration's optional keys (see configuration.example.json)."""
    start = config.optional(configuration, "start_date", "")
    return Settings(
        retry=config.retry_policy(configuration),
        request_timeout=config.number(configuration, "request_timeout_seconds", 300.0, minimum=0.01),
        job_timeout=config.number(configuration, "job_timeout_seconds", 1800.0, minimum=0.01),
        job_poll=config.number(configuration, "job_poll_seconds", 10.0, minimum=0),
        start_date=config.date(configuration, "start_date", start) if start else None,
        modified_overlap=overlap_from(configuration),
    )


def sync_all(
    api: EveryActionApi,
    state: Mapping[str, Any],
    out: Output,
    settings: Settings,
    *,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Syncs every resource from ``state`` onward; returns the final state."""
    clock = clock or Clock()
    current: dict[str, Any] = copy.deepcopy(dict(state))
    # Changes from this instant on belong to the next sync: every window ends here at the latest.
    end = clock.now().astimezone(UTC).replace(microsecond=0)
    for table, resource, key in STREAMS:
        sync_resource(
            api, current, out, settings, table=table, resource=resource, key=key, end=end, clock=clock
        )
    return current


def deletion_types(api: EveryActionApi, resource: str, settings: Settings, clock: Clock) -> set[str]:
    """The IDs of the change types of ``resource`` that are deletions."""
    types = call_with_retries(lambda: api.change_types(resource), settings.retry, sleep=clock.sleep)
    if not isinstance(types, list):
        raise InvalidResponseError(f"GET {api.jobs_url}/changeTypes/{resource}: the answer is not a list")
    return {
        str(kind.get("changeTypeId"))
        for kind in types
        if isinstance(kind, dict) and "delete" in str(kind.get("changeTypeName", "")).lower()
    }


def sync_resource(
    api: EveryActionApi,
    state: dict[str, Any],
    out: Output,
    settings: Settings,
    *,
    table: str,
    resource: str,
    key: str,
    end: datetime,
    clock: Clock,
) -> None:
    """Reads the ``resource`` records changed since its cursor, window by window, up to ``end``."""
    entry = state.setdefault(table, {"cursor": None})
    earliest = end - REACH + REACH_MARGIN
    if entry.get("cursor"):
        start = datetime.fromisoformat(entry["cursor"]) - settings.modified_overlap
    else:
        start = settings.start_date or earliest
    start = start.astimezone(UTC).replace(microsecond=0)
    if start < earliest:
        message = (
            f"{resource}: changes before {earliest.isoformat()} are beyond the 90 days the export reaches "
            f"(the range began {start.isoformat()}): records last changed before then are not read"
        )
        log.warning("%s", message)
        out.upsert(
            errors_table.TABLE,
            errors_table.error_row(table, url=api.jobs_url, payload=None, message=message),
        )
        start = earliest
    if start >= end:
        return
    deleted = deletion_types(api, resource, settings, clock)
    log.info("%s: reading the changes of %s..%s", table, start, end)

    def download(url: str) -> str:
        return call_with_retries(lambda: api.download(url), settings.retry, sleep=clock.sleep)

    def run(window_start: datetime, window_end: datetime) -> None:
        files = run_export(api, resource, window_start, window_end, settings, clock)
        texts = [download(url) for url in files]
        # Every file is read and every row converted before the first is emitted: all or nothing.
        rows = [models.row(raw, key) for text in texts for raw in models.parse_export(text)]
        removed = 0
        for converted in rows:
            if str(converted.get(models.CHANGE_TYPE_COLUMN)) in deleted:
                out.delete(table, {key: converted[key]})
                removed += 1
            else:
                out.upsert(table, converted)
        log.info(
            "%s: %d changed, %d deleted in %s..%s (%d files)",
            table,
            len(rows) - removed,
            removed,
            window_start,
            window_end,
            len(files),
        )

    def done(cursor: datetime) -> None:
        entry["cursor"] = cursor.isoformat()
        out.checkpoint(state)

    def failed(window_start: datetime, window_end: datetime, error: BaseException) -> None:
        out.upsert(errors_table.TABLE, errors_table.row_for(table, error))

    sync_windows(
        start, end, run, done=done, failed=failed, policy=settings.windows, whole_range_first=True, name=table
    )


def run_export(
    api: EveryActionApi, resource: str, start: datetime, end: datetime, settings: Settings, clock: Clock
) -> list[str]:
    """Runs an export job for ``[start, end)`` to completion; returns its files' download URLs.

    Raises :class:`ExportTimeoutError` when it does not complete within the job timeout and
    :class:`ExportFailedError` when EveryAction reports it failed; both carry the job request.
    """
    url = api.jobs_url
    payload = http.payload_text(api.export_body(resource, start, end))
    job = call_with_retries(
        lambda: api.create_export_job(resource, start, end), settings.retry, sleep=clock.sleep
    )
    job_id = job.get("exportJobId") if isinstance(job, dict) else None
    if job_id is None:
        raise InvalidResponseError(f"POST {url}: the answer has no exportJobId", url=url, payload=payload)
    deadline = clock.monotonic() + settings.job_timeout
    while True:
        job = call_with_retries(lambda: api.export_job(str(job_id)), settings.retry, sleep=clock.sleep)
        status = str(job.get("jobStatus", "")).strip().lower()
        if status == JOB_COMPLETE:
            files = job.get("files")
            if not isinstance(files, list) or any(
                not isinstance(f, dict) or not f.get("downloadUrl") for f in files
            ):
                raise InvalidResponseError(
                    f"GET {url}/{job_id}: a complete job without download URLs", url=url, payload=payload
                )
            return [str(f["downloadUrl"]) for f in files]
        if status == JOB_FAILED:
            raise ExportFailedError(
                f"POST {url}: export job {job_id} failed: {job.get('message') or 'no message'}",
                url=url,
                payload=payload,
            )
        if clock.monotonic() >= deadline:
            raise ExportTimeoutError(
                f"POST {url}: export job {job_id} not complete after {settings.job_timeout:g}s",
                url=url,
                payload=payload,
            )
        clock.sleep(min(settings.job_poll, max(0.0, deadline - clock.monotonic())))
