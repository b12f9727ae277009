"""The error family every connector raises and branches on.

The sync layer needs one decision per failure: can it succeed later, or with a smaller request
(:class:`TransientError`: timeouts, rate limits, server errors, a search that never finished), or
will it fail the same way however often it is retried (:class:`PermanentError`: bad credentials,
a malformed request)? Transient failures are retried and shrink the request; permanent ones end
the sync, so Fivetran shows the error instead of a sync that quietly skipped data.

Each error carries the request that failed (``url`` and ``payload``) so that what still fails at
the smallest size can be written to the ``errors`` table.
"""

from __future__ import annotations


class SourceError(Exception):
    """A request to the source failed. ``url`` and ``payload`` describe the request (never its headers)."""

    def __init__(self, message: str, *, url: str = "", payload: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.url = url
        self.payload = payload


class TransientError(SourceError):
    """May succeed later or with a smaller request: retried, then the request shrinks.

    ``shrinkable`` says whether asking for less can help. A timeout or a 500 on a large page can
    be the size of the request or one bad record; a refused connection or a 429/503 is the source
    as a whole, and shrinking (or stepping over records) would only turn an outage into data loss.
    """

    shrinkable = True


class RequestTimeoutError(TransientError):
    """The source did not answer in time: for a query this usually means the query is too large."""


class ConnectionFailedError(TransientError):
    """The connection failed or was reset before an answer arrived."""

    shrinkable = False


class ServerBusyError(TransientError):
    """HTTP 408, 429 or 5xx: retried with backoff; ``retry_after`` is the server's Retry-After in seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        url: str = "",
        payload: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url, payload=payload)
        self.status = status
        self.retry_after = retry_after
        # Rate limited or unavailable: the whole source, whatever the size of the request.
        self.shrinkable = status not in (429, 503)


class InvalidResponseError(TransientError):
    """The answer could not be read (truncated or not JSON): usually a proxy or a cut connection."""


class PermanentError(SourceError):
    """Fails the same way however often it is retried (HTTP 400, 401, 403, 404, ...): ends the sync."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "", payload: str | None = None):
        super().__init__(message, url=url, payload=payload)
        self.status = status


class ConfigurationError(ValueError):
    """The connector configuration is missing a key or holds a value of the wrong form."""
