"""Google Search Ads 360 Reporting API (v0): HTTP only, raw JSON out, typed errors raised.

Shapes, from Google's public documentation:

- ``POST {base}/customers/{customerId}/searchAds360:searchStream`` with ``{"query": "<SA360 Query
  Language>"}`` (``batchSize`` and ``summaryRowSetting`` left out) returns every matching row in
  batches, ``{"results": [...], "fieldMask": "campaign.id,...", "requestId": "..."}``: over REST a
  JSON array of them, as the Google Ads API's REST reference shows (the SA360 reference shows one
  object; both are read). A row nests each resource's fields in camelCase (``{"campaign": {"id":
  "1"}, "metrics": {"costMicros": "5"}, "segments": {"date": "2024-05-01"}}``); int64 values are
  JSON strings.
- Headers: ``Authorization: Bearer <access token>`` (scope ``.../auth/doubleclicksearch``) and, for
  an account reached through a manager account, ``login-customer-id: <manager id>`` (digits only).
- Errors: the HTTP status with ``{"error": {"code", "message", "status", "details"}}``;
  ``RESOURCE_EXHAUSTED`` (429) when a quota is spent, ``UNAUTHENTICATED`` (401) for an expired or
  revoked access token.
- Access tokens: ``POST https://oauth2.googleapis.com/token`` with the form ``grant_type=refresh_token,
  client_id, client_secret, refresh_token`` answers ``{"access_token", "expires_in", "token_type"}``;
  a revoked or expired refresh token is ``400 {"error": "invalid_grant"}``.

Not confirmed from the public documentation: whether an error that happens after the stream began
arrives as an ``{"error": ...}`` element of the array with status 200 (handled as such); the
``retryDelay`` a 429's details may carry (the Google Ads API documents one; not read here: the
shared retry sees no error body and waits its own backoff); whether a quota error is always 429
rather than 403 (a 403 fails the sync as a permission error); and the quotas themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests
from common import http
from common.errors import (
    InvalidResponseError,
    PermanentError,
    ServerBusyError,
)
from common.logs import redact

DEFAULT_BASE_URL = "https://searchads360.googleapis.com/v0"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
# A token is renewed this long before Google says it expires: a request must not carry one that lapses.
EXPIRY_MARGIN_SECONDS = 60.0
# google.rpc.Code of an in-stream error -> the HTTP status it stands for (for retry decisions).
RPC_STATUSES = {
    "RESOURCE_EXHAUSTED": 429,
    "UNAVAILABLE": 503,
    "INTERNAL": 500,
    "DEADLINE_EXCEEDED": 504,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
}


def digits(customer_id: str) -> str:
    """A customer ID as the API wants it: ``123-456-7890`` -> ``1234567890``."""
    return customer_id.replace("-", "").strip()


class Sa360Api:
    """One Search Ads 360 customer, reached with an OAuth client and a user's refresh token."""

    def __init__(
        self,
        base_url: str,
        token_url: str,
        *,
        customer_id: str,
        login_customer_id: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._token_url = token_url
        self._customer_id = digits(customer_id)
        self._timeout = timeout
        self._monotonic = monotonic
        # Credentials live only here and in the session's headers, never in a URL, a payload or a log line.
        self._grant = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._session = requests.Session()
        self._token_session = requests.Session()  # form-encoded, without the search's headers
        self._session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        if login_customer_id:
            self._session.headers["login-customer-id"] = digits(login_customer_id)

    @property
    def search_url(self) -> str:
        """The searchStream URL of the customer."""
        return f"{self._base_url}/customers/{self._customer_id}/searchAds360:searchStream"

    def _refresh(self) -> None:
        try:
            body = http.request(
                self._token_session, "POST", self._token_url, form_body=self._grant, timeout=self._timeout
            )
        except PermanentError as exc:
            if "invalid_grant" not in str(exc):
                raise
            raise PermanentError(
                f"{exc} (the refresh token is revoked or expired: authorize again)",
                status=exc.status,
                url=self._token_url,
            ) from exc
        try:
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidResponseError(
                f"POST {self._token_url}: the answer has no access_token", url=self._token_url
            ) from exc
        self._access_token = token
        self._expires_at = self._monotonic() + max(0.0, lifetime - EXPIRY_MARGIN_SECONDS)

    def _bearer(self) -> dict[str, str]:
        if self._access_token is None or self._monotonic() >= self._expires_at:
            self._refresh()
        return {"Authorization": f"Bearer {self._access_token}"}

    def search_stream(self, query: str) -> list[dict[str, Any]]:
        """Every batch of rows the query returns: ``[{"results", "fieldMask", "requestId"}, ...]``.

        A 401 (the access token expired or was revoked early) renews the token and asks once more.
        """
        body = {"query": query}

        def ask() -> Any:
            return http.request(
                self._session,
                "POST",
                self.search_url,
                headers=self._bearer(),
                json_body=body,
                timeout=self._timeout,
            )

        try:
            answer = ask()
        except PermanentError as error:
            if error.status != 401:
                raise
            self._access_token = None
            answer = ask()
        return self._batches(answer, http.payload_text(body))

    def _batches(self, answer: Any, payload: str | None) -> list[dict[str, Any]]:
        where = f"POST {self.search_url}"
        if not isinstance(answer, list):
            answer = [answer]
        for batch in answer:
            if not isinstance(batch, dict):
                raise InvalidResponseError(
                    f"{where}: a batch is not an object", url=self.search_url, payload=payload
                )
            error = batch.get("error")
            if isinstance(error, dict):
                status = RPC_STATUSES.get(str(error.get("status")), int(error.get("code") or 500))
                message = redact(f"{where}: {error.get('status')}: {error.get('message')}")
                if status in http.RETRYABLE_STATUSES:
                    raise ServerBusyError(message, status=status, url=self.search_url, payload=payload)
                raise PermanentError(message, status=status, url=self.search_url, payload=payload)
        return answer

    def close(self) -> None:
        """Closes the pooled connections."""
        self._session.close()
        self._token_session.close()
