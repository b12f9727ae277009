"""EveryAction (NGP VAN API v4): HTTP only, raw JSON (or an export file's CSV text) out, typed errors raised.

Shapes, from NGP VAN's public API documentation (Changed Entities):

- ``POST {base}/changedEntityExportJobs`` with ``{"resourceType", "dateChangedFrom", "dateChangedTo",
  "fileSizeKbLimit", "includeInactive", "excludeChangesFromSelf"}`` starts an export of the records of
  that type changed in the window (their current version) and answers ``201`` with the job,
  ``{"exportJobId", "jobStatus", ...}``. ``dateChangedFrom`` must lie within the last 90 days.
- ``GET {base}/changedEntityExportJobs/{exportJobId}``: ``{"jobStatus": "Pending" | "InProcess" |
  "Error" | "Complete", "files": [{"downloadUrl", "dateExpired"}], "message", "exportedRecordCount"}``.
  Every file is CSV with a header line; download links expire after 20 days.
- ``GET {base}/changedEntityExportJobs/changeTypes/{resourceType}``: the change types of a resource.
- Authentication: HTTP Basic, the application name as user name and ``<API key>|<database mode>``
  as password (mode 1: MyCampaign, the EveryAction database; 0: VoterFile).

Not confirmed from the public documentation: the field names of a change type (taken as
``changeTypeId``/``changeTypeName``, a deletion being the one whose name says ``Delete``), the
``ChangeTypeID`` column in the export files, and ``VanID`` as the key column of ``Contacts``.
The files are downloaded without our credentials: a ``downloadUrl`` is pre-signed, and its host is
not the API's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from common import http

DEFAULT_BASE_URL = "https://api.securevan.com/v4"
FILE_SIZE_KB_LIMIT = 40_000


def date_changed(moment: datetime) -> str:
    """A ``dateChangedFrom``/``dateChangedTo`` value: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class EveryActionApi:
    """One EveryAction database, reached with an application name and an API key."""

    def __init__(
        self, base_url: str, application_name: str, api_key: str, database_mode: str, *, timeout: float
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        # Credentials live only in this session, never in a URL, a payload or a log line.
        self._session.auth = (application_name, f"{api_key}|{database_mode}")
        self._session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        # Export files come from a pre-signed URL on another host: that session carries no credentials.
        self._files = requests.Session()

    @property
    def jobs_url(self) -> str:
        """The URL that starts a changed-entity export job."""
        return f"{self._base_url}/changedEntityExportJobs"

    @staticmethod
    def export_body(resource_type: str, start: datetime, end: datetime) -> dict[str, Any]:
        """The body of an export of the ``resource_type`` records changed in ``[start, end)``."""
        return {
            "resourceType": resource_type,
            "dateChangedFrom": date_changed(start),
            "dateChangedTo": date_changed(end),
            "fileSizeKbLimit": FILE_SIZE_KB_LIMIT,
            "includeInactive": False,
            "excludeChangesFromSelf": False,
        }

    def change_types(self, resource_type: str) -> list[dict[str, Any]]:
        """The change types of ``resource_type``."""
        return http.request(
            self._session, "GET", f"{self.jobs_url}/changeTypes/{resource_type}", timeout=self._timeout
        )

    def create_export_job(self, resource_type: str, start: datetime, end: datetime) -> dict[str, Any]:
        """Starts an export of the records changed in ``[start, end)``: ``{"exportJobId", ...}``."""
        return http.request(
            self._session,
            "POST",
            self.jobs_url,
            json_body=self.export_body(resource_type, start, end),
            timeout=self._timeout,
        )

    def export_job(self, job_id: str) -> dict[str, Any]:
        """The state of an export job: ``{"jobStatus", "files", "message", ...}``."""
        return http.request(self._session, "GET", f"{self.jobs_url}/{job_id}", timeout=self._timeout)

    def download(self, url: str) -> str:
        """An export file's CSV text, from its pre-signed ``downloadUrl``."""
        return http.request(self._files, "GET", url, timeout=self._timeout, expect="text")

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()
        self._files.close()
