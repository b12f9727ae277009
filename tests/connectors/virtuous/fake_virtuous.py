"""A fake Virtuous CRM+ query API with injected failures, for the connector's end-to-end tests.

It answers ``POST /api/{Contact|Gift}/Query?skip=&take=`` as Virtuous does (``{"list", "total"}``,
the ``<Entity> Id GreaterThan`` filter, sorted by ID) and checks the bearer token. Failures:

- ``slow_take_above``: a query with a larger take answers only after ``slow_seconds`` (it times out);
- ``rate_limited``: those request numbers get HTTP 429 with ``Retry-After: 1``;
- ``flaky``: those request numbers get HTTP 500 once;
- ``poison``: a page that holds one of these IDs always gets HTTP 500 (the body echoes the
  Authorization header, as some servers do, so redaction is exercised);
- ``crash_after_id``: the first query for contacts after that ID crashes the connector.

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
from typing import Any

from tests.connectors.support import FakeApi, Recorded

ENTITIES = ("Contact", "Gift")


class FakeVirtuous(FakeApi):
    def __init__(self, token: str, contacts: list[dict[str, Any]], gifts: list[dict[str, Any]]) -> None:
        super().__init__()
        self.token = token
        self.records = {"Contact": contacts, "Gift": gifts}
        self.slow_take_above = 250
        self.slow_seconds = 1.0
        self.rate_limited: set[int] = set()
        self.flaky: set[int] = set()
        self.poison: set[int] = set()
        self.crash_after_id: int | None = None
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
        self.records[entity] = self.records[entity] + records

    @staticmethod
    def query_of(request: Recorded) -> tuple[str, int | None, int, int]:
        """(entity, after id, skip, take) of a recorded query."""
        entity = request.path.split("/")[2]
        after = None
        for group in (request.body or {}).get("groups", []):
            for condition in group["conditions"]:
                after = int(condition["value"])
        return entity, after, int(request.query["skip"]), int(request.query["take"])

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
        for group in body.get("groups", []):
            for condition in group["conditions"]:
                if condition.get("parameter") != parameter or condition.get("operator") != "GreaterThan":
                    return 400, {}, {"message": f"unsupported condition {condition}"}
        entity, after, skip, take = self.query_of(request)
        if not 1 <= take <= 1000:
            return 400, {}, {"message": "take must be between 1 and 1000"}
        if (
            entity == "Contact"
            and self.crash_after_id is not None
            and after is not None
            and after > self.crash_after_id
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
        matching = sorted(
            (r for r in self.records[entity] if after is None or int(r["id"]) > after),
            key=lambda r: int(r["id"]),
        )
        page = matching[skip : skip + take]
        if any(int(r["id"]) in self.poison for r in page):
            request.note = "poison"
            echo = f"Internal error while reading the page. Request: Authorization: Bearer {self.token}"
            return 500, {}, echo
        return 200, {"Content-Type": "application/json"}, {"list": page, "total": len(matching)}
