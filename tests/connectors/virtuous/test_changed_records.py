"""Records edited in Virtuous after their first sync arrive edited after the next one (``fivetran debug``).

One scenario, two runs: a first sync, then a contact and a gift are edited in the fake and a new
contact appears, then a second sync. The second sync re-reads the records modified since the first
one began (less the overlap window), so the edits land in the DuckDB warehouse, each record once,
and records modified before that window are not fetched again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.connectors.support import DebugProject, DebugRun
from tests.connectors.virtuous.fake_virtuous import FakeVirtuous, modified_at

TOKEN = "vt-Changes-Token-51be0c"
OVERLAP = timedelta(minutes=10)
EDITED_CONTACT, EDITED_GIFT, NEW_CONTACT = 17, 10_005, 400
# Modified shortly before the first sync (inside the overlap) and well before it (outside).
RECENT, OLD = 301, 302


def _contact(contact_id: int, modified: datetime | None = None) -> dict[str, Any]:
    contact: dict[str, Any] = {"id": contact_id, "contactType": "Individual", "name": f"Person {contact_id}"}
    if modified is not None:
        contact["modifiedDateTimeUtc"] = modified_at(modified)
    return contact


def _gift(gift_id: int) -> dict[str, Any]:
    return {"id": gift_id, "contactId": 1, "giftType": "Cash", "amount": 10, "currencyCode": "USD"}


@dataclass
class Scenario:
    fake: FakeVirtuous
    first: DebugRun
    first_state: dict[str, Any]
    second: DebugRun


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    before_first = datetime.now(UTC)
    contacts = [_contact(i) for i in range(1, 301)]
    contacts += [_contact(RECENT, before_first - timedelta(minutes=1))]
    contacts += [_contact(OLD, before_first - 2 * OVERLAP)]
    with FakeVirtuous(TOKEN, contacts, [_gift(i) for i in range(10_001, 10_051)]) as fake:
        configuration = {
            "bearer_token": TOKEN,
            "base_url": fake.url,
            "modified_overlap_seconds": str(int(OVERLAP.total_seconds())),
        }
        project = DebugProject(tmp_path_factory.mktemp("virtuous-changes"), "virtuous", configuration)
        first = project.run(fake)
        first_state = first.state()
        fake.edit("Contact", EDITED_CONTACT, {"name": "Renamed Person", "description": "moved to Ohio"})
        fake.edit("Gift", EDITED_GIFT, {"amount": 99.99})
        fake.add("Contact", [_contact(NEW_CONTACT, datetime.now(UTC))])
        second = project.run(fake)
    return Scenario(fake, first, first_state, second)


def _change_queries(run: DebugRun, entity: str) -> list[Any]:
    return [
        r
        for r in run.requests
        if FakeVirtuous.query_of(r)[0] == entity and FakeVirtuous.modified_since(r) is not None
    ]


def test_the_first_sync_reads_everything_once_and_starts_the_change_cursor(scenario: Scenario) -> None:
    assert scenario.first.returncode == 0, scenario.first.output[-3000:]
    assert scenario.first.upserts() == 302 + 50
    assert not _change_queries(scenario.first, "Contact")  # nothing was synced before: nothing to re-read
    since = datetime.fromisoformat(scenario.first_state["contacts_modified"]["since"])
    assert since <= datetime.now(UTC)
    assert scenario.first_state["contacts_modified"]["began"] is None


def test_edited_records_arrive_edited_after_the_second_sync(scenario: Scenario) -> None:
    assert scenario.second.returncode == 0, scenario.second.output[-3000:]
    contacts = scenario.second.rows("contacts")
    edited = next(row for row in contacts if row["id"] == str(EDITED_CONTACT))
    assert edited["name"] == "Renamed Person"
    assert edited["description"] == "moved to Ohio"
    gift = next(row for row in scenario.second.rows("gifts") if row["id"] == str(EDITED_GIFT))
    assert gift["amount"] == Decimal("99.99")
    ids = [row["id"] for row in contacts]
    assert len(ids) == len(set(ids)) == 302 + 1


def test_each_changed_or_new_record_is_emitted_once_and_unchanged_ones_are_not_fetched(
    scenario: Scenario,
) -> None:
    # The edited contact and gift, the contact modified inside the overlap window before the first
    # sync, and the new contact (read as new, not as changed). Nothing else.
    assert scenario.second.upserts() == 4
    ceilings = {
        condition["value"]
        for r in _change_queries(scenario.second, "Contact")
        for condition in r.body["groups"][0]["conditions"]
        if condition["operator"] == "LessThanOrEqual"
    }
    assert ceilings == {str(OLD)}  # changes are read up to the first sync's last ID: new ones come once


def test_changes_are_read_from_the_previous_start_less_the_overlap(scenario: Scenario) -> None:
    first_start = datetime.fromisoformat(scenario.first_state["contacts_modified"]["since"])
    bounds = {FakeVirtuous.modified_since(r) for r in _change_queries(scenario.second, "Contact")}
    assert bounds == {first_start - OVERLAP}
    assert {FakeVirtuous.modified_since(r) for r in _change_queries(scenario.second, "Gift")} == bounds
    second_start = datetime.fromisoformat(scenario.second.state()["contacts_modified"]["since"])
    assert second_start > first_start


def test_a_stream_synced_before_changes_were_tracked_is_read_once_more(tmp_path: Path) -> None:
    contacts = [_contact(i) for i in range(1, 121)]
    with FakeVirtuous(TOKEN, contacts, [_gift(10_001)]) as fake:
        project = DebugProject(tmp_path, "virtuous", {"bearer_token": TOKEN, "base_url": fake.url})
        first = project.run(fake)
        assert first.returncode == 0, first.output[-3000:]
        # The state an earlier version of the connector left: ID cursors only.
        state_file = project.project / "files" / "state.json"
        state = json.loads(state_file.read_text())
        state_file.write_text(json.dumps({"contacts": state["contacts"], "gifts": state["gifts"]}))
        fake.edit("Contact", 5, {"name": "Edited Long Ago"}, at=datetime(2020, 1, 1, tzinfo=UTC))
        second = project.run(fake)
    assert second.returncode == 0, second.output[-3000:]
    assert second.upserts() == 120 + 1
    assert next(r for r in second.rows("contacts") if r["id"] == "5")["name"] == "Edited Long Ago"
    assert second.state()["contacts_modified"]["since"] is not None


def test_a_crash_while_re_reading_changes_resumes_from_the_change_checkpoint(tmp_path: Path) -> None:
    contacts = [_contact(i) for i in range(1, 3001)]
    with FakeVirtuous(TOKEN, contacts, [_gift(10_001)]) as fake:
        fake.slow_take_above = 1000
        project = DebugProject(
            tmp_path, "virtuous", {"bearer_token": TOKEN, "base_url": fake.url, "parallel_requests": "1"}
        )
        assert project.run(fake).returncode == 0
        for contact_id in range(1, 2501):
            fake.edit("Contact", contact_id, {"name": f"Edited {contact_id}"})
        fake.crash_changes_after_id = 999  # the query for the second page (after 1000) crashes it
        crashed = project.run(fake, crash=True)
        crashed_state = crashed.state()
        fake.crash_changes_after_id = None
        resumed = project.run(fake)
    assert crashed.returncode != 0
    interrupted = crashed_state["contacts_modified"]
    assert interrupted["began"] is not None
    assert interrupted["last_id"] == "1000"
    assert interrupted["ceiling"] == "3000"
    assert resumed.returncode == 0, resumed.output[-3000:]
    changes = _change_queries(resumed, "Contact")
    assert FakeVirtuous.query_of(changes[0])[1] == 1000  # resumed after the checkpoint, not from the start
    assert {FakeVirtuous.modified_since(r) for r in changes} == {
        FakeVirtuous.modified_since(r) for r in _change_queries(crashed, "Contact")
    }
    assert resumed.upserts() == 1500
    names = {row["id"]: row["name"] for row in resumed.rows("contacts")}
    assert all(names[str(i)] == f"Edited {i}" for i in range(1, 2501))
    assert names["2501"] == "Person 2501"
    assert resumed.state()["contacts_modified"]["since"] == interrupted["began"]
