"""Times as the daemon writes and reads them: RFC 3339 in UTC with a ``Z``, in one place.

Statuses, lock files and logs show times to the second. Observations keep the microseconds the
clock gave (a preview's first-seen time decides its expiry and feeds the stack's fingerprint, so
rounding it now would change every fingerprint once). A time without a zone is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """``2026-11-21T12:00:00Z``: to the second."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_precise(moment: datetime) -> str:
    """``2026-11-21T12:00:00.250000Z``: to the microsecond the clock gave."""
    return utc(moment).isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC))


def parse(text: str) -> datetime:
    """An RFC 3339 time (``Z`` or an offset), as an aware datetime."""
    return utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
