"""The ``errors`` table: what failed even at the smallest request size, with enough to replay it.

A row per request that still failed after the cursor shrank to a single record or the time window
to its minimum: the stream it belongs to, the URL and payload of the request (never its headers),
and the error message (credentials redacted). The row's ID is a hash of stream, URL and payload,
so the same failure found again by a later sync updates its row instead of adding one.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from common.logs import redact

TABLE = "errors"

SCHEMA: dict[str, Any] = {
    "table": TABLE,
    "primary_key": ["id"],
    "columns": {
        "id": "STRING",
        "stream": "STRING",
        "url": "STRING",
        "payload": "STRING",
        "message": "STRING",
        "failed_at": "UTC_DATETIME",
    },
}


def error_row(
    stream: str,
    *,
    url: str,
    payload: str | None,
    message: str,
    failed_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``errors`` row for one request that could not be read."""
    identity = "\x1f".join((stream, url, payload or ""))
    moment = failed_at or datetime.now(UTC)
    return {
        "id": hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32],
        "stream": stream,
        "url": redact(url),
        "payload": redact(payload) if payload is not None else None,
        "message": redact(message),
        "failed_at": moment.astimezone(UTC).isoformat(),
    }


def row_for(stream: str, error: BaseException, failed_at: datetime | None = None) -> dict[str, Any]:
    """The ``errors`` row for ``error`` (a :class:`~common.errors.SourceError` carries URL and payload)."""
    return error_row(
        stream,
        url=str(getattr(error, "url", "") or ""),
        payload=getattr(error, "payload", None),
        message=str(error) or type(error).__name__,
        failed_at=failed_at,
    )
