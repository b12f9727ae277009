"""A fake EveryAction (NGP VAN API v4) changed-entity export, with a separate host serving the files.

``POST /v4/changedEntityExportJobs`` answers ``201`` with the job; ``GET
/v4/changedEntityExportJobs/{id}`` reports ``Pending``, then ``InProcess``, then ``Complete`` with the
files (``rows_per_file`` records each) on :class:`FakeFileHost`, behind pre-signed URLs
(``?sv=...&sig=...``); ``GET /v4/changedEntityExportJobs/changeTypes/{resourceType}`` lists the
change types. Basic authentication with the application name and ``<key>|<mode>`` is checked, and a
``dateChangedFrom`` more than 90 days back is refused, as NGP VAN documents.

Each contact carries the moment it last changed (``changed``, Unix seconds) and how (``change``: 1
created or updated, 2 deleted); ``edit()`` and ``delete()`` change a contact as a user would. An
export holds the current version of the contacts changed in its window. Failures: a job whose
window holds more than ``max_records_per_job`` contacts never completes; one whose window contains
``failing_at`` ends in ``Error``; downloading file number ``crash_on_file`` (counted over the fake's
life) crashes the connector.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.connectors.support import FakeApi, Recorded

CHANGE_TYPES = [
    {
        "changeTypeId": 1,
        "changeTypeName": "CreatedOrUpdated",
        "description": "The record was created or updated",
    },
    {"changeTypeId": 2, "changeTypeName": "Deleted", "description": "The record was deleted"},
]
COLUMNS = ["VanID", "FirstName", "LastName", "DateCreated", "ChangeTypeID"]
REACH = timedelta(days=90)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeFileHost(FakeApi):
    """The host of the export files: answers a pre-signed URL, and refuses any request with credentials."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, tuple[str, str]] = {}  # path -> (signature, CSV text)
        self.downloads = 0
        self.on_download: Any = None

    def publish(self, name: str, text: str) -> str:
        """Stores a file and returns its pre-signed URL."""
        signature = secrets.token_urlsafe(12)
        self.files[f"/exports/{name}"] = (signature, text)
        return f"{self.url}/exports/{name}?sv=2020-08-04&se=2030-01-01&sig={signature}"

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        if "authorization" in request.headers:
            request.note = "credentials sent to the file host"
            return 400, {}, "<Error><Code>InvalidAuthenticationInfo</Code></Error>"
        stored = self.files.get(request.path)
        if stored is None or request.query.get("sig") != stored[0]:
            return 403, {}, "<Error><Code>AuthenticationFailed</Code></Error>"
        self.downloads += 1
        if self.on_download is not None:
            self.on_download(self.downloads)
        return 200, {"Content-Type": "text/csv"}, stored[1]


class FakeEveryAction(FakeApi):
    def __init__(
        self, application_name: str, api_key: str, contacts: list[dict[str, Any]], database_mode: str = "1"
    ) -> None:
        super().__init__()
        token = base64.b64encode(f"{application_name}:{api_key}|{database_mode}".encode()).decode()
        self.authorization = f"Basic {token}"
        self.contacts = {c["VanID"]: c for c in contacts}
        self.file_host = FakeFileHost()
        self.file_host.on_download = self._downloaded
        self.rows_per_file = 100
        self.max_records_per_job = 10_000
        self.failing_at: int | None = None
        self.crash_on_file: int | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(7001)

    def __enter__(self) -> FakeEveryAction:
        self.file_host.__enter__()
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.file_host.__exit__(*exc)

    def _downloaded(self, number: int) -> None:
        if number == self.crash_on_file:
            self.crash()

    def edit(self, van_id: int, changes: dict[str, Any]) -> None:
        """A user edits a contact: it changes now."""
        self.contacts[van_id] = {**self.contacts[van_id], **changes, "changed": int(time.time()), "change": 1}

    def delete(self, van_id: int) -> None:
        """A user deletes a contact: the export reports it deleted from now on."""
        self.contacts[van_id] = {**self.contacts[van_id], "changed": int(time.time()), "change": 2}

    @staticmethod
    def window_of(body: dict[str, Any]) -> tuple[datetime, datetime | None]:
        end = body.get("dateChangedTo")
        return _instant(body["dateChangedFrom"]), _instant(end) if end else None

    def _changed_in(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return sorted(
            (c for c in self.contacts.values() if start.timestamp() <= c["changed"] < end.timestamp()),
            key=lambda c: c["VanID"],
        )

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        if request.headers.get("authorization") != self.authorization:
            return 401, {}, {"errors": [{"code": "UNAUTHORIZED", "text": "Authorization has been denied"}]}
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["v4", "changedEntityExportJobs"]:
            return 404, {}, {"errors": [{"code": "NOT_FOUND", "text": "no such endpoint"}]}
        if parts[2:3] == ["changeTypes"] and request.method == "GET":
            if parts[3:] != ["Contacts"]:
                return 400, {}, {"errors": [{"code": "INVALID_PARAMETER", "text": "unknown resourceType"}]}
            return 200, {}, CHANGE_TYPES
        if len(parts) == 2 and request.method == "POST":
            return self._create(request.body or {})
        if len(parts) == 3 and request.method == "GET":
            return self._job(parts[2])
        return 404, {}, {"errors": [{"code": "NOT_FOUND", "text": "no such endpoint"}]}

    def _create(self, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if body.get("resourceType") != "Contacts":
            return 400, {}, {"errors": [{"code": "INVALID_PARAMETER", "text": "unknown resourceType"}]}
        try:
            start, end = self.window_of(body)
        except (KeyError, ValueError):
            return 400, {}, {"errors": [{"code": "INVALID_PARAMETER", "text": "dateChangedFrom is required"}]}
        now = datetime.now(UTC)
        if start < now - REACH:
            return 400, {}, {"errors": [{"code": "INVALID_PARAMETER", "text": "must be in the last 90 days"}]}
        job_id = str(next(self._ids))
        self.jobs[job_id] = {"start": start, "end": min(end or now, now), "polls": 0, "body": body}
        return 201, {}, {"exportJobId": int(job_id), "jobStatus": "Pending", **body}

    def _job(self, job_id: str) -> tuple[int, dict[str, str], Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {}, {"errors": [{"code": "NOT_FOUND", "text": "no such export job"}]}
        job["polls"] += 1
        start, end = job["start"], job["end"]
        answer = {"exportJobId": int(job_id), **job["body"], "dateChangedTo": end.isoformat()}
        if self.failing_at is not None and start.timestamp() <= self.failing_at < end.timestamp():
            return 200, {}, {**answer, "jobStatus": "Error", "message": "Export failed", "code": "E-77"}
        records = self._changed_in(start, end)
        if job["polls"] == 1 or len(records) > self.max_records_per_job:
            return 200, {}, {**answer, "jobStatus": "Pending" if job["polls"] == 1 else "InProcess"}
        if "files" not in job:
            chunks = [records[i : i + self.rows_per_file] for i in range(0, len(records), self.rows_per_file)]
            job["files"] = [
                {"downloadUrl": self.file_host.publish(f"{job_id}-{n}.csv", _csv(chunk)), "dateExpired": None}
                for n, chunk in enumerate(chunks or [[]])
            ]
        complete = {"jobStatus": "Complete", "files": job["files"], "exportedRecordCount": len(records)}
        return 200, {}, {**answer, **complete, "message": "Finished processing export job"}


def _csv(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "ChangeTypeID": record["change"]})
    return out.getvalue()
