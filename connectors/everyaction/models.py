"""EveryAction export rows as warehouse rows. Pure: no I/O, no SDK.

Export files are CSV with NGP VAN's column names (``VanID``, ``FirstName``, ``DateCreated``...):
keys become snake_case, ``*_id`` columns are strings, ``date_*`` columns UTC instants, empty cells
NULL, everything else the text of the cell. ``ChangeTypeID`` says what changed; it is kept as
``change_type_id``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from common.transform import id_str, is_empty, snake_case, utc_datetime

CONTACTS = "contacts"
CHANGE_TYPE_COLUMN = "change_type_id"

TABLES: list[dict[str, Any]] = [
    {
        "table": CONTACTS,
        "primary_key": ["van_id"],
        "columns": {
            "van_id": "STRING",
            "change_type_id": "STRING",
            "date_created": "UTC_DATETIME",
            "date_modified": "UTC_DATETIME",
        },
    },
]


def parse_export(text: str) -> list[dict[str, str]]:
    """The rows of an export file (CSV with a header line)."""
    return list(csv.DictReader(io.StringIO(text)))


def row(raw: dict[str, str], key: str) -> dict[str, Any]:
    """An exported record as a row; raises ValueError when it has no ``key`` (it cannot be keyed)."""
    converted: dict[str, Any] = {}
    for name, value in raw.items():
        if name is None:  # cells beyond the header: a malformed line, nothing to name them by
            continue
        column = snake_case(name.strip())
        if column == "id" or column.endswith("_id"):
            converted[column] = id_str(value)
        elif column.startswith("date_"):
            converted[column] = utc_datetime(value)
        else:
            converted[column] = None if is_empty(value) else value
    if converted.get(key) is None:
        raise ValueError(f"an exported record has no {key}")
    return converted
