"""The EveryAction connector under the SDK's real local runner (``fivetran debug``) against a fake NGP VAN API.

One scenario, three runs (module fixture, as each run starts a Python process): a first sync whose
large export jobs never complete (the windows shrink) and which the fake crashes while a window's
files are downloaded; a rerun that must resume from the checkpoint; and an incremental sync after a
contact is edited, one deleted and one added. A second scenario starts from a ``start_date`` beyond
the API's 90-day reach and meets an export that always ends in ``Error``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.common.archive import build_connector_package
from tests.connectors.everyaction.fake_everyaction import FakeEveryAction
from tests.connectors.support import CONNECTORS, SHARED, DebugProject, DebugRun

APPLICATION, API_KEY = "driftless.sync", "ea-K3y-5f0e9a2c-77d1"
DAY = 24 * 60 * 60
OVERLAP = timedelta(minutes=10)
EDITED, DELETED, ADDED = 5, 9, 300


def _contacts(rng: random.Random, ids: range, start: int, end: int) -> list[dict[str, Any]]:
    return [
        {
            "VanID": van_id,
            "FirstName": f"First{van_id}",
            "LastName": f"Last{van_id}",
            "DateCreated": "2023-05-01T10:00:00Z",
            "changed": rng.randrange(start, end),
            "change": 1,
        }
        for van_id in ids
    ]


def _configuration(fake: FakeEveryAction, **extra: str) -> dict[str, str]:
    return {
        "application_name": APPLICATION,
        "api_key": API_KEY,
        "base_url": f"{fake.url}/v4",
        "job_timeout_seconds": "0.3",
        "job_poll_seconds": "0.02",
        "modified_overlap_seconds": str(int(OVERLAP.total_seconds())),
        "max_attempts": "3",
        "backoff_base_seconds": "0.01",
        "backoff_max_seconds": "0.05",
        **extra,
    }


@dataclass
class Scenario:
    fake: FakeEveryAction
    changed: dict[int, int]  # each contact's change time before the incremental run's edits
    crashed: DebugRun
    crashed_state: dict[str, Any]
    crashed_ids: set[str]
    resumed: DebugRun
    resumed_state: dict[str, Any]
    resumed_contacts: list[dict[str, Any]]
    incremental: DebugRun


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    rng = random.Random(5)
    now = int(time.time())
    contacts = _contacts(rng, range(1, 251), now - 60 * DAY, now - 3600)
    with FakeEveryAction(APPLICATION, API_KEY, contacts) as fake:
        fake.rows_per_file = 50
        fake.max_records_per_job = 100  # larger exports never complete: the window must shrink
        fake.crash_on_file = 4  # in the third window: the first two are checkpointed
        project = DebugProject(tmp_path_factory.mktemp("everyaction"), "everyaction", _configuration(fake))
        crashed = project.run(fake, crash=True)
        # The runs share the warehouse and the state file: keep what each one left.
        crashed_state, crashed_ids = crashed.state(), {row["van_id"] for row in crashed.rows("contacts")}
        fake.crash_on_file = None
        resumed = project.run(fake)
        resumed_state, resumed_contacts = resumed.state(), resumed.rows("contacts")
        fake.edit(EDITED, {"FirstName": "Renamed"})
        fake.delete(DELETED)
        fake.contacts[ADDED] = _contacts(
            rng, range(ADDED, ADDED + 1), int(time.time()), int(time.time()) + 1
        )[0]
        time.sleep(1.1)  # the changes are stamped before the next sync's start (whole seconds)
        incremental = project.run(fake)
    changed = {c["VanID"]: c["changed"] for c in contacts}
    return Scenario(
        fake,
        changed,
        crashed,
        crashed_state,
        crashed_ids,
        resumed,
        resumed_state,
        resumed_contacts,
        incremental,
    )


def _jobs(run: DebugRun) -> list[tuple[datetime, datetime | None]]:
    """The ``[dateChangedFrom, dateChangedTo)`` of every export job the run started, in order."""
    return [
        FakeEveryAction.window_of(r.body)
        for r in run.requests
        if r.method == "POST" and r.path == "/v4/changedEntityExportJobs"
    ]


def test_a_crash_mid_sync_leaves_exactly_the_checkpointed_windows(scenario: Scenario) -> None:
    assert scenario.crashed.returncode != 0, scenario.crashed.output[-2000:]
    cursor = datetime.fromisoformat(scenario.crashed_state["contacts"]["cursor"])
    expected = {str(van_id) for van_id, moment in scenario.changed.items() if moment < cursor.timestamp()}
    assert scenario.crashed_ids == expected
    assert 0 < len(expected) < 250


def test_export_jobs_that_never_complete_shrink_the_window(scenario: Scenario) -> None:
    spans = [end - start for start, end in _jobs(scenario.crashed) if end is not None]
    assert spans[0] > timedelta(days=89)  # the whole range first
    assert spans[1] == timedelta(days=30)
    assert timedelta(days=15) in spans


def test_the_rerun_resumes_from_the_checkpoint_less_the_overlap(scenario: Scenario) -> None:
    assert scenario.resumed.returncode == 0, scenario.resumed.output[-3000:]
    cursor = datetime.fromisoformat(scenario.crashed_state["contacts"]["cursor"])
    jobs = _jobs(scenario.resumed)
    assert jobs[0][0] == cursor - OVERLAP
    assert all(start >= cursor - OVERLAP for start, _ in jobs)


def test_every_contact_lands_exactly_once(scenario: Scenario) -> None:
    ids = [row["van_id"] for row in scenario.resumed_contacts]
    assert len(ids) == len(set(ids))
    assert set(ids) == {str(i) for i in range(1, 251)}
    contact = next(row for row in scenario.resumed_contacts if row["van_id"] == "1")
    assert contact["first_name"] == "First1"
    assert contact["date_created"] == datetime(2023, 5, 1, 10, tzinfo=UTC)
    assert contact["change_type_id"] == "1"


def test_edited_contacts_arrive_edited_and_deleted_ones_are_marked_deleted(scenario: Scenario) -> None:
    run = scenario.incremental
    assert run.returncode == 0, run.output[-3000:]
    rows = {row["van_id"]: row for row in run.rows("contacts")}
    assert rows[str(EDITED)]["first_name"] == "Renamed"
    assert rows[str(DELETED)]["_fivetran_deleted"] is True
    assert rows[str(ADDED)]["_fivetran_deleted"] is False
    assert sum(row["_fivetran_deleted"] for row in rows.values()) == 1
    assert len(rows) == 251
    # Only the contacts changed since the previous sync began (less the overlap) were exported.
    assert run.upserts() == 2
    previous_end = datetime.fromisoformat(scenario.resumed_state["contacts"]["cursor"])
    assert _jobs(run)[0][0] == previous_end - OVERLAP


def test_credentials_never_reach_the_file_host_or_any_log(scenario: Scenario) -> None:
    files = scenario.fake.file_host.log
    assert files
    assert all("authorization" not in r.headers for r in files)
    assert all(r.status == 200 for r in files)
    for run in (scenario.crashed, scenario.resumed, scenario.incremental):
        assert API_KEY not in run.output
    stored = (scenario.incremental.project / "files" / "state.json").read_text()
    assert API_KEY not in stored


def test_history_out_of_reach_and_a_failing_window_go_to_the_errors_table(tmp_path: Path) -> None:
    rng = random.Random(9)
    now = int(time.time())
    contacts = _contacts(rng, range(1, 41), now - 80 * DAY, now - 3600)
    failing = now - 20 * DAY
    with FakeEveryAction(APPLICATION, API_KEY, contacts) as fake:
        fake.failing_at = failing
        project = DebugProject(tmp_path, "everyaction", _configuration(fake, start_date="2020-01-01"))
        run = project.run(fake)
    assert run.returncode == 0, run.output[-3000:]
    errors = run.rows("errors")
    reach = [e for e in errors if "90 days" in e["message"]]
    assert len(reach) == 1
    assert "2020-01-01" in reach[0]["message"]
    first_from = _jobs(run)[0][0]
    assert timedelta(days=89) < datetime.now(UTC) - first_from < timedelta(days=90)
    (window,) = [e for e in errors if e not in reach]
    assert window["stream"] == "contacts"
    assert window["url"] == f"{fake.url}/v4/changedEntityExportJobs"
    start, end = FakeEveryAction.window_of(json.loads(window["payload"]))
    assert end is not None
    assert start.timestamp() <= failing < end.timestamp()
    assert end - start == timedelta(days=1)
    assert "failed" in window["message"]
    landed = {row["van_id"] for row in run.rows("contacts")}
    assert landed == {
        str(c["VanID"]) for c in contacts if not start.timestamp() <= c["changed"] < end.timestamp()
    }


def test_the_deployment_package_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_connector_package(CONNECTORS / "everyaction", SHARED, tmp_path / "one")
    second = build_connector_package(CONNECTORS / "everyaction", SHARED, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()


def test_an_unknown_database_mode_fails_the_sync_naming_the_key(tmp_path: Path) -> None:
    with FakeEveryAction(APPLICATION, API_KEY, []) as fake:
        project = DebugProject(tmp_path, "everyaction", _configuration(fake, database_mode="2"))
        run = project.run(fake)
    assert run.returncode != 0
    assert "'database_mode' must be 0 (VoterFile) or 1 (MyCampaign)" in run.output
    assert fake.log == []  # nothing was asked of the source
    assert API_KEY not in run.output
