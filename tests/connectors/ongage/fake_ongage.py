"""A fake OnGage API (lists, asynchronous contact search, CSV export) with injected failures.

A search completes only if its window holds at most ``max_contacts_per_search`` contacts; a larger
one stays pending forever, so the connector's search times out and its window shrinks. A search
on list ``failing_at[0]`` whose window contains the moment ``failing_at[1]`` is reported failed. ``rate_limited_exports``: the first
that many exports get HTTP 429 with ``Retry-After: 1``. ``flaky_polls``: those status-poll numbers
get HTTP 500, with a body echoing the request's credentials. ``crash_at``: creating a search for
``(list_id, window start >= moment)`` crashes the connector.
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
    "favorite_color",
]


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
        self.searches: dict[str, tuple[str, int | None, int | None]] = {}
        self._ids = itertools.count(5000)
        self._polls = itertools.count(1)
        self._exports = 0

    @staticmethod
    def window_of(body: dict[str, Any]) -> tuple[int | None, int | None]:
        start = end = None
        for criterion in body["filters"]["criteria"]:
            if criterion["field_name"] == "ocx_created_date":
                if criterion["operator"] == ">=":
                    start = int(criterion["operand"][0])
                elif criterion["operator"] == "<":
                    end = int(criterion["operand"][0])
        return start, end

    def _in_window(self, list_id: str, start: int | None, end: int | None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.contacts.get(list_id, [])
            if (start is None or c["created"] >= start) and (end is None or c["created"] < end)
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
            if (
                self.crash_at
                and list_id == self.crash_at[0]
                and start is not None
                and start >= self.crash_at[1]
            ):
                self.crash()
                return 503, {}, {"metadata": {"error": True}}
            search_id = str(next(self._ids))
            self.searches[search_id] = (list_id, start, end)
            return 200, {}, {"metadata": {"error": False}, "payload": {"id": search_id}}
        search_id = parts[3]
        if search_id not in self.searches:
            return 404, {}, {"metadata": {"error": True}, "payload": {"message": "no such search"}}
        list_id, start, end = self.searches[search_id]
        if len(parts) == 4 and request.method == "GET":
            if next(self._polls) in self.flaky_polls:
                echo = "server error; request headers: " + ", ".join(
                    f"{k}: {v}" for k, v in self.credentials.items()
                )
                return 500, {}, echo
            failing = self.failing_at
            if failing and list_id == failing[0] and (start or 0) <= failing[1] < (end or 2**40):
                return 200, {}, {"payload": {"id": search_id, "status": 3, "desc": "Failed"}}
            if len(self._in_window(list_id, start, end)) > self.max_contacts_per_search:
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
            for contact in self._in_window(list_id, start, end):
                writer.writerow(
                    {
                        "ocx_contact_id": contact["id"],
                        "email": contact["email"],
                        "first_name": contact["first_name"],
                        "last_name": "",
                        "ocx_status": "Active",
                        "ocx_created_date": datetime.fromtimestamp(contact["created"], UTC).strftime(
                            "%Y-%m-%d %H:%M:%S"
                        ),
                        "favorite_color": contact.get("color", ""),
                    }
                )
            return 200, {"Content-Type": "text/csv"}, out.getvalue()
        return 404, {}, {"metadata": {"error": True}, "payload": {"message": "not found"}}
