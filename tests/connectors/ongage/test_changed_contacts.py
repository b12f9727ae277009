"""Contacts that unsubscribe or bounce after their first sync arrive changed after the next one (``fivetran debug``).

One scenario, three runs against the fake OnGage: a first sync of two lists; then one contact
unsubscribes and another bounces, and a second sync must carry both changes into the DuckDB
warehouse, each contact once, without fetching the contacts that did not change; then a third
sync from the state an earlier version of the connector left (no change cursors) reads every
status change of the lists' history once.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.connectors.ongage.fake_ongage import FakeOnGage
from tests.connectors.support import DebugProject, DebugRun

CREDENTIALS = {"x_username": "og-changes", "x_password": "og-Ch4nges-pw!", "x_account_code": "ACC-1207"}
DAY = 24 * 60 * 60
OVERLAP = timedelta(minutes=10)
CHANGE_DATES = {"ocx_unsubscribe_date", "ocx_resubscribe_date", "ocx_bounce_date", "ocx_complaint_date"}
UNSUBSCRIBED, BOUNCED, LONG_AGO = (2_000_007, "202"), (3_000_004, "203"), (2_000_001, "202")


def _contacts(rng: random.Random, first_id: int, count: int, start: int, end: int) -> list[dict[str, Any]]:
    return [
        {
            "id": first_id + n,
            "email": f"person{first_id + n}@example.org",
            "first_name": f"Person {first_id + n}",
            "created": rng.randrange(start, end),
        }
        for n in range(count)
    ]


@dataclass
class Scenario:
    fake: FakeOnGage
    first: DebugRun
    first_state: dict[str, Any]
    changed_at: int
    second: DebugRun
    second_state: dict[str, Any]
    second_contacts: list[dict[str, Any]]
    upgraded: DebugRun


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    rng = random.Random(11)
    now = int(time.time())
    contacts = {
        "202": _contacts(rng, 2_000_000, 30, now - 60 * DAY, now - 3600),
        "203": _contacts(rng, 3_000_000, 20, now - 30 * DAY, now - 3600),
    }
    lists = [
        {"id": 202, "name": "Donors", "last_count": 30, "created": now - 60 * DAY},
        {"id": 203, "name": "Volunteers", "last_count": 20, "created": now - 30 * DAY},
    ]
    with FakeOnGage(CREDENTIALS, lists, contacts) as fake:
        # Unsubscribed long before the first sync: read then, never again.
        fake.change_status(LONG_AGO[1], LONG_AGO[0], "unsubscribe", now - 10 * DAY)
        configuration = {
            **CREDENTIALS,
            "base_url": fake.url,
            "search_poll_seconds": "0.02",
            "modified_overlap_seconds": str(int(OVERLAP.total_seconds())),
        }
        project = DebugProject(tmp_path_factory.mktemp("ongage-changes"), "ongage", configuration)
        first = project.run(fake)
        first_state = first.state()
        changed_at = int(time.time())
        fake.change_status(UNSUBSCRIBED[1], UNSUBSCRIBED[0], "unsubscribe", changed_at)
        fake.change_status(BOUNCED[1], BOUNCED[0], "bounce", changed_at)
        time.sleep(1.1)  # the changes are stamped before the second sync's start (whole seconds)
        second = project.run(fake)
        # The runs share the warehouse and the state file: keep what this one left.
        second_state, second_contacts = second.state(), second.rows("contacts")
        # The state an earlier version of the connector left: creation cursors only.
        state_file = project.project / "files" / "state.json"
        state = json.loads(state_file.read_text())
        for entry in state["lists"].values():
            del entry["changed"]
        state_file.write_text(json.dumps(state))
        upgraded = project.run(fake)
    return Scenario(fake, first, first_state, changed_at, second, second_state, second_contacts, upgraded)


def _change_searches(run: DebugRun) -> list[tuple[str, str, tuple[int | None, int | None]]]:
    """(list, date field, window) of every search the run started for changed contacts."""
    return [
        (r.path.split("/")[1], FakeOnGage.date_field_of(r.body), FakeOnGage.window_of(r.body))
        for r in run.requests
        if r.method == "POST" and FakeOnGage.date_field_of(r.body) != "ocx_created_date"
    ]


def _row(rows: list[dict[str, Any]], key: tuple[int, str]) -> dict[str, Any]:
    return next(r for r in rows if (r["id"], r["list_id"]) == (str(key[0]), key[1]))


def test_the_first_sync_reads_every_contact_and_no_changes(scenario: Scenario) -> None:
    assert scenario.first.returncode == 0, scenario.first.output[-3000:]
    assert scenario.first.upserts() == 30 + 20 + 2
    assert _change_searches(scenario.first) == []
    long_ago = _row(scenario.first.rows("contacts"), LONG_AGO)
    assert long_ago["status"] == "Unsubscribed"  # inactive contacts are read too


def test_unsubscribes_and_bounces_arrive_after_the_second_sync(scenario: Scenario) -> None:
    assert scenario.second.returncode == 0, scenario.second.output[-3000:]
    unsubscribed = _row(scenario.second_contacts, UNSUBSCRIBED)
    assert unsubscribed["status"] == "Unsubscribed"
    assert unsubscribed["unsubscribe_date"] == datetime.fromtimestamp(scenario.changed_at, UTC)
    bounced = _row(scenario.second_contacts, BOUNCED)
    assert bounced["status"] == "Bounced"
    assert bounced["bounce_date"] == datetime.fromtimestamp(scenario.changed_at, UTC)
    keys = [(r["id"], r["list_id"]) for r in scenario.second_contacts]
    assert len(keys) == len(set(keys)) == 50


def test_only_the_changed_contacts_are_fetched_again(scenario: Scenario) -> None:
    # The unsubscribed and the bounced contact, and the two list rows: nothing else.
    assert scenario.second.upserts() == 2 + 2


def test_each_change_date_is_searched_from_the_previous_start_less_the_overlap(scenario: Scenario) -> None:
    first_start = {
        list_id: {field: datetime.fromisoformat(moment) for field, moment in entry["changed"].items()}
        for list_id, entry in scenario.first_state["lists"].items()
    }
    searches = _change_searches(scenario.second)
    assert {(list_id, field) for list_id, field, _ in searches} == {
        (list_id, field) for list_id in ("202", "203") for field in CHANGE_DATES
    }
    second_state = scenario.second_state["lists"]
    for list_id, field, (start, end) in searches:
        assert start == int((first_start[list_id][field] - OVERLAP).timestamp())
        assert end == int(datetime.fromisoformat(second_state[list_id]["changed"][field]).timestamp())
        assert end > scenario.changed_at


def test_lists_synced_before_changes_were_tracked_read_every_change_once(scenario: Scenario) -> None:
    assert scenario.upgraded.returncode == 0, scenario.upgraded.output[-3000:]
    # Every contact with a status change in its history (three), and the two list rows.
    assert scenario.upgraded.upserts() == 3 + 2
    assert all(
        start is not None and start < scenario.changed_at - 5 * DAY
        for *_, (start, _) in _change_searches(scenario.upgraded)
    )
