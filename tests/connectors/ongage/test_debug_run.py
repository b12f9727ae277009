"""The OnGage connector under the SDK's real local runner (``fivetran debug``) against a fake OnGage API.

One scenario, three runs (module fixture, as each run starts a Python process): a first sync the
fake crashes in the middle of the large list, a rerun that must resume from the checkpoint, and an
incremental sync after three contacts join the small list. The fake lets a search complete only
when its window holds at most 60 contacts (larger searches never finish, so windows must shrink),
reports every search over one moment as failed, rate-limits the first export with Retry-After and
answers one status poll with a 500 that echoes the credentials.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from components.common.archive import build_connector_package
from tests.connectors.ongage.fake_ongage import FakeOnGage
from tests.connectors.support import CONNECTORS, SHARED, DebugProject, DebugRun

CREDENTIALS = {"x_username": "og-user-7731", "x_password": "og-P4ss-w0rd!#", "x_account_code": "ACC-99821"}
DAY = 24 * 60 * 60


@dataclass
class Scenario:
    fake: FakeOnGage
    large_created: int
    failing_moment: int
    contacts: dict[str, list[dict[str, Any]]]
    new_contacts: list[dict[str, Any]]
    crashed: DebugRun
    crashed_state: dict[str, Any]
    crashed_contacts: list[dict[str, Any]]
    resumed: DebugRun
    resumed_tables: dict[str, list[dict[str, Any]]]
    incremental: DebugRun


def _contacts(rng: random.Random, first_id: int, count: int, start: int, end: int) -> list[dict[str, Any]]:
    return [
        {
            "id": first_id + n,
            "email": f"person{first_id + n}@example.org",
            "first_name": f"Person {first_id + n}",
            "created": rng.randrange(start, end),
            "color": rng.choice(["red", "green", ""]),
        }
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    rng = random.Random(3)
    now = int(time.time())
    large_created, small_created = now - 200 * DAY, now - 100 * DAY
    contacts = {
        "101": _contacts(rng, 1_000_000, 400, large_created, now - 3600),
        "102": _contacts(rng, 2_000_000, 40, small_created, now - 3600),
    }
    lists = [
        {"id": 101, "name": "Newsletter", "last_count": 250_000, "created": large_created, "archive": "0"},
        {"id": 102, "name": "Events", "last_count": 40, "created": small_created, "default": True},
    ]
    with FakeOnGage(CREDENTIALS, lists, contacts) as fake:
        fake.max_contacts_per_search = 60
        fake.failing_at = ("101", large_created + 120 * DAY)
        fake.rate_limited_exports = 1
        fake.flaky_polls = {4}
        fake.crash_at = ("101", large_created + 150 * DAY)
        configuration = {
            **CREDENTIALS,
            "base_url": fake.url,
            "search_timeout_seconds": "0.25",
            "search_poll_seconds": "0.02",
            "request_timeout_seconds": "5",
            "max_attempts": "3",
            "backoff_base_seconds": "0.01",
            "backoff_max_seconds": "0.05",
        }
        project = DebugProject(tmp_path_factory.mktemp("ongage"), "ongage", configuration)
        crashed = project.run(fake, crash=True)
        crashed_state = crashed.state()
        crashed_contacts = crashed.rows("contacts")
        fake.crash_at = None
        resumed = project.run(fake)
        resumed_tables = {table: resumed.rows(table) for table in ("lists", "contacts", "errors")}
        time.sleep(
            1.1
        )  # the new contacts are created after the resumed sync's end, before the next one starts
        new_contacts = _contacts(rng, 3_000_000, 3, int(time.time()), int(time.time()) + 1)
        contacts["102"].extend(new_contacts)
        time.sleep(1.1)
        incremental = project.run(fake)
    return Scenario(
        fake,
        large_created,
        fake.failing_at[1],
        contacts,
        new_contacts,
        crashed,
        crashed_state,
        crashed_contacts,
        resumed,
        resumed_tables,
        incremental,
    )


def _windows(run: DebugRun, list_id: str) -> list[tuple[int, int]]:
    """The ``[start, end)`` of every search for new contacts the run started on ``list_id``, in order."""
    return [
        FakeOnGage.window_of(r.body)
        for r in run.requests
        if r.method == "POST"
        and r.path == f"/{list_id}/api/contact_search"
        and FakeOnGage.date_field_of(r.body) == "ocx_created_date"
    ]


def _error_windows(errors: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [FakeOnGage.window_of(json.loads(error["payload"])) for error in errors]


def _expected(scenario: Scenario, errors: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Every contact but those of a window in the errors table (of their own list)."""
    skipped = {
        (error["stream"].split(":")[1], window)
        for error, window in zip(errors, _error_windows(errors), strict=True)
    }
    return {
        (str(c["id"]), list_id)
        for list_id, contacts in scenario.contacts.items()
        for c in contacts
        if c not in scenario.new_contacts
        and not any(s_list == list_id and start <= c["created"] < end for s_list, (start, end) in skipped)
    }


def test_a_crash_mid_sync_leaves_exactly_the_checkpointed_windows(scenario: Scenario) -> None:
    assert scenario.crashed.returncode != 0, scenario.crashed.output[-2000:]
    lists = scenario.crashed_state["lists"]
    assert set(lists) == {"101", "102"}  # every list was discovered on the first sync
    assert lists["102"]["cursor"] is None
    cursor = int(datetime.fromisoformat(lists["101"]["cursor"]).timestamp())
    assert scenario.large_created < cursor < scenario.large_created + 200 * DAY
    landed = {row["id"] for row in scenario.crashed_contacts}
    errors = scenario.resumed_tables["errors"]
    expected = {
        str(c["id"])
        for c in scenario.contacts["101"]
        if c["created"] < cursor and not any(s <= c["created"] < e for s, e in _error_windows(errors))
    }
    assert landed == expected


def test_the_rerun_resumes_from_the_checkpoint(scenario: Scenario) -> None:
    assert scenario.resumed.returncode == 0, scenario.resumed.output[-3000:]
    cursor = int(datetime.fromisoformat(scenario.crashed_state["lists"]["101"]["cursor"]).timestamp())
    windows = _windows(scenario.resumed, "101")
    assert windows[0][0] == cursor
    assert all(start >= cursor for start, _ in windows)
    remaining = [c for c in scenario.contacts["101"] if c["created"] >= cursor]
    assert scenario.resumed.upserts() == len(remaining) + len(scenario.contacts["102"]) - 3 + 2


def test_every_contact_lands_exactly_once(scenario: Scenario) -> None:
    keys = [(row["id"], row["list_id"]) for row in scenario.resumed_tables["contacts"]]
    assert len(keys) == len(set(keys))
    assert set(keys) == _expected(scenario, scenario.resumed_tables["errors"])


def test_timed_out_searches_shrink_the_window_to_two_weeks(scenario: Scenario) -> None:
    spans = [end - start for start, end in _windows(scenario.crashed, "101")]
    assert spans[0] == 90 * DAY
    assert spans[1] == 45 * DAY
    assert 14 * DAY in spans
    assert min(spans) == 14 * DAY
    # the small list is read with one search over its whole range
    small = _windows(scenario.resumed, "102")
    assert len(small) == 1


def test_the_window_that_fails_at_the_minimum_is_in_the_errors_table(scenario: Scenario) -> None:
    errors = scenario.resumed_tables["errors"]
    assert len(errors) == 1
    (start, end), error = _error_windows(errors)[0], errors[0]
    assert error["stream"] == "contacts:101"
    assert error["url"] == f"{scenario.fake.url}/101/api/contact_search"
    assert start <= scenario.failing_moment < end
    assert end - start == 14 * DAY
    assert "failed" in error["message"]
    attempts = [w for w in _windows(scenario.crashed, "101") if w == (start, end)]
    assert len(attempts) == 4  # the first attempt and 3 retries


def test_retry_after_is_honoured(scenario: Scenario) -> None:
    exports = [r for r in scenario.crashed.requests if r.path.endswith("/export")]
    limited = next(r for r in exports if r.status == 429)
    again = next(r for r in exports if r.at > limited.at and r.path == limited.path)
    assert again.at - limited.at >= 0.95


def test_no_credential_appears_in_any_log_line_or_table(scenario: Scenario) -> None:
    for run in (scenario.crashed, scenario.resumed, scenario.incremental):
        for secret in CREDENTIALS.values():
            assert secret not in run.output
    # The fake echoed the credential headers in a 500 body: it reached the log, redacted.
    assert "x_password: [redacted]" in scenario.crashed.output
    files = scenario.incremental.project / "files"
    stored = json.dumps(scenario.incremental.rows("errors"), default=str) + (files / "state.json").read_text()
    for secret in CREDENTIALS.values():
        assert secret not in stored


def test_an_incremental_sync_reads_only_new_contacts(scenario: Scenario) -> None:
    assert scenario.incremental.returncode == 0, scenario.incremental.output[-3000:]
    assert scenario.incremental.upserts() == len(scenario.new_contacts) + 2  # and the two list rows
    keys = {(row["id"], row["list_id"]) for row in scenario.incremental.rows("contacts")}
    assert {(str(c["id"]), "102") for c in scenario.new_contacts} <= keys


def test_rows_follow_the_warehouse_conventions(scenario: Scenario) -> None:
    lists = {row["id"]: row for row in scenario.resumed_tables["lists"]}
    assert set(lists) == {"101", "102"}
    assert lists["101"]["last_count"] == 250_000
    assert lists["101"]["created"] == datetime.fromtimestamp(scenario.large_created, UTC)
    assert lists["102"]["default"] is True
    source = scenario.contacts["102"][0]
    row = next(r for r in scenario.resumed_tables["contacts"] if r["id"] == str(source["id"]))
    assert row["list_id"] == "102"
    assert row["created_date"] == datetime.fromtimestamp(source["created"], UTC)
    assert row["favorite_color"] == (source["color"] or None)
    assert row["last_name"] is None


def test_the_deployment_package_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_connector_package(CONNECTORS / "ongage", SHARED, tmp_path / "one")
    second = build_connector_package(CONNECTORS / "ongage", SHARED, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
