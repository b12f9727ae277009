"""Virtuous CRM+ REST API: HTTP only, raw JSON out, typed errors raised (see common.http). No retries here.

Shapes, from Virtuous' public API documentation:

- ``POST {base}/api/Contact/Query?skip=&take=`` and ``POST {base}/api/Gift/Query?skip=&take=``
  with a body ``{"groups": [{"conditions": [{"parameter", "operator", "value"}]}], "sortBy",
  "descending"}``; the answer is ``{"list": [...], "total": n}``. ``take`` is capped at 1000.
- Authentication: ``Authorization: Bearer <token>``.
- Rate limit: 5,000 requests an hour per organization, shared by all its integrations, reported on
  every response as ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``
  (Unix seconds); over it, HTTP 429 with ``Retry-After``. Every request here goes through the
  :class:`~common.rate_budget.RateBudget`, which slows down before the budget runs out.

The ID cursor filters ``<Entity> Id`` ``GreaterThan`` the last ID and sorts by the same parameter,
ascending, so pages are deterministic and a resumed sync starts right after the last record.

Changed records are read with the same ID-sorted query plus two conditions in the same group (the
conditions of a group must all hold): ``Last Modified Date`` ``GreaterThanOrEqual`` the pass's lower
bound, and ``<Entity> Id`` ``LessThanOrEqual`` the pass's ceiling. ``Last Modified Date`` is a query
parameter (and a ``sortBy``) of Virtuous' query API. Not confirmed from the public documentation:
that this parameter compares the time of day and not only the date, that it takes an ISO 8601
UTC value (``2024-05-01T10:00:00Z``), and that ``LessThanOrEqual`` applies to ID parameters. If the
comparison turned out to be by date only, set ``modified_overlap_seconds`` to 86400.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from common import http
from common.errors import InvalidResponseError
from common.rate_budget import RateBudget
from requests.adapters import HTTPAdapter

DEFAULT_BASE_URL = "https://api.virtuoussoftware.com"
MAX_TAKE = 1000

# entity -> the query parameter that filters and sorts by its ID
ID_PARAMETERS = {"Contact": "Contact Id", "Gift": "Gift Id"}
MODIFIED_PARAMETER = "Last Modified Date"


def modified_value(moment: datetime) -> str:
    """A ``Last Modified Date`` condition value: ISO 8601 in UTC, whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class VirtuousApi:
    """One Virtuous organization, reached with a bearer token."""

    def __init__(
        self,
        base_url: str,
        bearer_token: str,
        *,
        timeout: float,
        pool_size: int = 8,
        budget: RateBudget | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self.budget = budget or RateBudget()
        self._session = requests.Session()
        self._session.mount(self._base_url, HTTPAdapter(pool_connections=1, pool_maxsize=max(pool_size, 1)))
        # Credentials live only in the session headers, never in a URL, a payload or a log line.
        self._session.headers.update(
            {
                "Authorization": f"Bearer {bearer_token}",
                "Accept": "application/json",
                "Content-Type": "application/json",
            }
        )

    def query_body(
        self,
        entity: str,
        after_id: str | None,
        *,
        modified_since: datetime | None = None,
        up_to_id: str | None = None,
    ) -> dict[str, Any]:
        """The body of a query for the ``entity`` records with an ID above ``after_id``, sorted by ID.

        With ``modified_since`` only records modified at or after it; with ``up_to_id`` only records
        up to that ID.
        """
        parameter = ID_PARAMETERS[entity]
        body: dict[str, Any] = {"sortBy": parameter, "descending": False}
        conditions: list[dict[str, str]] = []
        if after_id is not None:
            conditions.append({"parameter": parameter, "operator": "GreaterThan", "value": after_id})
        if up_to_id is not None:
            conditions.append({"parameter": parameter, "operator": "LessThanOrEqual", "value": up_to_id})
        if modified_since is not None:
            conditions.append(
                {
                    "parameter": MODIFIED_PARAMETER,
                    "operator": "GreaterThanOrEqual",
                    "value": modified_value(modified_since),
                }
            )
        if conditions:
            body["groups"] = [{"conditions": conditions}]
        return body

    def query(
        self,
        entity: str,
        *,
        after_id: str | None,
        skip: int,
        take: int,
        modified_since: datetime | None = None,
        up_to_id: str | None = None,
    ) -> dict[str, Any]:
        """One page of ``entity`` (``Contact``/``Gift``) records after ``after_id``: ``{"list", "total"}``.

        ``modified_since`` and ``up_to_id`` narrow it to the records changed since then, up to that ID.
        """
        if not 1 <= take <= MAX_TAKE:
            raise ValueError(f"take must be between 1 and {MAX_TAKE}")
        body = self.query_body(entity, after_id, modified_since=modified_since, up_to_id=up_to_id)
        url = f"{self._base_url}/api/{entity}/Query"
        self.budget.acquire()
        answer = http.request(
            self._session,
            "POST",
            url,
            params={"skip": skip, "take": take},
            json_body=body,
            timeout=self._timeout,
            observe=self.budget.observe,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("list"), list):
            raise InvalidResponseError(
                f"POST {url}: the answer has no 'list'",
                url=http.full_url(url, {"skip": skip, "take": take}),
                payload=http.payload_text(body),
            )
        return answer

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()
