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
"""

from __future__ import annotations

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

    def query_body(self, entity: str, after_id: str | None) -> dict[str, Any]:
        """The body of a query for the ``entity`` records with an ID above ``after_id``, sorted by ID."""
        parameter = ID_PARAMETERS[entity]
        body: dict[str, Any] = {"sortBy": parameter, "descending": False}
        if after_id is not None:
            body["groups"] = [
                {"conditions": [{"parameter": parameter, "operator": "GreaterThan", "value": after_id}]}
            ]
        return body

    def query(self, entity: str, *, after_id: str | None, skip: int, take: int) -> dict[str, Any]:
        """One page of ``entity`` (``Contact``/``Gift``) records after ``after_id``: ``{"list", "total"}``."""
        if not 1 <= take <= MAX_TAKE:
            raise ValueError(f"take must be between 1 and {MAX_TAKE}")
        self.budget.acquire()
        answer = http.request(
            self._session,
            "POST",
            f"{self._base_url}/api/{entity}/Query",
            params={"skip": skip, "take": take},
            json_body=self.query_body(entity, after_id),
            timeout=self._timeout,
            observe=self.budget.observe,
        )
        if not isinstance(answer, dict) or not isinstance(answer.get("list"), list):
            raise InvalidResponseError(
                f"POST {self._base_url}/api/{entity}/Query: the answer has no 'list'",
                url=http.full_url(f"{self._base_url}/api/{entity}/Query", {"skip": skip, "take": take}),
                payload=http.payload_text(self.query_body(entity, after_id)),
            )
        return answer

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()
