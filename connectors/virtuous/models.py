"""Virtuous records as warehouse rows. Pure: no I/O, no SDK, the same input always gives the same row.

Keys become snake_case; IDs (``id`` and every ``*_id``) are strings; dates (``*_date``,
``*_date_time_utc``, ...) are UTC instants; money amounts are exact decimals; nested objects and
lists (addresses, designations, custom fields) are JSON strings.
"""

from __future__ import annotations

from typing import Any

from common.transform import flatten, snake_case

CONTACTS = "contacts"
GIFTS = "gifts"

_DATETIME_SUFFIXES = ("_date", "_date_utc", "_date_time", "_date_time_utc")
_GIFT_DECIMALS = frozenset({"amount"})
_MONEY = {"type": "DECIMAL", "precision": 18, "scale": 2}

TABLES: list[dict[str, Any]] = [
    {
        "table": CONTACTS,
        "primary_key": ["id"],
        "columns": {
            "id": "STRING",
            "contact_type": "STRING",
            "name": "STRING",
            "informal_name": "STRING",
            "description": "STRING",
            "website": "STRING",
            "address": "STRING",
            "merged_into_contact_id": "STRING",
            "contact_individuals": "STRING",
            "custom_fields": "STRING",
            "last_gift_date": "UTC_DATETIME",
            "create_date_time_utc": "UTC_DATETIME",
            "modified_date_time_utc": "UTC_DATETIME",
        },
    },
    {
        "table": GIFTS,
        "primary_key": ["id"],
        "columns": {
            "id": "STRING",
            "contact_id": "STRING",
            "transaction_source": "STRING",
            "transaction_id": "STRING",
            "gift_type": "STRING",
            "gift_date": "UTC_DATETIME",
            "amount": _MONEY,
            "currency_code": "STRING",
            "segment_id": "STRING",
            "gift_designations": "STRING",
            "custom_fields": "STRING",
            "create_date_time_utc": "UTC_DATETIME",
            "modified_date_time_utc": "UTC_DATETIME",
        },
    },
]


def _row(raw: dict[str, Any], decimals: frozenset[str] = frozenset()) -> dict[str, Any]:
    columns = {snake_case(key) for key in raw}
    return flatten(
        raw,
        ids=frozenset(c for c in columns if c == "id" or c.endswith("_id")),
        datetimes=frozenset(c for c in columns if c.endswith(_DATETIME_SUFFIXES)),
        decimals=decimals,
    )


def contact_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A contact from ``/api/Contact/Query`` as a ``contacts`` row."""
    return _row(raw)


def gift_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A gift from ``/api/Gift/Query`` as a ``gifts`` row."""
    return _row(raw, _GIFT_DECIMALS)
