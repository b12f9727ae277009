"""A fake Google Search Ads 360 Reporting API (v0) and Google's OAuth 2.0 token endpoint, on one loopback host.

``POST /token`` takes the form ``grant_type=refresh_token&client_id&client_secret&refresh_token``
and answers ``{"access_token", "expires_in", "token_type": "Bearer"}`` (``400 {"error":
"invalid_grant"}`` for a refresh token it does not know, ``401 {"error": "invalid_client"}`` for
a wrong client). ``POST /v0/customers/{id}/searchAds360:searchStream`` takes ``{"query": ...}`` in
the SA360 Query Language (``SELECT <fields> FROM campaign|ad_group WHERE segments.date BETWEEN
'A' AND 'B'``) and answers the rows as a JSON array of batches ``[{"results", "fieldMask",
"requestId"}]``, each row nesting the selected fields by resource in camelCase, int64 values as
strings. Errors are Google's ``{"error": {"code", "message", "status", "details"}}``.

The account: ``campaigns`` campaigns of two ad groups each, with metrics every day from ``first_day``
through today (UTC); ``settle(day, ...)`` changes a day's conversions later, as late conversions
do. Failures: an access token past its ``expires_in`` or revoked (``revoke_tokens_on_search``) is
``401 UNAUTHENTICATED``; a query whose days include ``failing_day`` is ``500 INTERNAL``, one whose
days include ``stream_failing_day`` a 200 whose stream ends in that error after its first batch;
``quota_exhausted`` makes every search ``429 RESOURCE_EXHAUSTED``; ``denied`` ``403
PERMISSION_DENIED``; the search number ``crash_on_search`` (counted over the fake's life) crashes
the connector.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import secrets
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from tests.connectors.support import FakeApi, Recorded

QUERY = re.compile(
    r"^SELECT (?P<fields>.+) FROM (?P<resource>\w+) "
    r"WHERE segments\.date BETWEEN '(?P<first>\d{4}-\d{2}-\d{2})' AND '(?P<last>\d{4}-\d{2}-\d{2})'$"
)
RESOURCES = {"campaign": "campaign", "ad_group": "adGroup"}
ERROR_TYPE = "type.googleapis.com/google.ads.searchads360.v0.errors.SearchAds360Failure"


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def google_error(code: int, status: str, message: str, error_code: dict[str, str]) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": [{"@type": ERROR_TYPE, "errors": [{"errorCode": error_code, "message": message}]}],
        }
    }


def query_window(query: str) -> tuple[str, date, date]:
    """The resource and the first and last day of a query (raises ValueError if it is not one)."""
    match = QUERY.match(query.strip())
    if match is None:
        raise ValueError(query)
    return match["resource"], date.fromisoformat(match["first"]), date.fromisoformat(match["last"])


class FakeSa360(FakeApi):
    def __init__(
        self,
        *,
        customer_id: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        first_day: date,
        campaigns: int = 3,
        login_customer_id: str = "",
    ) -> None:
        super().__init__()
        self._use_form_bodies()
        self.customer_id = customer_id
        self.login_customer_id = login_customer_id
        self.client = (client_id, client_secret)
        self.refresh_token = refresh_token
        self.first_day = first_day
        self.campaigns = [str(101 + n) for n in range(campaigns)]
        self.settled: dict[tuple[str, date], float] = {}
        self.tokens: dict[str, float] = {}  # access token -> monotonic expiry
        self.issued: list[str] = []
        self.token_lifetime = 3599
        self.rows_per_batch = 25
        self.search_delay = 0.0
        self.searches = 0
        self.crash_on_search: int | None = None
        self.revoke_tokens_on_search: int | None = None
        self.failing_day: date | None = None
        self.stream_failing_day: date | None = None
        self.quota_exhausted = False
        self.denied = False
        self._requests = itertools.count(1)

    def _use_form_bodies(self) -> None:
        """The token endpoint takes a form, not JSON: the base server decodes JSON only."""
        base = self._server.RequestHandlerClass
        self._server.server_close()

        class FormHandler(base):  # type: ignore[misc,valid-type]
            def _handle(self) -> None:
                if "form-urlencoded" in (self.headers.get("Content-Type") or ""):
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    decoded = json.dumps(dict(parse_qsl(raw.decode()))).encode()
                    self.headers.replace_header("Content-Length", str(len(decoded)))
                    self.rfile = io.BytesIO(decoded)
                super()._handle()

            do_GET = do_POST = _handle  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), FormHandler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the account ---------------------------------------------------------------------------

    def today(self) -> date:
        return datetime.now(UTC).date()

    def days(self) -> list[date]:
        count = (self.today() - self.first_day).days + 1
        return [self.first_day + timedelta(days=n) for n in range(count)]

    def ad_groups(self, campaign: str) -> list[str]:
        return [f"{campaign}{n}" for n in (1, 2)]

    def metrics(self, entity: str, day: date) -> dict[str, Any]:
        seed = int(entity) * 31 + day.toordinal()
        clicks = seed % 50 + 1
        conversions = self.settled.get((entity, day), round(clicks / 10, 2))
        return {
            "clicks": str(clicks),
            "impressions": str(clicks * 20 + seed % 7),
            "costMicros": str(clicks * 250_000),
            "conversions": conversions,
        }

    def settle(self, entity: str, day: date, conversions: float) -> None:
        """Conversions attributed to ``day`` arrive late: the day's metrics change."""
        self.settled[(entity, day)] = conversions

    def _rows(self, resource: str, first: date, last: date) -> list[dict[str, Any]]:
        rows = []
        for day in self.days():
            if not first <= day <= last:
                continue
            for campaign in self.campaigns:
                base = {
                    "customer": {"resourceName": f"customers/{self.customer_id}", "id": self.customer_id},
                    "campaign": {
                        "resourceName": f"customers/{self.customer_id}/campaigns/{campaign}",
                        "id": campaign,
                        "name": f"Campaign {campaign}",
                        "status": "ENABLED",
                    },
                    "segments": {"date": day.isoformat()},
                }
                if resource == "campaign":
                    rows.append({**base, "metrics": self.metrics(campaign, day)})
                    continue
                for group in self.ad_groups(campaign):
                    ad_group = {
                        "resourceName": f"customers/{self.customer_id}/adGroups/{group}",
                        "id": group,
                        "name": f"Ad group {group}",
                        "status": "ENABLED",
                    }
                    rows.append({**base, "adGroup": ad_group, "metrics": self.metrics(group, day)})
        return rows

    # -- the wire ------------------------------------------------------------------------------

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        if request.method == "POST" and request.path == "/token":
            return self._token(request.body or {})
        path = f"/v0/customers/{self.customer_id}/searchAds360:searchStream"
        if request.method == "POST" and request.path == path:
            return self._search(request)
        return 404, {}, google_error(404, "NOT_FOUND", "Requested entity was not found.", {})

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if (form.get("client_id"), form.get("client_secret")) != self.client:
            return 401, {}, {"error": "invalid_client", "error_description": "Unauthorized"}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return (
                400,
                {},
                {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
            )
        token = f"ya29.{secrets.token_urlsafe(24)}"
        self.tokens[token] = time.monotonic() + self.token_lifetime
        self.issued.append(token)
        return 200, {}, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def _search(self, request: Recorded) -> tuple[int, dict[str, str], Any]:
        self.searches += 1
        if self.searches == self.crash_on_search:
            self.crash()
        if self.searches == self.revoke_tokens_on_search:
            self.tokens.clear()
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.tokens.get(token, 0.0) <= time.monotonic():
            request.note = "unauthenticated"
            message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
            return (
                401,
                {},
                google_error(401, "UNAUTHENTICATED", message, {"authenticationError": "OAUTH_TOKEN_INVALID"}),
            )
        if request.headers.get("login-customer-id", "") != self.login_customer_id:
            message = "The caller does not have permission"
            return (
                403,
                {},
                google_error(
                    403, "PERMISSION_DENIED", message, {"authorizationError": "USER_PERMISSION_DENIED"}
                ),
            )
        if self.denied:
            message = "The caller does not have permission"
            return (
                403,
                {},
                google_error(
                    403, "PERMISSION_DENIED", message, {"authorizationError": "USER_PERMISSION_DENIED"}
                ),
            )
        if self.quota_exhausted:
            message = "Resource has been exhausted (e.g. check quota)."
            return (
                429,
                {},
                google_error(429, "RESOURCE_EXHAUSTED", message, {"quotaError": "RESOURCE_EXHAUSTED"}),
            )
        query = str((request.body or {}).get("query", ""))
        try:
            resource, first, last = query_window(query)
        except ValueError:
            message = "Error in query: unexpected input."
            return 400, {}, google_error(400, "INVALID_ARGUMENT", message, {"queryError": "UNEXPECTED_INPUT"})
        if resource not in RESOURCES or first > last:
            message = f"Error in query: invalid resource or date range {resource}."
            return 400, {}, google_error(400, "INVALID_ARGUMENT", message, {"queryError": "INVALID_RESOURCE"})
        if self.failing_day is not None and first <= self.failing_day <= last:
            request.note = "internal"
            message = "Internal error encountered."
            return 500, {}, google_error(500, "INTERNAL", message, {"internalError": "INTERNAL_ERROR"})
        if self.search_delay:
            time.sleep(self.search_delay)
        fields = [f.strip() for f in QUERY.match(query.strip())["fields"].split(",")]  # type: ignore[index]
        mask = ",".join(".".join(camel(part) for part in f.split(".")) for f in fields)
        rows = [self._select(row, fields) for row in self._rows(resource, first, last)]
        request_id = f"req-{next(self._requests)}"
        batches = [
            {"results": rows[i : i + self.rows_per_batch], "fieldMask": mask, "requestId": request_id}
            for i in range(0, len(rows), self.rows_per_batch)
        ] or [{"fieldMask": mask, "requestId": request_id}]
        if self.stream_failing_day is not None and first <= self.stream_failing_day <= last:
            # The stream had begun (status 200, a first batch sent) when the server failed.
            request.note = "failed mid-stream"
            message = "Internal error encountered."
            failure = google_error(500, "INTERNAL", message, {"internalError": "INTERNAL_ERROR"})
            return 200, {"Content-Type": "application/json"}, [*batches[:1], failure]
        return 200, {"Content-Type": "application/json"}, batches

    @staticmethod
    def _select(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        selected: dict[str, Any] = {}
        for field in fields:
            resource, name = (camel(part) for part in field.split(".", 1))
            value = row.get(resource, {}).get(name)
            if value is not None:
                selected.setdefault(resource, {})[name] = value
        return selected
