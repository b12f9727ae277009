"""EveryAction export rows and requests: snake_case columns, string IDs, UTC instants, NULL for empty cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.connectors.support import load_connector

everyaction = load_connector("everyaction")


def test_an_exported_contact_becomes_a_keyed_row() -> None:
    (raw,) = everyaction.models.parse_export(
        "VanID,FirstName,LastName,DateCreated,ChangeTypeID\r\n"
        '1001,"Smith, Jr.",,2023-05-01T10:00:00-04:00,1\r\n'
    )
    row = everyaction.models.row(raw, "van_id")
    assert row == {
        "van_id": "1001",
        "first_name": "Smith, Jr.",
        "last_name": None,
        "date_created": "2023-05-01T14:00:00+00:00",
        "change_type_id": "1",
    }


def test_a_record_without_its_key_is_refused() -> None:
    with pytest.raises(ValueError, match="van_id"):
        everyaction.models.row({"VanID": "", "FirstName": "Ann"}, "van_id")


def test_an_unreadable_date_is_an_error_not_a_null() -> None:
    with pytest.raises(ValueError, match="someday"):
        everyaction.models.row({"VanID": "7", "DateCreated": "someday"}, "van_id")


def test_the_export_request_is_a_utc_window_of_whole_seconds() -> None:
    start = datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=timezone(timedelta(hours=2)))
    body = everyaction.api.EveryActionApi.export_body("Contacts", start, datetime(2024, 5, 2, tzinfo=UTC))
    assert body["resourceType"] == "Contacts"
    assert (body["dateChangedFrom"], body["dateChangedTo"]) == (
        "2024-05-01T10:00:00Z",
        "2024-05-02T00:00:00Z",
    )
    assert body["includeInactive"] is False


def test_bad_tuning_values_are_named_by_key() -> None:
    with pytest.raises(ValueError, match="job_timeout_seconds"):
        everyaction.sync.settings_from({"job_timeout_seconds": "soon"})
    with pytest.raises(ValueError, match="start_date"):
        everyaction.sync.settings_from({"start_date": "last spring"})
    assert everyaction.sync.settings_from({"start_date": "2024-03-01"}).start_date == datetime(
        2024, 3, 1, tzinfo=UTC
    )
