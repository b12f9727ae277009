"""The errors table row: identifies the failed request, survives being found again, carries no credential."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from common.errors import ServerBusyError
from common.errors_table import SCHEMA, TABLE, row_for
from common.logs import setup_logging


def test_a_row_records_url_payload_and_message() -> None:
    error = ServerBusyError(
        "POST /q: HTTP 500", status=500, url="https://x/q?skip=0&take=1", payload='{"a":1}'
    )
    row = row_for("contacts", error, failed_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert set(row) == set(SCHEMA["columns"])
    assert TABLE == SCHEMA["table"] == "errors"
    assert row["stream"] == "contacts"
    assert row["url"] == "https://x/q?skip=0&take=1"
    assert row["payload"] == '{"a":1}'
    assert row["message"] == "POST /q: HTTP 500"
    assert row["failed_at"] == "2024-01-01T00:00:00+00:00"


def test_the_same_failure_found_again_keeps_its_row() -> None:
    first = row_for("gifts", ServerBusyError("HTTP 500", status=500, url="u", payload="p"))
    again = row_for("gifts", ServerBusyError("HTTP 502", status=502, url="u", payload="p"))
    other = row_for("gifts", ServerBusyError("HTTP 500", status=500, url="u", payload="q"))
    assert first["id"] == again["id"] != other["id"]


def test_credentials_never_reach_the_table() -> None:
    setup_logging({"bearer_token": "tok-1234567890"}, handler=logging.NullHandler())
    error = ServerBusyError(
        "HTTP 500: echo Authorization: Bearer tok-1234567890",
        status=500,
        url="https://x/q?token=tok-1234567890",
        payload='{"password": "tok-1234567890"}',
    )
    row = row_for("contacts", error)
    assert "tok-1234567890" not in str(row)
