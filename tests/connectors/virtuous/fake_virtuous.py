"""A fake Virtuous CRM+ query API with injected failures, for the connector's end-to-end tests.

It answers ``POST /api/{Contact|Gift}/Query?skip=&take=`` as Virtuous does (``{"list", "total"}``,
sorted by ID, conditions of one group all applied: ``<Entity> Id`` ``GreaterThan`` and
``LessThanOrEqual``, ``Last Modified Date`` ``GreaterThanOrEqual``) and checks the bearer token.
Every record carries ``modifiedDateTimeUtc`` (set when it has none); ``edit()`` changes a record as
a user would in Virtuous, moving its modification time to now. Failures:

- ``slow_take_above``: a query with a larger take answers only after ``slow_seconds`` (it times out);
- ``rate_limited``: those request numbers get HTTP 429 with ``Retry-After: 1``;
- ``flaky``: those request numbers get HTTP 500 once;
- ``poison``: a page that holds one of these IDs always gets HTTP 500 (the body echoes the
  Authorization header, as some servers do, so redaction is exercised);
- ``crash_after_id``: once the cursor is past every poisoned ID, the first query for contacts whose
  page goes past that ID crashes the connector.

Like Virtuous, every answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Reset`` (Unix seconds), from one budget of ``rate_limit`` requests per
``window_seconds`` (5,000 an hour) shared by every request, whoever sends it; a request over the
budget gets HTTP 429 with ``Retry-After`` (counted in ``over_budget``). ``spend(n)`` spends part of
the budget as another integration of the same organization would.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

from tests.connectors.support import FakeApi, Recorded

ENTITIES = ("Contact", "Gift")
MODIFIED = "Last Modified Date"
UNMODIFIED = "2024-03-02T08:30:00.125+02:00"  # the modification time of records given without one


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def modified_at(moment: datetime) -> str:
    """A modification time as Virtuous writes it (UTC, milliseconds)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeVirtuous(FakeApi):
    def __init__(self, token: str, contacts: list[dict[str, Any]], gifts: list[dict[str, Any]]) -> None:
        super().__init__()
        self.token = token
        self.records = {"Contact": [_stamped(r) for r in contacts], "Gift": [_stamped(r) for r in gifts]}
        self.slow_take_above = 250
        self.slow_seconds = 1.0
        self.rate_limited: set[int] = set()
        self.flaky: set[int] = set()
        self.poison: set[int] = set()
        self.crash_after_id: int | None = None
        self.crash_changes_after_id: int | None = None
        self._numbers = itertools.count(1)
        self.rate_limit = 5000
        self.window_seconds = 3600.0
        self.over_budget = 0
        self._window_end: float | None = None
        self._spent = 0
        self._budget_lock = threading.Lock()

    def _budget(self) -> tuple[bool, dict[str, str]]:
        """Counts one request against the shared window: (within budget, the rate-limit headers)."""
        with self._budget_lock:
            now = time.time()
            if self._window_end is None or now >= self._window_end:
                self._window_end, self._spent = now + self.window_seconds, 0
            within = self._spent < self.rate_limit
            if within:
                self._spent += 1
            else:
                self.over_budget += 1
            headers = {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.rate_limit - self._spent),
                "X-RateLimit-Reset": str(math.ceil(self._window_end)),
            }
            if not within:
                headers["Retry-After"] = str(math.ceil(self._window_end - now))
            return within, headers

    def spend(self, requests: int) -> None:
        """Another integration of the organization spends ``requests`` of the current window."""
        for _ in range(requests):
            self._budget()

    def add(self, entity: str, records: list[dict[str, Any]]) -> None:
        self.records[entity] = self.records[entity] + [_stamped(r) for r in records]

    def edit(self, entity: str, record_id: int, changes: dict[str, Any], at: datetime | None = None) -> None:
        """Changes a record as a Virtuous user would; its modification time becomes ``at`` (now)."""
        moment = at or datetime.now(UTC)
        self.records[entity] = [
            {**r, **changes, "modifiedDateTimeUtc": modified_at(moment)} if int(r["id"]) == record_id else r
            for r in self.records[entity]
        ]

    @staticmethod
    def _conditions(request: Recorded) -> list[dict[str, Any]]:
        return [c for group in (request.body or {}).get("groups", []) for c in group["conditions"]]

    @staticmethod
    def query_of(request: Recorded) -> tuple[str, int | None, int, int]:
        """(entity, after id, skip, take) of a recorded query."""
        entity = request.path.split("/")[2]
        after = None
        for condition in FakeVirtuous._conditions(request):
            if condition["operator"] == "GreaterThan":
                after = int(condition["value"])
        return entity, after, int(request.query["skip"]), int(request.query["take"])

    @staticmethod
    def modified_since(request: Recorded) -> datetime | None:
        """The ``Last Modified Date`` lower bound of a recorded query (None: a query for new records)."""
        for condition in FakeVirtuous._conditions(request):
            if condition["parameter"] == MODIFIED:
                return _instant(condition["value"])
        return None

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        within, limits = self._budget()
        if not within:
            request.note = "over budget"
            return 429, limits, {"message": "API calls quota exceeded"}
        status, headers, body = self._answer(request)
        return status, {**limits, **headers}, body

    def _answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        number = next(self._numbers)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"message": "Authorization has been denied for this request."}
        parts = request.path.split("/")
        if request.method != "POST" or len(parts) != 4 or parts[1] != "api" or parts[3] != "Query":
            return 404, {}, {"message": "no such endpoint"}
        entity = parts[2]
        if entity not in ENTITIES:
            return 404, {}, {"message": f"unknown entity {entity}"}
        body = request.body or {}
        parameter = f"{entity} Id"
        if body.get("sortBy") != parameter or body.get("descending") is not False:
            return 400, {}, {"message": f"expected sortBy {parameter!r} ascending"}
        if len(body.get("groups", [])) > 1:
            return 400, {}, {"message": "one group of conditions expected"}
        checks = []
        for condition in self._conditions(request):
            shape = (condition.get("parameter"), condition.get("operator"))
            try:
                if shape == (parameter, "GreaterThan"):
                    above = int(condition["value"])
                    checks.append(lambda r, above=above: int(r["id"]) > above)
                elif shape == (parameter, "LessThanOrEqual"):
                    ceiling = int(condition["value"])
                    checks.append(lambda r, ceiling=ceiling: int(r["id"]) <= ceiling)
                elif shape == (MODIFIED, "GreaterThanOrEqual"):
                    since = _instant(condition["value"])
                    checks.append(lambda r, since=since: _instant(r["modifiedDateTimeUtc"]) >= since)
                else:
                    return 400, {}, {"message": f"unsupported condition {condition}"}
            except (KeyError, ValueError):
                return 400, {}, {"message": f"invalid condition value {condition}"}
        entity, after, skip, take = self.query_of(request)
        if not 1 <= take <= 1000:
            return 400, {}, {"message": "take must be between 1 and 1000"}
        matching = sorted(
            (r for r in self.records[entity] if all(check(r) for check in checks)),
            key=lambda r: int(r["id"]),
        )
        page = matching[skip : skip + take]
        crash = self.crash_after_id
        # Once the cursor is past every poisoned record, a page that reaches past the ID crashes the
        # connector (a round may read up to the end without ever asking for the records after it).
        if (
            entity == "Contact"
            and crash is not None
            and after is not None
            and after >= max(self.poison, default=0)
            and (after > crash or any(int(r["id"]) > crash for r in page))
        ):
            self.crash()
            return 503, {}, {"message": "gone"}
        if number in self.rate_limited:
            request.note = "rate-limited"
            return 429, {"Retry-After": "1"}, {"message": "API calls quota exceeded"}
        if number in self.flaky:
            request.note = "flaky"
            return 500, {}, {"message": "transient failure"}
        if take > self.slow_take_above:
            request.note = "slow"
            time.sleep(self.slow_seconds)
        changes_crash = self.crash_changes_after_id
        if (
            changes_crash is not None
            and after is not None
            and after > changes_crash
            and self.modified_since(request) is not None
        ):
            self.crash()
            return 503, {}, {"message": "gone"}
        if any(int(r["id"]) in self.poison for r in page):
            request.note = "poison"
            echo = f"Internal error while reading the page. Request: Authorization: Bearer {self.token}"
            return 500, {}, echo
        return 200, {"Content-Type": "application/json"}, {"list": page, "total": len(matching)}


def _stamped(record: dict[str, Any]) -> dict[str, Any]:
    return record if "modifiedDateTimeUtc" in record else {**record, "modifiedDateTimeUtc": UNMODIFIED}
