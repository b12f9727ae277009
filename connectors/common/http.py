"""One HTTP request to a source, answered with raw JSON (or text) or a typed error. No retries here.

A connector's ``api.py`` builds the URL, headers and body of each call and hands them to
:func:`request`; the sync layer decides what to do with the errors (:mod:`common.retry` retries
:class:`~common.errors.ServerBusyError`, :mod:`common.cursor` and :mod:`common.windows` shrink the
request on a :class:`~common.errors.TransientError`). Error messages describe the request by method
and URL and quote the start of the answer, all passed through :func:`common.logs.redact`: a
server may echo the request headers back in its error body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

import requests

from common.errors import (
    ConnectionFailedError,
    InvalidResponseError,
    PermanentError,
    RequestTimeoutError,
    ServerBusyError,
)
from common.logs import redact

# Statuses that can succeed when the same request is sent again later.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_BODY_EXCERPT = 300


def full_url(url: str, params: Mapping[str, Any] | None) -> str:
    """``url`` with its query string as recorded in errors (parameters in the order given)."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(list(params.items()))}"


def payload_text(body: Any) -> str | None:
    """The request body as compact JSON with sorted keys, as it is recorded in errors."""
    if body is None:
        return None
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    form_body: Mapping[str, str] | None = None,
    timeout: float,
    expect: str = "json",
    observe: Callable[[Mapping[str, str]], None] | None = None,
) -> Any:
    """Sends one request; returns the decoded JSON (``expect="json"``) or the body text (``expect="text"``).

    Raises :class:`RequestTimeoutError`, :class:`ConnectionFailedError`, :class:`ServerBusyError`
    (408/425/429/5xx, with the Retry-After), :class:`PermanentError` (any other status >= 400) or
    :class:`InvalidResponseError` (a body that is not the JSON promised). ``observe`` gets every
    answer's headers, errors included (a :class:`~common.rate_budget.RateBudget` reads its budget there).
    ``form_body`` is sent form-encoded (an OAuth token request) and, as it carries credentials, is
    never kept as the errors' payload.
    """
    shown = full_url(url, params)
    payload = payload_text(json_body)
    where = redact(f"{method} {shown}")
    try:
        response = session.request(
            method,
            url,
            headers=dict(headers or {}),
            params=list(params.items()) if params else None,
            json=json_body,
            data=dict(form_body) if form_body is not None else None,
            timeout=timeout,
        )
    except requests.Timeout as exc:
        raise RequestTimeoutError(
            f"{where}: no answer within {timeout:g}s", url=shown, payload=payload
        ) from exc
    except requests.ConnectionError as exc:
        raise ConnectionFailedError(
            f"{where}: connection failed ({type(exc).__name__})", url=shown, payload=payload
        ) from exc
    if observe is not None:
        observe(response.headers)
    status = response.status_code
    if status >= 400:
        excerpt = redact(response.text[:_BODY_EXCERPT].strip())
        message = f"{where}: HTTP {status}" + (f": {excerpt}" if excerpt else "")
        if status in RETRYABLE_STATUSES:
            raise ServerBusyError(
                message,
                status=status,
                url=shown,
                payload=payload,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        raise PermanentError(message, status=status, url=shown, payload=payload)
    if expect == "text":
        return response.text
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidResponseError(f"{where}: the answer is not JSON", url=shown, payload=payload) from exc
