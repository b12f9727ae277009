"""OnGage lists and contacts as warehouse rows. Pure: no I/O, no SDK.

IDs are strings, dates are UTC instants (OnGage gives Unix seconds or ``YYYY-MM-DD HH:MM:SS``
in UTC), empty CSV cells are NULL, and OnGage's system fields lose their ``ocx_`` prefix. Custom
list fields are kept under their own (snake_case) names as strings.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from common.transform import flatten, id_str, is_empty, snake_case, utc_datetime

LISTS = "lists"
CONTACTS = "contacts"

TABLES: list[dict[str, Any]] = [
    {
        "table": LISTS,
        "primary_key": ["id"],
        "columns": {
            "id": "STRING",
            "name": "STRING",
            "description": "STRING",
            "type": "STRING",
            "scope": "STRING",
            "last_count": "LONG",
            "last_active_count": "LONG",
            "unsubscribes": "LONG",
            "complaints": "LONG",
            "bounces": "LONG",
            "archive": "BOOLEAN",
            "default": "BOOLEAN",
            "account_id": "STRING",
            "created": "UTC_DATETIME",
            "modified": "UTC_DATETIME",
        },
    },
    {
        "table": CONTACTS,
        "primary_key": ["id", "list_id"],
        "columns": {
            "list_id": "STRING",
            "id": "STRING",
            "email": "STRING",
            "first_name": "STRING",
            "last_name": "STRING",
            "gender": "STRING",
            "address": "STRING",
            "city": "STRING",
            "state": "STRING",
            "zip_code": "STRING",
            "country": "STRING",
            "phone": "STRING",
            "language": "STRING",
            "ip": "STRING",
            "status": "STRING",
            "created_date": "UTC_DATETIME",
            "unsubscribe_date": "UTC_DATETIME",
            "resubscribe_date": "UTC_DATETIME",
            "bounce_date": "UTC_DATETIME",
            "complaint_date": "UTC_DATETIME",
            "import_id": "STRING",
        },
    },
]

_LIST_IDS = frozenset({"id", "account_id"})
_LIST_DATETIMES = frozenset({"created", "modified"})
_LIST_BOOLEANS = frozenset({"archive", "default"})
_LIST_COUNTS = ("last_count", "last_active_count", "unsubscribes", "complaints", "bounces")


def list_row(raw: dict[str, Any]) -> dict[str, Any]:
    """A list from ``/api/lists`` as a ``lists`` row."""
    row = flatten(raw, ids=_LIST_IDS, datetimes=_LIST_DATETIMES, booleans=_LIST_BOOLEANS)
    for column in _LIST_COUNTS:
        if column in row:
            row[column] = None if is_empty(row[column]) else int(row[column])
    return row


def contact_count(raw: dict[str, Any]) -> int:
    """How many contacts a list (from ``/api/lists``) holds, 0 when unknown."""
    value = raw.get("last_count")
    return 0 if value is None or is_empty(value) else int(value)


def parse_export(text: str) -> list[dict[str, str]]:
    """The rows of a contact search export (CSV with a header line)."""
    return list(csv.DictReader(io.StringIO(text)))


def contact_row(list_id: str, raw: dict[str, str]) -> dict[str, Any]:
    """A contact from a search export as a ``contacts`` row of ``list_id``.

    Raises ValueError when the row has no contact ID: such a row cannot be keyed.
    """
    row: dict[str, Any] = {"list_id": id_str(list_id)}
    for key, value in raw.items():
        if key is None:  # cells beyond the header: malformed line, nothing to name them by
            continue
        column = snake_case(key.strip())
        if column.startswith("ocx_"):
            column = column[len("ocx_") :]
        if column == "contact_id":
            column = "id"
        elif column == "id" and "ocx_contact_id" in raw:  # the contact's own ID wins over any other "id"
            continue
        if column in ("id", "import_id"):
            row[column] = id_str(value)
        elif column.endswith("_date"):
            row[column] = utc_datetime(value)
        else:
            row[column] = None if is_empty(value) else value
    if row.get("id") is None:
        raise ValueError("an exported contact has no ocx_contact_id")
    return row
