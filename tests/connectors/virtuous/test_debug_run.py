"""The Virtuous connector under the SDK's real local runner (``fivetran debug``) against a fake Virtuous API.

One scenario, three runs (module fixture, as each run starts a Python process): a first sync that
the fake crashes mid-way through contacts, a rerun that must resume from the checkpoint, and an
incremental sync after five new contacts appear. On the way the fake makes large takes time out,
answers 429 with Retry-After, throws transient 500s, and has one contact that cannot be read at
all. Each test asserts one thing a user relies on, from the DuckDB warehouse, the state file, the
log and the fake's request log.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.common.archive import build_connector_package
from tests.connectors.support import CONNECTORS, SHARED, DebugProject, DebugRun
from tests.connectors.virtuous.fake_virtuous import FakeVirtuous

TOKEN = "vt-S3cret-Token-4f1c9a77e2"


def _contact(contact_id: int) -> dict[str, Any]:
    return {
        "id": contact_id,
        "contactType": "Household",
        "name": f"Household {contact_id}",
        "address": {"address1": f"{contact_id} Main St", "city": "Springfield", "postal": "62701"},
        "createDateTimeUtc": "2024-03-01T12:00:00Z",
        "modifiedDateTimeUtc": "2024-03-02T08:30:00.125+02:00",
        "customFields": [{"name": "Tier", "value": "Gold"}],
    }


def _gift(gift_id: int, contact_id: int) -> dict[str, Any]:
    return {
        "id": gift_id,
        "contactId": contact_id,
        "giftType": "Cash",
        "giftDate": "2024-05-01T00:00:00",
        "amount": 25.5,
        "currencyCode": "USD",
        "giftDesignations": [{"projectId": 7, "amountDesignated": 25.5}],
    }


@dataclass
class Scenario:
    fake: FakeVirtuous
    contact_ids: list[int]
    gift_ids: list[int]
    poison: int
    new_ids: list[int]
    crashed: DebugRun
    crashed_state: dict[str, Any]
    crashed_contacts: list[dict[str, Any]]
    resumed: DebugRun
    resumed_tables: dict[str, list[dict[str, Any]]]
    incremental: DebugRun


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    rng = random.Random(8)
    contact_ids = sorted(rng.sample(range(1, 6000), 1200))
    gift_ids = list(range(10_001, 10_301))
    poison = contact_ids[500]
    with FakeVirtuous(
        TOKEN, [_contact(i) for i in contact_ids], [_gift(g, rng.choice(contact_ids)) for g in gift_ids]
    ) as fake:
        fake.slow_take_above = 250
        fake.slow_seconds = 1.5
        fake.rate_limited = {3}
        fake.flaky = {12, 40}
        fake.poison = {poison}
        fake.crash_after_id = contact_ids[900]
        configuration = {
            "bearer_token": TOKEN,
            "base_url": fake.url,
            "parallel_requests": "8",
            "request_timeout_seconds": "0.5",
            "max_attempts": "3",
            "backoff_base_seconds": "0.01",
            "backoff_max_seconds": "0.05",
        }
        project = DebugProject(tmp_path_factory.mktemp("virtuous"), "virtuous", configuration)
        crashed = project.run(fake, crash=True)
        crashed_state = crashed.state()
        crashed_contacts = crashed.rows("contacts")
        fake.crash_after_id = None
        resumed = project.run(fake)
        # The warehouse is shared by the runs: take what this run left before the next one adds to it.
        resumed_tables = {table: resumed.rows(table) for table in ("contacts", "gifts", "errors")}
        new_ids = [contact_ids[-1] + n for n in range(1, 6)]
        fake.add("Contact", [_contact(i) for i in new_ids])
        incremental = project.run(fake)
    return Scenario(
        fake,
        contact_ids,
        gift_ids,
        poison,
        new_ids,
        crashed,
        crashed_state,
        crashed_contacts,
        resumed,
        resumed_tables,
        incremental,
    )


def _contact_queries(run: DebugRun) -> list[tuple[str, int | None, int, int]]:
    """The run's queries for new contacts (not those re-reading changed ones)."""
    return [
        FakeVirtuous.query_of(r)
        for r in run.requests
        if FakeVirtuous.query_of(r)[0] == "Contact" and FakeVirtuous.modified_since(r) is None
    ]


def test_a_crash_mid_sync_leaves_exactly_the_checkpointed_records(scenario: Scenario) -> None:
    assert scenario.crashed.returncode != 0, scenario.crashed.output[-2000:]
    cursor = scenario.crashed_state["contacts"]
    synced = sorted(int(row["id"]) for row in scenario.crashed_contacts)
    assert 0 < len(synced) < len(scenario.contact_ids)
    assert len(synced) == cursor["total_synced"]
    assert str(max(synced)) == cursor["last_id"]


def test_the_rerun_resumes_from_the_checkpoint(scenario: Scenario) -> None:
    assert scenario.resumed.returncode == 0, scenario.resumed.output[-3000:]
    checkpoint = int(scenario.crashed_state["contacts"]["last_id"])
    queries = _contact_queries(scenario.resumed)
    assert queries[0][1] == checkpoint
    assert all(after is not None and after >= checkpoint for _, after, _, _ in queries)
    already = scenario.crashed_state["contacts"]["total_synced"]
    expected = (len(scenario.contact_ids) - 1 - already) + len(scenario.gift_ids)
    assert scenario.resumed.upserts() == expected


def test_every_record_lands_exactly_once(scenario: Scenario) -> None:
    contacts = [row["id"] for row in scenario.resumed_tables["contacts"]]
    gifts = [row["id"] for row in scenario.resumed_tables["gifts"]]
    assert len(contacts) == len(set(contacts))
    assert set(contacts) == {str(i) for i in scenario.contact_ids if i != scenario.poison}
    assert sorted(gifts) == sorted(str(i) for i in scenario.gift_ids)


def test_large_takes_time_out_and_the_take_shrinks_to_one(scenario: Scenario) -> None:
    takes = []
    for _, _, _, take in _contact_queries(scenario.crashed):
        if take not in takes:
            takes.append(take)
    assert takes == [1000, 500, 250, 50, 10, 1], _contact_queries(scenario.crashed)[:60]
    first_round = [q for q in _contact_queries(scenario.crashed) if q[3] == 1000 and q[1] is None]
    assert sorted({skip for _, _, skip, _ in first_round}) == [n * 1000 for n in range(8)]


def test_the_record_that_fails_alone_is_in_the_errors_table(scenario: Scenario) -> None:
    errors = scenario.resumed_tables["errors"]
    assert len(errors) == 1
    error = errors[0]
    before_poison = max(i for i in scenario.contact_ids if i < scenario.poison)
    assert error["stream"] == "contacts"
    assert error["url"] == f"{scenario.fake.url}/api/Contact/Query?skip=0&take=1"
    condition = json.loads(error["payload"])["groups"][0]["conditions"][0]
    assert condition == {"operator": "GreaterThan", "parameter": "Contact Id", "value": str(before_poison)}
    assert "HTTP 500" in error["message"]


def test_retry_after_is_honoured(scenario: Scenario) -> None:
    requests = scenario.crashed.requests
    limited = next(r for r in requests if r.status == 429)
    again = next(
        r
        for r in requests
        if r.at > limited.at and FakeVirtuous.query_of(r) == FakeVirtuous.query_of(limited)
    )
    assert again.at - limited.at >= 0.95


def test_transient_server_errors_are_retried_until_they_succeed(scenario: Scenario) -> None:
    requests = scenario.crashed.requests
    flaky = [r for r in requests if r.note == "flaky"]
    assert flaky, "the fake injected no transient 500"
    for failed in flaky:
        query = FakeVirtuous.query_of(failed)
        retries = [r for r in requests if r.at > failed.at and FakeVirtuous.query_of(r) == query]
        assert retries, f"{query} was not retried"
        assert retries[0].at - failed.at < 0.5  # backoff, capped at 0.05s here: no waiting for a new round


def test_no_credential_appears_in_any_log_line_or_table(scenario: Scenario) -> None:
    runs = (scenario.crashed, scenario.resumed, scenario.incremental)
    for run in runs:
        assert TOKEN not in run.output
    # The fake echoed the Authorization header in its 500 bodies: it reached the log, redacted.
    assert "Authorization: [redacted]" in scenario.crashed.output
    assert TOKEN not in json.dumps(scenario.incremental.rows("errors"), default=str)
    assert TOKEN not in (scenario.incremental.project / "files" / "state.json").read_text()
    for report in (scenario.incremental.project / "files").rglob("*.log"):
        assert TOKEN not in report.read_text()


def test_an_incremental_sync_reads_only_new_records(scenario: Scenario) -> None:
    assert scenario.incremental.returncode == 0, scenario.incremental.output[-3000:]
    assert scenario.incremental.upserts() == len(scenario.new_ids)
    ids = {row["id"] for row in scenario.incremental.rows("contacts")}
    assert {str(i) for i in scenario.new_ids} <= ids
    assert scenario.incremental.state()["contacts"]["last_id"] == str(scenario.new_ids[-1])


def test_rows_follow_the_warehouse_conventions(scenario: Scenario) -> None:
    contact = next(r for r in scenario.resumed_tables["contacts"] if r["id"] == str(scenario.contact_ids[0]))
    assert json.loads(contact["address"])["city"] == "Springfield"
    assert contact["modified_date_time_utc"].isoformat() == "2024-03-02T06:30:00.125000+00:00"
    gift = scenario.resumed_tables["gifts"][0]
    assert isinstance(gift["contact_id"], str)
    assert str(gift["amount"]) == "25.50"


def test_the_deployment_package_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_connector_package(CONNECTORS / "virtuous", SHARED, tmp_path / "one")
    second = build_connector_package(CONNECTORS / "virtuous", SHARED, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
