"""Status: the shape readers rely on, persisted in SQLite, surviving a reopen."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from automation.daemon.driver import ChangeCounts
from automation.daemon.status import (
    READY,
    STALLED,
    Backoff,
    Operation,
    StackStatus,
    status_document,
)
from automation.daemon.store import StatusStore

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def ready_status() -> StackStatus:
    status = StackStatus("dev")
    status.ensure_conditions(NOW)
    status.fingerprint = "sha256:" + "ab" * 32
    status.set_condition(READY, True, "UpSucceeded", "3 to create", NOW)
    status.record(
        Operation(
            "up", "succeeded", NOW, NOW + timedelta(seconds=42), ChangeCounts(3, 0, 0, 40), trigger="Initial"
        ),
        limit=20,
    )
    status.update_phase()
    return status


def test_the_status_document_has_the_spec_shape():
    document = status_document([ready_status()])

    stack = document["stacks"][0]
    assert list(stack)[:5] == ["name", "phase", "conditions", "fingerprint", "lastOperation"]
    assert stack["name"] == "dev"
    assert stack["phase"] == "Ready"
    assert stack["fingerprint"].startswith("sha256:")
    assert [c["type"] for c in stack["conditions"]] == ["Ready", "Reconciling", "Stalled", "Drifted"]
    assert {k for k in stack["conditions"][0]} >= {"type", "status", "reason", "message"}
    assert stack["conditions"][0]["status"] == "True"
    assert stack["lastOperation"] == {
        "kind": "up",
        "result": "succeeded",
        "startedAt": "2026-11-21T12:00:00Z",
        "finishedAt": "2026-11-21T12:00:42Z",
        "changes": {"create": 3, "update": 0, "delete": 0, "same": 40},
        "trigger": "Initial",
    }


def test_status_survives_reopening_the_database(tmp_path: Path):
    path = tmp_path / "state.db"
    status = ready_status()
    status.backoff = Backoff(NOW + timedelta(seconds=30), 30, "StackLocked", "locked by pid 4242")
    status.failures = 2
    status.handled_tokens = {"Note/a": "t1"}
    status.update_phase()
    first = StatusStore(path)
    first.save(status)
    first.close()

    reopened = StatusStore(path).all()

    assert [s.to_json() for s in reopened] == [status.to_json()]
    assert reopened[0].phase == "Retrying"


def test_history_keeps_the_newest_runs(tmp_path: Path):
    status = StackStatus("dev")
    for minute in range(25):
        status.record(Operation("up", "succeeded", NOW + timedelta(minutes=minute)), limit=20)

    assert len(status.history) == 20
    assert status.history[0].started_at == NOW + timedelta(minutes=24)
    assert status.last_operation is status.history[0]


def test_a_condition_keeps_its_transition_time_until_its_status_changes():
    status = StackStatus("dev")
    status.ensure_conditions(NOW)
    status.set_condition(STALLED, True, "InvalidSpec", "bad", NOW)
    status.set_condition(STALLED, True, "InvalidSpec", "still bad", NOW + timedelta(minutes=5))
    assert status.condition(STALLED).last_transition_time == NOW

    status.set_condition(STALLED, False, "NotStalled", "", NOW + timedelta(minutes=9))
    assert status.condition(STALLED).last_transition_time == NOW + timedelta(minutes=9)


def test_an_unchanged_status_is_not_rewritten(tmp_path: Path):
    store = StatusStore(tmp_path / "state.db")
    status = ready_status()

    assert store.save(status) is True
    assert store.save(status) is False
    status.failures = 1
    assert store.save(status) is True


def test_readers_in_other_processes_see_whole_rows(tmp_path: Path):
    path = tmp_path / "state.db"
    store = StatusStore(path)
    store.save(ready_status())

    with sqlite3.connect(path) as reader:
        (mode,) = reader.execute("PRAGMA journal_mode").fetchone()
        rows = reader.execute("SELECT name FROM stacks").fetchall()

    assert mode == "wal"
    assert rows == [("dev",)]


# --- the next check: the one timer the daemon loop waits for ---------------------------------------


def timers(
    *,
    stalled: bool = False,
    retry_in: int | None = None,
    requeue_in: int | None = None,
    drift_in: int | None = None,
):
    status = ready_status()
    if stalled:
        status.set_condition(STALLED, True, "ProgramError", "program failed", NOW)
    if retry_in is not None:
        status.backoff = Backoff(NOW + timedelta(seconds=retry_in), retry_in, "StackLocked", "locked")
    status.requeue_at = NOW + timedelta(seconds=requeue_in) if requeue_in is not None else None
    status.next_drift_check_at = NOW + timedelta(seconds=drift_in) if drift_in is not None else None
    status.update_next_check()
    return (status.next_check_at - NOW).total_seconds() if status.next_check_at else None


def test_the_next_check_is_the_timer_the_reconciler_acts_on():
    assert timers() is None
    assert timers(requeue_in=120, drift_in=600) == 120
    assert timers(requeue_in=900, drift_in=600) == 600
    assert timers(retry_in=300, drift_in=-60) == 300  # nothing runs before the retry
    assert timers(stalled=True, retry_in=300, requeue_in=-60, drift_in=-60) is None  # only a change helps
