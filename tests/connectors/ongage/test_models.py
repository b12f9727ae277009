"""OnGage rows and list discovery: IDs as strings, UTC instants, NULL for empty cells, ``ocx_`` prefixes dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from common.output import Output

from tests.connectors.support import load_connector

ongage = load_connector("ongage")


def test_a_list_row_has_string_ids_integer_counts_and_utc_dates() -> None:
    row = ongage.models.list_row(
        {
            "id": 101,
            "name": "News",
            "last_count": "250000",
            "archive": "0",
            "default": True,
            "created": 1700000000,
        }
    )
    assert row == {
        "id": "101",
        "name": "News",
        "last_count": 250000,
        "archive": False,
        "default": True,
        "created": "2023-11-14T22:13:20+00:00",
    }


def test_an_exported_contact_becomes_a_row_of_its_list() -> None:
    (raw,) = ongage.models.parse_export(
        "ocx_contact_id,email,first_name,last_name,ocx_status,ocx_created_date,Favorite Color\n"
        "123456789012,a@example.org,Ann,,Active,2024-03-02 08:30:00,red\n"
    )
    assert ongage.models.contact_row("101", raw) == {
        "list_id": "101",
        "id": "123456789012",
        "email": "a@example.org",
        "first_name": "Ann",
        "last_name": None,
        "status": "Active",
        "created_date": "2024-03-02T08:30:00+00:00",
        "favorite_color": "red",
    }


def test_an_exported_contact_without_an_id_is_rejected() -> None:
    with pytest.raises(ValueError, match="ocx_contact_id"):
        ongage.models.contact_row("101", {"email": "a@example.org"})


def test_the_search_body_is_a_half_open_window_and_deterministic() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 15, tzinfo=UTC)
    body = ongage.api.OnGageApi.search_body("101", start, end)
    dates = [c for c in body["filters"]["criteria"] if c["field_name"] == "ocx_created_date"]
    assert [(c["operator"], c["operand"]) for c in dates] == [(">=", [1704067200]), ("<", [1705276800])]
    assert ongage.api.OnGageApi.search_body("101", start, end) == body


def test_a_status_change_search_filters_on_that_date_only() -> None:
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 15, tzinfo=UTC)
    body = ongage.api.OnGageApi.search_body("101", start, end, date_field="ocx_bounce_date")
    dates = [c for c in body["filters"]["criteria"] if c["type"] == "date_absolute"]
    assert {c["field_name"] for c in dates} == {"ocx_bounce_date"}
    assert [(c["operator"], c["operand"]) for c in dates] == [(">=", [1704067200]), ("<", [1705276800])]
    assert body["combined_as_and"] is True
    assert body["title"] != ongage.api.OnGageApi.search_body("101", start, end)["title"]


class Recorder(Output):
    def __init__(self) -> None:
        self.rows: list[tuple[str, dict[str, Any]]] = []
        self.states: list[dict[str, Any]] = []

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        self.rows.append((table, data))

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.states.append(state)


class ListsApi:
    """Just enough of the API for list discovery: pages of lists."""

    def __init__(self, lists: list[dict[str, Any]]) -> None:
        self._lists = lists

    def lists(self, *, offset: int, limit: int) -> dict[str, Any]:
        return {"payload": self._lists[offset : offset + limit]}


def _api(lists: list[dict[str, Any]]) -> Any:
    return ListsApi(lists)


def test_lists_are_discovered_on_the_first_sync_and_new_ones_added_later() -> None:
    settings = ongage.sync.Settings()
    found = [{"id": i, "name": f"L{i}"} for i in range(1, 151)]  # two pages of 100
    state: dict[str, Any] = {}
    out = Recorder()
    end = datetime(2024, 6, 1, tzinfo=UTC)
    chosen = ongage.sync.discover_lists(_api(found), state, out, settings, ongage.sync.Clock(), end=end)
    assert [raw["id"] for raw in chosen] == list(range(1, 151))
    assert set(state["lists"]) == {str(i) for i in range(1, 151)}
    assert [t for t, _ in out.rows].count("lists") == 150
    state["lists"]["1"]["cursor"] = "2024-01-01T00:00:00+00:00"
    ongage.sync.discover_lists(
        _api([*found, {"id": 151}]), state, Recorder(), settings, ongage.sync.Clock(), end=end
    )
    # A new list's contacts are read as they are now: status changes count from this sync's start.
    changed = dict.fromkeys(ongage.api.CHANGE_DATES, end.isoformat())
    assert state["lists"]["151"] == {"cursor": None, "changed": changed}
    assert state["lists"]["1"]["cursor"] == "2024-01-01T00:00:00+00:00"  # known lists keep their cursor


def test_list_ids_restrict_the_lists_synced() -> None:
    settings = ongage.sync.settings_from({"list_ids": "3, 1"})
    chosen = ongage.sync.discover_lists(
        _api([{"id": i} for i in range(1, 5)]),
        {},
        Recorder(),
        settings,
        ongage.sync.Clock(),
        end=datetime(2024, 6, 1, tzinfo=UTC),
    )
    assert [raw["id"] for raw in chosen] == [1, 3]
