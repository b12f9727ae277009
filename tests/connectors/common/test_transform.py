"""Pure value conversions: UTC instants, IDs as strings, nested values as stable JSON, exact decimals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from common.transform import boolean, decimal_str, flatten, id_str, json_str, snake_case, utc_datetime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-02T08:30:00Z", "2024-03-02T08:30:00+00:00"),
        ("2024-03-02T08:30:00.125+02:00", "2024-03-02T06:30:00.125000+00:00"),
        ("2024-03-02 08:30:00", "2024-03-02T08:30:00+00:00"),  # naive: taken as UTC
        ("2024-03-02", "2024-03-02T00:00:00+00:00"),
        (1709368200, "2024-03-02T08:30:00+00:00"),
        ("1709368200", "2024-03-02T08:30:00+00:00"),
        (datetime(2024, 3, 2, 8, 30, tzinfo=timezone(timedelta(hours=-5))), "2024-03-02T13:30:00+00:00"),
        (date(2024, 3, 2), "2024-03-02T00:00:00+00:00"),
        (None, None),
        ("", None),
        ("null", None),
    ],
)
def test_timestamps_become_utc_instants(value: object, expected: str | None) -> None:
    assert utc_datetime(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-40", True, [2024]])
def test_an_unreadable_timestamp_is_an_error_not_a_null(value: object) -> None:
    with pytest.raises(ValueError, match="not a timestamp"):
        utc_datetime(value)


def test_ids_are_strings() -> None:
    assert id_str(123) == "123"
    assert id_str(123.0) == "123"
    assert id_str(" 00042 ") == "00042"
    assert id_str(None) is None
    with pytest.raises(ValueError, match="identifier"):
        id_str(True)


def test_nested_values_are_stable_json() -> None:
    assert json_str({"b": [1, {"d": 1, "c": 2}], "a": "é"}) == '{"a":"é","b":[1,{"c":2,"d":1}]}'
    assert json_str(None) is None


def test_money_is_an_exact_decimal() -> None:
    assert decimal_str(25.5) == "25.5"
    assert decimal_str("0.10") == "0.10"
    assert decimal_str(1e-7) == "0.0000001"
    with pytest.raises(ValueError, match="finite"):
        decimal_str("NaN")


def test_flags_are_read_leniently() -> None:
    assert [boolean(v) for v in (True, "1", "yes", "FALSE", 0, None)] == [
        True,
        True,
        True,
        False,
        False,
        None,
    ]
    with pytest.raises(ValueError, match="boolean"):
        boolean("maybe")


def test_names_become_snake_case() -> None:
    assert snake_case("createDateTimeUtc") == "create_date_time_utc"
    assert snake_case("contactID") == "contact_id"
    assert snake_case("ID") == "id"
    assert snake_case("Gift Id") == "gift_id"


def test_flatten_converts_named_columns_and_serializes_the_rest() -> None:
    row = flatten(
        {"id": 7, "when": 0, "nested": {"x": 1}, "plain": 3.5, "amount": 1},
        ids=frozenset({"id"}),
        datetimes=frozenset({"when"}),
        decimals=frozenset({"amount"}),
    )
    assert row == {
        "id": "7",
        "when": datetime(1970, 1, 1, tzinfo=UTC).isoformat(),
        "nested": '{"x":1}',
        "plain": 3.5,
        "amount": "1",
    }
