"""Pure value conversions shared by the connectors' ``models.py``.

Warehouse conventions: every datetime is a UTC instant (``UTC_DATETIME``, written as ISO 8601 with
``+00:00``), every identifier is a string (numeric IDs overflow or lose leading zeros otherwise),
and nested objects and lists are JSON strings (not normalized into child tables).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

_EMPTY = ("", "null", "None")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def is_empty(value: Any) -> bool:
    """None, or a string the source uses for "no value"."""
    return value is None or (isinstance(value, str) and value.strip() in _EMPTY)


def id_str(value: Any) -> str | None:
    """An identifier as a string: ``123`` and ``123.0`` become ``"123"``; empty becomes None."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an identifier")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def utc_datetime(value: Any) -> str | None:
    """A timestamp as an ISO 8601 UTC string, or None.

    Accepts datetimes (naive ones are taken as UTC), ISO strings with or without an offset or a
    ``Z``, ``YYYY-MM-DD HH:MM:SS``, plain dates, and Unix seconds (numbers or digit strings).
    Raises ValueError for anything else: a date that cannot be read is a bug to see, not a NULL.
    """
    if is_empty(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a timestamp")
    if isinstance(value, (int, float)):
        moment = datetime.fromtimestamp(float(value), tz=UTC)
    elif isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            moment = datetime.fromtimestamp(float(text), tz=UTC)
        else:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"{value!r} is not a timestamp") from None
    else:
        raise ValueError(f"{value!r} is not a timestamp")
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat()


def json_str(value: Any) -> str | None:
    """A nested value as compact JSON with sorted keys (stable across syncs), or None."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decimal_str(value: Any) -> str | None:
    """A money amount as an exact decimal string (never through float), or None."""
    if is_empty(value):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return format(amount, "f")


def boolean(value: Any) -> bool | None:
    """A flag from ``true``/``false``, ``1``/``0``, ``yes``/``no`` (any case), or None."""
    if is_empty(value):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y", "t"):
        return True
    if text in ("false", "0", "no", "n", "f"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def snake_case(name: str) -> str:
    """``createDateTimeUtc`` -> ``create_date_time_utc``; ``ID`` stays ``id``."""
    return _CAMEL_BOUNDARY.sub("_", name.replace("-", "_").replace(" ", "_")).lower()


def flatten(
    raw: dict[str, Any],
    *,
    ids: frozenset[str] = frozenset(),
    datetimes: frozenset[str] = frozenset(),
    decimals: frozenset[str] = frozenset(),
    booleans: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """One source object as a row: snake_case keys; the named (snake_case) columns converted, other
    nested values as JSON strings, other scalars as they are."""
    row: dict[str, Any] = {}
    for key, value in raw.items():
        column = snake_case(key)
        if column in ids:
            row[column] = id_str(value)
        elif column in datetimes:
            row[column] = utc_datetime(value)
        elif column in decimals:
            row[column] = decimal_str(value)
        elif column in booleans:
            row[column] = boolean(value)
        elif isinstance(value, (dict, list)):
            row[column] = json_str(value)
        else:
            row[column] = value
    return row
