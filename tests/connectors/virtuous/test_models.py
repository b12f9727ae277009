"""Virtuous rows: IDs as strings, UTC instants, exact money, nested values as JSON; and the query shape."""

from __future__ import annotations

import json

import pytest

from tests.connectors.support import load_connector

virtuous = load_connector("virtuous")


def test_a_contact_row_follows_the_warehouse_conventions() -> None:
    row = virtuous.models.contact_row(
        {
            "id": 42,
            "contactType": "Household",
            "mergedIntoContactId": 7,
            "address": {"city": "Springfield"},
            "contactIndividuals": [{"id": 1, "firstName": "Ann"}],
            "lastGiftDate": "2024-01-31",
            "createDateTimeUtc": "2024-03-01T12:00:00Z",
            "isPrivate": False,
        }
    )
    assert row == {
        "id": "42",
        "contact_type": "Household",
        "merged_into_contact_id": "7",
        "address": '{"city":"Springfield"}',
        "contact_individuals": '[{"firstName":"Ann","id":1}]',
        "last_gift_date": "2024-01-31T00:00:00+00:00",
        "create_date_time_utc": "2024-03-01T12:00:00+00:00",
        "is_private": False,
    }


def test_a_gift_amount_is_an_exact_decimal_and_its_references_are_strings() -> None:
    row = virtuous.models.gift_row({"id": 9, "contactId": 42, "transactionId": 1234567890123, "amount": 0.1})
    assert row == {"id": "9", "contact_id": "42", "transaction_id": "1234567890123", "amount": "0.1"}


def test_every_declared_table_has_an_id_key_and_utc_dates() -> None:
    for table in virtuous.models.TABLES:
        assert table["primary_key"] == ["id"]
        assert all(
            kind == "UTC_DATETIME" for column, kind in table["columns"].items() if column.endswith("_utc")
        )


def test_the_query_filters_and_sorts_by_id() -> None:
    api = virtuous.api.VirtuousApi("https://example.org", "token", timeout=1)
    assert api.query_body("Contact", None) == {"sortBy": "Contact Id", "descending": False}
    body = api.query_body("Gift", "100")
    assert body["sortBy"] == "Gift Id"
    assert body["groups"] == [
        {"conditions": [{"parameter": "Gift Id", "operator": "GreaterThan", "value": "100"}]}
    ]
    assert "token" not in json.dumps(body)


def test_take_is_capped_at_one_thousand() -> None:
    api = virtuous.api.VirtuousApi("https://example.org", "token", timeout=1)
    with pytest.raises(ValueError, match="take"):
        api.query("Contact", after_id=None, skip=0, take=1001)


def test_parallel_requests_are_capped_at_eight() -> None:
    assert virtuous.sync.settings_from({}).takes.parallel == 8
    with pytest.raises(ValueError, match="at most 8"):
        virtuous.sync.settings_from({"parallel_requests": "16"})
