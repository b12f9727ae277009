"""Status persisted in SQLite (``.driftless/state.db``), so it survives restarts and crashes.

One row per stack holds its whole :class:`StackStatus` as JSON. Every save is one transaction, so
a reader (``python -m automation status``, another process) sees either the old status or the new
one, never half of each; a daemon killed mid-write loses at most that one update. WAL mode lets
``status`` read while the daemon writes.

The daemon's own state never ends it with a traceback:

- a damaged file (not a database, SQLite's own check fails, or a row is not a status) is moved
  aside to ``state.db.corrupt-<UTC time>`` (with its ``-wal`` and ``-shm``), every status that
  still reads is carried into a fresh database, and the log names both files and what was lost;
- a state directory that cannot be written (read-only, full, ``state.db`` not a file) is a
  :class:`StateDirectoryError` naming the path;
- a write that fails while the daemon runs (disk full, the database locked by another program) is
  logged; the status stays in memory and every later save writes it again, so the daemon goes on.

:func:`read_statuses` is the reader of ``status``: it opens the file read-only and never creates,
migrates or changes it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.daemon.logs import EventLog
from automation.daemon.state_lock import StateDirectoryError, os_error_text
from automation.daemon.status import StackStatus

STATE_DB = "state.db"
WRITE_FAILURE_LOG_INTERVAL = 60.0  # seconds: the same failing write is logged again at most this often

log = EventLog(logging.getLogger("driftless.store"))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
"""

_UPSERT = (
    "INSERT INTO stacks(name, status) VALUES (?, ?) "
    "ON CONFLICT(name) DO UPDATE SET status = excluded.status, "
    "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
)


class _DamagedError(Exception):
    """The file is not a usable status database; the message says what SQLite (or parsing) found."""


@dataclass(frozen=True)
class DamagedDatabase:
    """A damaged ``state.db`` that was moved aside at open, and what of it was kept."""

    path: Path
    moved_to: Path
    damage: str  # what SQLite (or parsing a row) said
    kept: tuple[str, ...]  # stacks whose status still read and was carried over
    held: tuple[str, ...]  # of those, the stacks held as NeedsAttention
    lost: tuple[str, ...]  # stacks known by name whose status did not read
    complete: bool  # every row read

    def message(self) -> str:
        head = f"{self.path} is damaged ({self.damage}); moved it aside to {self.moved_to}, started afresh."
        if self.complete:
            kept = f" Every stack status in it still read and was kept ({len(self.kept)})."
        elif self.kept:
            unread = f"the status of {_names(self.lost)}" if self.lost else "some rows (not even their names)"
            kept = (
                f" Kept the {len(self.kept)} stack status(es) that still read; could not read {unread}: "
                "those stacks start as never applied (an `up` runs for each) and a NeedsAttention hold "
                "they had is lost; check what the last run logged (recovery.*) for them."
            )
        else:
            kept = (
                " Nothing in it could be read: every stack starts as never applied (an `up` runs for "
                "each) and every NeedsAttention hold is lost; check what the last run logged "
                "(recovery.*) before letting the daemon run on."
            )
        held = f" NeedsAttention holds kept: {_names(self.held)}." if self.held else ""
        return head + kept + held


def _names(names: tuple[str, ...], shown: int = 10) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class StatusStore:
    """Thread-safe status storage; one connection per store, guarded by a lock.

    Opening raises :class:`StateDirectoryError` when the state directory cannot be used; a
    damaged file is moved aside first (:attr:`damaged` says what happened).
    """

    def __init__(self, path: Path, *, busy_timeout: float = 30):
        self.path = path
        self.busy_timeout = busy_timeout
        self.damaged: DamagedDatabase | None = None
        self._lock = threading.Lock()
        self._saved: dict[str, str] = {}  # what the database holds, as far as this store wrote it
        self._unsaved: dict[str, str] = {}  # statuses whose write failed; every save retries them
        self._failure: str | None = None
        self._failure_logged_at = 0.0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateDirectoryError(
                f"cannot use the state directory {path.parent}: {os_error_text(exc)}"
            ) from None
        self._db = self._open()

    # --- opening

    def _open(self) -> sqlite3.Connection:
        try:
            return self._connect()
        except _DamagedError as exc:
            damage = str(exc)
        except sqlite3.Error as exc:
            raise StateDirectoryError(self._cannot_open(exc)) from None
        damaged, rows = self._set_aside(damage)
        try:
            db = self._connect()
            with _transaction(db):
                for name in damaged.kept:
                    db.execute(_UPSERT, (name, rows[name]))
        except (sqlite3.Error, _DamagedError) as exc:
            raise StateDirectoryError(self._cannot_open(exc)) from None
        self.damaged = damaged
        log.error(
            "status.database_damaged",
            path=str(self.path),
            moved_to=str(damaged.moved_to),
            kept=list(damaged.kept),
            held=list(damaged.held),
            lost=list(damaged.lost),
            complete=damaged.complete,
            detail=damaged.message(),
        )
        return db

    def _connect(self) -> sqlite3.Connection:
        """Open, check and (if new) create the database; :class:`_DamagedError` when it is damaged."""
        try:
            db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=self.busy_timeout
            )
        except sqlite3.Error as exc:
            if _is_damage(exc):
                raise _DamagedError(str(exc)) from exc
            raise
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            problems = [str(row[0]) for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise _DamagedError("; ".join(" ".join(problem.split()) for problem in problems[:3]))
            db.executescript(_SCHEMA)
            for name, payload in db.execute("SELECT name, status FROM stacks"):
                if _parse(name, payload) is None:
                    raise _DamagedError(f"the row of stack {name!r} is not a valid status")
        except sqlite3.Error as exc:
            db.close()
            if _is_damage(exc):
                raise _DamagedError(str(exc)) from exc
            raise
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self, damage: str) -> tuple[DamagedDatabase, dict[str, str]]:
        """Read what still reads, then move the file (and its -wal, -shm) to ``<name>.corrupt-<time>``."""
        rows, lost, complete = _salvage_rows(self.path)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moved_to = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        serial = 1
        while moved_to.exists():
            moved_to = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{serial}")
            serial += 1
        try:
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.path}{suffix}")
                if source.exists():
                    os.replace(source, f"{moved_to}{suffix}")
        except OSError as exc:
            raise StateDirectoryError(
                f"{self.path} is damaged ({damage}) and cannot be moved aside: {os_error_text(exc)}"
            ) from None
        statuses = {name: _parse(name, payload) for name, payload in rows.items()}
        held = tuple(sorted(name for name, s in statuses.items() if s is not None and s.attention))
        damaged = DamagedDatabase(self.path, moved_to, damage, tuple(sorted(rows)), held, lost, complete)
        return damaged, rows

    def _cannot_open(self, exc: Exception) -> str:
        reason = "it is a directory, not a file" if self.path.is_dir() else str(exc)
        return f"cannot use the state directory {self.path.parent}: cannot open {self.path.name}: {reason}"

    # --- writing

    def save(self, status: StackStatus) -> bool:
        """Persist ``status``; False when it is unchanged since the last save or the write failed.

        A failed write is logged and kept: every later save (each cycle saves every stack) writes
        it again, together with its own status, so no change is lost while the daemon runs.
        """
        payload = json.dumps(status.to_json(), sort_keys=True)
        with self._lock:
            if status.name not in self._unsaved and self._saved.get(status.name) == payload:
                return False
            self._unsaved[status.name] = payload
            return self._write_unsaved()

    def flush(self) -> bool:
        """Write what earlier saves could not; True when nothing is left unsaved."""
        with self._lock:
            return not self._unsaved or self._write_unsaved()

    @property
    def unsaved(self) -> list[str]:
        """The stacks whose latest status is not in the database yet (a write failed)."""
        with self._lock:
            return sorted(self._unsaved)

    def _write_unsaved(self) -> bool:
        try:
            with _transaction(self._db):
                for name, payload in self._unsaved.items():
                    self._db.execute(_UPSERT, (name, payload))
        except sqlite3.Error as exc:
            self._write_failed(exc)
            return False
        if self._failure is not None:
            log.info("status.write_recovered", path=str(self.path), written=sorted(self._unsaved))
            self._failure = None
        self._saved.update(self._unsaved)
        self._unsaved.clear()
        return True

    def _write_failed(self, exc: sqlite3.Error) -> None:
        error = str(exc)
        if _is_damage(exc):
            error += " (the database is damaged; the next start moves it aside and keeps what still reads)"
        now = time.monotonic()
        if error != self._failure or now - self._failure_logged_at >= WRITE_FAILURE_LOG_INTERVAL:
            log.error(
                "status.write_failed",
                path=str(self.path),
                error=error,
                unsaved=sorted(self._unsaved),
                detail="kept in memory; written again with the next status change or cycle",
            )
            self._failure_logged_at = now
        self._failure = error

    # --- reading

    def load(self, name: str) -> StackStatus | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM stacks WHERE name = ?", (name,)).fetchone()
        return StackStatus.from_json(json.loads(row[0])) if row else None

    def all(self) -> list[StackStatus]:
        with self._lock:
            rows = self._db.execute("SELECT status FROM stacks ORDER BY name").fetchall()
        return [StackStatus.from_json(json.loads(row[0])) for row in rows]

    def delete(self, name: str) -> None:
        with self._lock, _transaction(self._db):
            self._db.execute("DELETE FROM stacks WHERE name = ?", (name,))
        self._saved.pop(name, None)
        self._unsaved.pop(name, None)

    def close(self) -> None:
        """Write what is still unsaved (once more), then close."""
        with self._lock:
            if self._unsaved and not self._write_unsaved():
                log.error("status.unsaved_at_exit", path=str(self.path), stacks=sorted(self._unsaved))
            self._db.close()


def read_statuses(path: Path) -> list[StackStatus]:
    """Every stack's status for a reader beside the daemon (``status``); [] without a database.

    The file is opened read-only and never created, migrated or changed. Raises
    :class:`StateDirectoryError` when it cannot be read or is damaged.
    """
    if not path.exists():
        return []
    if path.is_dir():
        raise StateDirectoryError(f"cannot read {path}: it is a directory, not a status database")
    # A daemon keeps a -wal file while it has the database open. Without one, nobody writes it,
    # and ``immutable`` spares even the -wal and -shm files a read-only WAL reader would create.
    immutable = not Path(f"{path}-wal").exists()
    try:
        db = sqlite3.connect(_read_only_uri(path, immutable=immutable), uri=True)
        with contextlib.closing(db):
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if ("stacks",) not in tables:
                return []
            rows = db.execute("SELECT name, status FROM stacks ORDER BY name").fetchall()
    except sqlite3.Error as exc:
        if _is_damage(exc):
            raise StateDirectoryError(
                f"{path} is damaged ({exc}); the next `run` moves it aside and keeps what still reads"
            ) from None
        raise StateDirectoryError(f"cannot read {path}: {exc}") from None
    statuses = []
    for name, payload in rows:
        status = _parse(name, payload)
        if status is None:
            raise StateDirectoryError(
                f"{path} is damaged (the row of stack {name!r} is not a valid status); "
                "the next `run` moves it aside and keeps what still reads"
            )
        statuses.append(status)
    return statuses


# --- helpers -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _transaction(db: sqlite3.Connection) -> Any:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    finally:
        if db.in_transaction:  # an error, or a COMMIT that failed (disk full): leave nothing open
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")


def _is_damage(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_CORRUPT") or name == "SQLITE_NOTADB"


def _parse(name: Any, payload: Any) -> StackStatus | None:
    """The status a row holds, or None when it is not one (or belongs to another name)."""
    try:
        status = StackStatus.from_json(json.loads(payload))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return status if status.name == name else None


def _read_only_uri(path: Path, *, immutable: bool = False) -> str:
    return path.resolve().as_uri() + "?mode=ro" + ("&immutable=1" if immutable else "")


def _salvage_rows(path: Path) -> tuple[dict[str, str], tuple[str, ...], bool]:
    """What of a damaged database still reads: (name → status JSON, names whose row did not read,
    whether every row read).

    The table is walked from both ends and through its primary key's index, and each row is read
    on its own, so one damaged page costs the rows on it, not every row after it.
    """
    rows: dict[str, str] = {}
    complete = True
    try:
        db = sqlite3.connect(_read_only_uri(path), uri=True)
    except sqlite3.Error:
        return rows, (), False
    with contextlib.closing(db):
        with contextlib.suppress(sqlite3.Error):
            # read pages up to the end of the file even when the header says it was longer (truncated)
            db.execute("PRAGMA writable_schema=ON")
        rowids: set[int] = set()
        names: set[str] = set()
        walks = (
            ("SELECT rowid FROM stacks ORDER BY rowid", rowids),
            ("SELECT rowid FROM stacks ORDER BY rowid DESC", rowids),
            ("SELECT name FROM stacks INDEXED BY sqlite_autoindex_stacks_1", names),
        )
        for query, found in walks:
            try:
                for (key,) in db.execute(query):
                    found.add(key)
            except sqlite3.Error:
                complete = False
        lookups = [("rowid", key) for key in sorted(rowids)] + [("name", key) for key in sorted(names)]
        for column, key in lookups:
            try:
                row = db.execute(f"SELECT name, status FROM stacks WHERE {column} = ?", (key,)).fetchone()
            except sqlite3.Error:
                complete = False
                continue
            if row is None or row[0] in rows:
                continue
            if _parse(row[0], row[1]) is None:
                complete = False
                continue
            rows[row[0]] = row[1]
    lost = tuple(sorted(names - rows.keys()))
    return rows, lost, complete and not lost
