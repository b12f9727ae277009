"""A fake OnGage API (lists, asynchronous contact search, CSV export) with injected failures.

A search completes only if its window holds at most ``max_contacts_per_search`` contacts; a larger
one stays pending forever, so the connector's search times out and its window shrinks. A search
on list ``failing_at[0]`` whose window contains the moment ``failing_at[1]`` is reported failed. ``rate_limited_exports``: the first
that many exports get HTTP 429 with ``Retry-After: 1``. ``flaky_polls``: those status-poll numbers
get HTTP 500, with a body echoing the request's credentials. ``crash_at``: creating a search for
``(list_id, window start >= moment)`` crashes the connector.

A search selects contacts by the one system date of its ``date_absolute`` criteria:
``ocx_created_date`` (a contact's ``created``) or a status-change date (``unsubscribed``,
``resubscribed``, ``bounced``, ``complained``; a contact without one never matches). As OnGage is
taken to do, a search whose ``filters.user_type`` is not ``all`` finds active contacts only.
``change_status()`` changes a contact's status as an unsubscribe or a bounce would, stamping the
matching date.
"""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime
from typing import Any

from tests.connectors.support import FakeApi, Recorded

CSV_COLUMNS = [
    "ocx_contact_id",
    "email",
    "first_name",
    "last_name",
    "ocx_status",
    "ocx_created_date",
    "ocx_unsubscribe_date",
    "ocx_resubscribe_date",
    "ocx_bounce_date",
    "ocx_complaint_date",
    "favorite_color",
]
# search date field -> the contact key holding that date (Unix seconds)
DATE_KEYS = {
    "ocx_created_date": "created",
    "ocx_unsubscribe_date": "unsubscribed",
    "ocx_resubscribe_date": "resubscribed",
    "ocx_bounce_date": "bounced",
    "ocx_complaint_date": "complained",
}
# a status change -> (the status it leaves, the date it stamps)
STATUS_CHANGES = {
    "unsubscribe": ("Unsubscribed", "unsubscribed"),
    "resubscribe": ("Active", "resubscribed"),
    "bounce": ("Bounced", "bounced"),
    "complain": ("Complained", "complained"),
}


def _when(moment: int | None) -> str:
    if moment is None:
        return ""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


class FakeOnGage(FakeApi):
    def __init__(
        self,
        credentials: dict[str, str],
        lists: list[dict[str, Any]],
        contacts: dict[str, list[dict[str, Any]]],
    ) -> None:
        super().__init__()
        self.credentials = credentials
        self.lists = lists
        self.contacts = contacts
        self.max_contacts_per_search = 60
        self.failing_at: tuple[str, int] | None = None
        self.rate_limited_exports = 0
        self.flaky_polls: set[int] = set()
        self.crash_at: tuple[str, int] | None = None
        self.searches: dict[str, tuple[str, str, int | None, int | None, bool]] = {}
        self._ids = itertools.count(5000)
        self._polls = itertools.count(1)
        self._exports = 0

    @staticmethod
    def date_field_of(body: dict[str, Any]) -> str:
        """The system date a search body filters on (``ocx_created_date`` when it has no date criteria)."""
        fields = {c["field_name"] for c in body["filters"]["criteria"] if c["type"] == "date_absolute"}
        assert len(fields) <= 1, f"a search on several dates: {fields}"
        return fields.pop() if fields else "ocx_created_date"

    @staticmethod
    def window_of(body: dict[str, Any]) -> tuple[int | None, int | None]:
        start = end = None
        for criterion in body["filters"]["criteria"]:
            if criterion["type"] == "date_absolute":
                if criterion["operator"] == ">=":
                    start = int(criterion["operand"][0])
                elif criterion["operator"] == "<":
                    end = int(criterion["operand"][0])
        return start, end

    def change_status(self, list_id: str, contact_id: int, change: str, at: int) -> None:
        """Changes a contact's status (``unsubscribe``, ``resubscribe``, ``bounce``, ``complain``) at ``at``."""
        status, key = STATUS_CHANGES[change]
        for contact in self.contacts[list_id]:
            if contact["id"] == contact_id:
                contact.update({"status": status, key: at})

    def _in_window(
        self,
        list_id: str,
        start: int | None,
        end: int | None,
        date_field: str = "ocx_created_date",
        inactive_too: bool = True,
    ) -> list[dict[str, Any]]:
        key = DATE_KEYS[date_field]
        return [
            c
            for c in self.contacts.get(list_id, [])
            if c.get(key) is not None
            and (start is None or c[key] >= start)
            and (end is None or c[key] < end)
            and (inactive_too or c.get("status", "Active") == "Active")
        ]

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        if any(request.headers.get(key) != value for key, value in self.credentials.items()):
            return 401, {}, {"metadata": {"error": True}, "payload": {"code": 401, "message": "Unauthorized"}}
        parts = request.path.strip("/").split("/")
        if parts == ["api", "lists"] and request.method == "GET":
            offset, limit = int(request.query.get("offset", 0)), int(request.query.get("limit", 50))
            return 200, {}, {"metadata": {"error": False}, "payload": self.lists[offset : offset + limit]}
        if len(parts) < 3 or parts[1:3] != ["api", "contact_search"]:
            return 404, {}, {"metadata": {"error": True}, "payload": {"message": "not found"}}
        list_id = parts[0]
        if len(parts) == 3 and request.method == "POST":
            start, end = self.window_of(request.body)
            date_field = self.date_field_of(request.body)
            if date_field not in DATE_KEYS:
                return (
                    400,
                    {},
                    {"metadata": {"error": True}, "payload": {"message": f"no field {date_field}"}},
                )
            inactive_too = request.body["filters"].get("user_type") == "all"
            if (
                self.crash_at
                and date_field == "ocx_created_date"
                and list_id == self.crash_at[0]
                and start is not None
                and start >= self.crash_at[1]
            ):
                self.crash()
                return 503, {}, {"metadata": {"error": True}}
            search_id = str(next(self._ids))
            self.searches[search_id] = (list_id, date_field, start, end, inactive_too)
            return 200, {}, {"metadata": {"error": False}, "payload": {"id": search_id}}
        search_id = parts[3]
        if search_id not in self.searches:
            return 404, {}, {"metadata": {"error": True}, "payload": {"message": "no such search"}}
        list_id, date_field, start, end, inactive_too = self.searches[search_id]
        found = self._in_window(list_id, start, end, date_field, inactive_too)
        if len(parts) == 4 and request.method == "GET":
            if next(self._polls) in self.flaky_polls:
                echo = "server error; request headers: " + ", ".join(
                    f"{k}: {v}" for k, v in self.credentials.items()
                )
                return 500, {}, echo
            failing = self.failing_at
            if failing and list_id == failing[0] and (start or 0) <= failing[1] < (end or 2**40):
                return 200, {}, {"payload": {"id": search_id, "status": 3, "desc": "Failed"}}
            if len(found) > self.max_contacts_per_search:
                return 200, {}, {"payload": {"id": search_id, "status": 1, "desc": "Pending"}}
            return 200, {}, {"payload": {"id": search_id, "status": 2, "desc": "Completed"}}
        if len(parts) == 5 and parts[4] == "export" and request.method == "GET":
            self._exports += 1
            if self._exports <= self.rate_limited_exports:
                return (
                    429,
                    {"Retry-After": "1"},
                    {"metadata": {"error": True}, "payload": {"message": "Too many"}},
                )
            out = io.StringIO()
            writer = csv.DictWriter(out, CSV_COLUMNS)
            writer.writeheader()
            for contact in found:
                writer.writerow(
                    {
                        "ocx_contact_id": contact["id"],
                        "email": contact["email"],
                        "first_name": contact["first_name"],
                        "last_name": "",
                        "ocx_status": contact.get("status", "Active"),
                        **{field: _when(contact.get(key)) for field, key in DATE_KEYS.items()},
                        "favorite_color": contact.get("color", ""),
                    }
                )
            return 200, {"Content-Type": "text/csv"}, out.getvalue()
        return 404, {}, {"metadata": {"error": True}, "payload": {"message": "not found"}}
