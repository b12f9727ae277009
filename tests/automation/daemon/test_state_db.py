"""``state.db`` when things go wrong: a damaged file, a directory that cannot be written, a write
that fails while the daemon runs, and readers that must not write."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from automation.daemon.layout import ProjectLayout
from automation.daemon.offline_driver import OfflineDriver
from automation.daemon.reconciler import Reconciler
from automation.daemon.state_lock import StateDirectoryError
from automation.daemon.status import Attention, StackStatus
from automation.daemon.store import StatusStore, read_statuses
from tests.automation.daemon.helpers import REGISTRY, note, render_notes, write_stack

PROJECT_ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def stack_status(name: str, *, held: bool = False) -> StackStatus:
    status = StackStatus(name)
    status.ensure_conditions(NOW)
    status.fingerprint = "sha256:" + name.encode().hex().ljust(64, "0")
    status.observed_fingerprint = status.fingerprint + "-" + "x" * 1500  # a row of realistic size
    if held:
        status.attention = Attention(NOW, [f"interrupted create of urn:pulumi:{name}::connector"])
    status.update_phase()
    return status


def written_store(path: Path, count: int, held_every: int = 50) -> dict[str, StackStatus]:
    store = StatusStore(path)
    statuses = {f"s{i:03}": stack_status(f"s{i:03}", held=i % held_every == 0) for i in range(count)}
    for status in statuses.values():
        store.save(status)
    store.close()
    return statuses


def store_events(caplog: pytest.LogCaptureFixture, event: str) -> list[dict]:
    return [getattr(r, "fields", {}) for r in caplog.records if r.getMessage() == event]


# --- a damaged file ------------------------------------------------------------------------------


def test_a_garbage_file_is_moved_aside_and_the_daemon_starts_afresh(tmp_path, caplog):
    path = tmp_path / "state.db"
    garbage = b"this is not an SQLite database\n" * 200
    path.write_bytes(garbage)

    store = StatusStore(path)

    assert store.all() == []
    assert store.save(stack_status("dev")) is True  # the fresh database works
    assert store.damaged is not None
    aside = store.damaged.moved_to
    assert aside.name.startswith("state.db.corrupt-")
    assert aside.read_bytes() == garbage
    [event] = store_events(caplog, "status.database_damaged")
    assert event["path"] == str(path)
    assert event["moved_to"] == str(aside)
    assert "file is not a database" in event["detail"]
    assert "Nothing in it could be read" in event["detail"]
    assert "every NeedsAttention hold is lost" in event["detail"]
    store.close()
    assert [s.name for s in StatusStore(path).all()] == ["dev"]  # and it is a real database again


def test_a_truncated_database_keeps_every_status_that_still_reads(tmp_path, caplog):
    path = tmp_path / "state.db"
    written = written_store(path, 300)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    store = StatusStore(path)

    damaged = store.damaged
    assert damaged is not None
    assert not damaged.complete
    kept = {s.name: s for s in store.all()}
    assert 0 < len(kept) < 300
    assert sorted(kept) == list(damaged.kept)
    assert all(kept[name].to_json() == written[name].to_json() for name in kept)  # exactly as written
    assert "s000" in damaged.held  # a NeedsAttention hold that still read holds the stack again
    assert set(damaged.held) == {name for name in kept if written[name].attention is not None}
    assert set(damaged.lost) | set(kept) == set(written)  # the index still named the lost rows
    [event] = store_events(caplog, "status.database_damaged")
    assert f"Kept the {len(kept)} stack status(es) that still read" in event["detail"]
    assert f"could not read the status of {damaged.lost[0]}" in event["detail"]
    assert "NeedsAttention holds kept: s000" in event["detail"]
    store.close()


def test_a_row_that_is_not_a_status_counts_as_damage_and_the_rest_is_kept(tmp_path):
    path = tmp_path / "state.db"
    written_store(path, 3)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE stacks SET status = '{\"truncated' WHERE name = 's001'")
    db.close()

    store = StatusStore(path)

    assert store.damaged is not None
    assert "the row of stack 's001' is not a valid status" in store.damaged.damage
    assert [s.name for s in store.all()] == ["s000", "s002"]
    store.close()


# --- a state directory that cannot be written ----------------------------------------------------


def test_a_state_db_that_is_a_directory_is_a_clear_error(tmp_path):
    (tmp_path / "state.db").mkdir()

    with pytest.raises(StateDirectoryError) as raised:
        StatusStore(tmp_path / "state.db")

    assert str(raised.value) == (
        f"cannot use the state directory {tmp_path}: cannot open state.db: it is a directory, not a file"
    )
    assert (tmp_path / "state.db").is_dir()  # never taken for a damaged file and moved aside
    assert list(tmp_path.iterdir()) == [tmp_path / "state.db"]


def test_a_state_directory_under_a_regular_file_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")

    with pytest.raises(StateDirectoryError, match=f"cannot use the state directory {tmp_path}/file/state: "):
        StatusStore(tmp_path / "file" / "state" / "state.db")


# --- a write that fails while the daemon runs ---------------------------------------------------


@pytest.fixture
def layout(tmp_path: Path) -> ProjectLayout:
    project = tmp_path / "project"
    stack = write_stack(project / "stacks" / "dev.yaml", note("a"))
    os.utime(stack, (0, 0))  # written long ago: settled, read at once
    return ProjectLayout.at(project)


@pytest.fixture
def reconciler(layout: ProjectLayout) -> Iterator[Reconciler]:
    # a short busy timeout: a write that finds the database locked fails at once
    store = StatusStore(layout.state_dir / "state.db", busy_timeout=0.05)
    reconciler = Reconciler(
        layout, OfflineDriver(layout.state_dir, render=render_notes), store, registry=REGISTRY
    )
    yield reconciler
    reconciler.shutdown(grace=0)
    store.close()


def stored(path: Path) -> dict[str, dict]:
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT name, status FROM stacks").fetchall()
    db.close()
    return {name: json.loads(payload) for name, payload in rows}


def test_a_failing_status_write_is_logged_and_retried_and_the_daemon_goes_on(layout, reconciler, caplog):
    path = layout.state_dir / "state.db"
    # another program holds the database's write lock, as a stuck writer (or a full disk) would
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")

    outcomes = {o.stack: o.state for o in reconciler.cycle()}

    assert outcomes == {"dev": "reconciled"}  # the operation ran and the cycle finished
    assert reconciler.status("dev").phase == "Ready"  # the daemon knows
    assert reconciler.store.unsaved == ["dev"]
    assert "dev" not in stored(path)
    failures = store_events(caplog, "status.write_failed")
    assert failures
    assert failures[0]["path"] == str(path)
    assert "database is locked" in failures[0]["error"]

    blocker.execute("ROLLBACK")
    blocker.close()
    assert {o.stack: o.state for o in reconciler.cycle()} == {"dev": "unchanged"}

    assert reconciler.store.unsaved == []
    assert stored(path)["dev"] == reconciler.status("dev").to_json()
    assert store_events(caplog, "status.write_recovered")


DISK_FULL = textwrap.dedent(
    """
    import json, logging, resource, sys
    from pathlib import Path
    from automation.daemon.status import StackStatus
    from automation.daemon.store import StatusStore

    failures = []
    logging.getLogger("driftless.store").addHandler(
        type("H", (logging.Handler,), {"emit": lambda self, r: failures.append(r.fields)})()
    )
    path = Path(sys.argv[1])
    store = StatusStore(path)
    store.save(StackStatus("a"))
    # the disk is full: no file may grow past what it is now
    size = max(Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal"))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    big = StackStatus("b", observed_fingerprint="x" * 200_000)
    saved_when_full = store.save(big)
    unsaved_when_full = store.unsaved
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again
    saved_later = store.save(StackStatus("c"))
    store.close()
    print(json.dumps({
        "savedWhenFull": saved_when_full, "unsavedWhenFull": unsaved_when_full,
        "savedLater": saved_later, "failures": failures,
        "stored": [s.name for s in StatusStore(path).all()],
    }))
    """
)


def test_a_full_disk_mid_run_fails_that_write_only_and_it_is_written_later(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(tmp_path / "state.db")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["savedWhenFull"] is False
    assert result["unsavedWhenFull"] == ["b"]
    assert result["savedLater"] is True
    assert result["stored"] == ["a", "b", "c"]
    [failure] = result["failures"]
    assert failure["path"] == str(tmp_path / "state.db")
    assert failure["unsaved"] == ["b"]


# --- readers never write ------------------------------------------------------------------------


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def test_reading_a_closed_database_changes_no_file_in_the_state_directory(tmp_path):
    written = written_store(tmp_path / "state.db", 3)
    before = snapshot(tmp_path)

    statuses = read_statuses(tmp_path / "state.db")

    assert [s.to_json() for s in statuses] == [s.to_json() for s in written.values()]
    assert snapshot(tmp_path) == before  # not even a -wal or -shm file


def test_reading_beside_a_running_daemon_sees_its_latest_writes(tmp_path):
    store = StatusStore(tmp_path / "state.db")
    store.save(stack_status("dev"))  # in the write-ahead log, not yet in state.db itself
    main_file = (tmp_path / "state.db").read_bytes(), (tmp_path / "state.db").stat().st_mtime_ns

    statuses = read_statuses(tmp_path / "state.db")

    assert [s.name for s in statuses] == ["dev"]
    assert ((tmp_path / "state.db").read_bytes(), (tmp_path / "state.db").stat().st_mtime_ns) == main_file
    store.close()


def test_reading_creates_nothing_where_there_is_no_database(tmp_path):
    assert read_statuses(tmp_path / "state" / "state.db") == []
    assert list(tmp_path.iterdir()) == []


def test_reading_a_damaged_database_is_a_clear_error_and_leaves_it_in_place(tmp_path):
    (tmp_path / "state.db").write_bytes(b"garbage" * 1000)
    before = snapshot(tmp_path)

    with pytest.raises(StateDirectoryError) as raised:
        read_statuses(tmp_path / "state.db")

    assert str(raised.value) == (
        f"{tmp_path / 'state.db'} is damaged (file is not a database); "
        "the next `run` moves it aside and keeps what still reads"
    )
    assert snapshot(tmp_path) == before


@pytest.fixture(autouse=True)
def _store_logs_at_info(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="driftless.store")


def test_a_store_reopened_after_a_clean_close_is_not_damaged(tmp_path):
    written_store(tmp_path / "state.db", 3)
    assert os.listdir(tmp_path) == ["state.db"]

    store = StatusStore(tmp_path / "state.db")

    assert store.damaged is None
    assert len(store.all()) == 3
    store.close()
