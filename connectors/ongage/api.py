"""OnGage API: HTTP only, raw JSON (or the export's CSV text) out, typed errors raised. No retries here.

Shapes, from OnGage's public API documentation (Lists API, Contacts Search API):

- ``GET {base}/api/lists?offset=&limit=``: ``{"metadata": {...}, "payload": [list, ...]}``; a list
  has ``id``, ``name``, ``last_count`` (contacts), ``created`` (Unix seconds), ...
- ``POST {base}/{list_id}/api/contact_search`` with ``{"title", "filters": {"type", "criteria",
  "user_type"}, "combined_as_and", "include_behavior"}``: starts an asynchronous search and answers
  ``{"payload": {"id": ...}}``.
- ``GET {base}/{list_id}/api/contact_search/{id}``: ``{"payload": {"status": 1|2|3, "desc"}}``
  (1 pending, 2 completed, 3 failed).
- ``GET {base}/{list_id}/api/contact_search/{id}/export``: the search's contacts as CSV.
- Authentication: the headers ``x_username``, ``x_password`` and ``x_account_code``.

A search selects contacts by one system date in a half-open window ``[start, end)`` of Unix seconds
(``date_absolute`` criteria), so consecutive windows never overlap: ``ocx_created_date`` for the
contacts added to a list, and each of the dates OnGage stamps when a contact's status changes
(``ocx_unsubscribe_date``, ``ocx_resubscribe_date``, ``ocx_bounce_date``, ``ocx_complaint_date``)
to find the contacts changed since the last sync. Not confirmed from the public documentation:
that ``filters.user_type: "all"`` includes inactive (unsubscribed, bounced, complained) contacts
while ``filters.type: "Active"`` does not restrict them, and that every one of these dates can be a
``date_absolute`` criterion (OnGage lists them as system fields of every list).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests
from common import http

DEFAULT_BASE_URL = "https://api.ongage.net"
CREATED_DATE = "ocx_created_date"
# The system dates OnGage stamps on a contact when its status changes.
CHANGE_DATES = ("ocx_unsubscribe_date", "ocx_resubscribe_date", "ocx_bounce_date", "ocx_complaint_date")


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


class OnGageApi:
    """One OnGage account, reached with username, password and account code."""

    def __init__(
        self, base_url: str, username: str, password: str, account_code: str, *, timeout: float
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = requests.Session()
        # Credentials live only in the session headers, never in a URL, a payload or a log line.
        self._session.headers.update(
            {
                "x_username": username,
                "x_password": password,
                "x_account_code": account_code,
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )

    def lists(self, *, offset: int, limit: int) -> dict[str, Any]:
        """One page of the account's lists: ``{"metadata": {...}, "payload": [...]}``."""
        return http.request(
            self._session,
            "GET",
            f"{self._base_url}/api/lists",
            params={"offset": offset, "limit": limit},
            timeout=self._timeout,
        )

    def search_url(self, list_id: str) -> str:
        """The URL that starts a contact search on ``list_id``."""
        return f"{self._base_url}/{list_id}/api/contact_search"

    @staticmethod
    def search_body(
        list_id: str, start: datetime | None, end: datetime | None, *, date_field: str = CREATED_DATE
    ) -> dict[str, Any]:
        """The body of a search for the contacts of ``list_id`` whose ``date_field`` is in ``[start, end)``.

        ``None`` leaves that side open. Deterministic (no timestamps in the title), so the same
        window is recorded the same way in the errors table every time it fails.
        """
        criteria: list[dict[str, Any]] = [
            {
                "type": "email",
                "field_name": "email",
                "operator": "notempty",
                "operand": [""],
                "case_sensitive": 0,
                "condition": "and",
            }
        ]
        for operator, moment in ((">=", start), ("<", end)):
            if moment is not None:
                criteria.append(
                    {
                        "type": "date_absolute",
                        "field_name": date_field,
                        "operator": operator,
                        "operand": [_unix(moment)],
                        "case_sensitive": 0,
                        "condition": "and",
                    }
                )
        window = f"{_unix(start) if start else '-'}..{_unix(end) if end else '-'}"
        what = "created" if date_field == CREATED_DATE else date_field.removeprefix("ocx_")
        return {
            "title": f"fivetran list {list_id} {what} {window}",
            "include_behavior": False,
            "filters": {"type": "Active", "criteria": criteria, "user_type": "all"},
            "combined_as_and": True,
        }

    def create_contact_search(
        self, list_id: str, start: datetime | None, end: datetime | None, *, date_field: str = CREATED_DATE
    ) -> dict[str, Any]:
        """Starts a search for the contacts whose ``date_field`` is in ``[start, end)``.

        Answers ``{"payload": {"id": ...}}``.
        """
        return http.request(
            self._session,
            "POST",
            self.search_url(list_id),
            json_body=self.search_body(list_id, start, end, date_field=date_field),
            timeout=self._timeout,
        )

    def contact_search(self, list_id: str, search_id: str) -> dict[str, Any]:
        """The state of a search: ``{"payload": {"status": 1|2|3, "desc": ...}}``."""
        return http.request(
            self._session, "GET", f"{self.search_url(list_id)}/{search_id}", timeout=self._timeout
        )

    def export_contact_search(self, list_id: str, search_id: str) -> str:
        """The contacts a completed search found, as CSV text."""
        return http.request(
            self._session,
            "GET",
            f"{self.search_url(list_id)}/{search_id}/export",
            timeout=self._timeout,
            expect="text",
        )

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()
