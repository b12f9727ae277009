"""Status persisted in SQLite (``.driftless/state.db``), so it survives restarts and crashes.

One row per stack holds its whole :class:`StackStatus` as JSON. Every save is one transaction, so
a reader (``python -m automation status``, another process) sees either the old status or the new
one, never half of each; a daemon killed mid-write loses at most that one update. WAL mode lets
``status`` read while the daemon writes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from automation.daemon.status import StackStatus

STATE_DB = "state.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stacks (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class StatusStore:
    """Thread-safe status storage; one connection per store, guarded by a lock."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._saved: dict[str, str] = {}
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def save(self, status: StackStatus) -> bool:
        """Persist ``status``; False (and no write) when it is unchanged since the last save."""
        payload = json.dumps(status.to_json(), sort_keys=True)
        if self._saved.get(status.name) == payload:
            return False
        with self._transaction() as db:
            db.execute(
                "INSERT INTO stacks(name, status) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET status = excluded.status, "
                "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                (status.name, payload),
            )
        self._saved[status.name] = payload
        return True

    def load(self, name: str) -> StackStatus | None:
        with self._lock:
            row = self._db.execute("SELECT status FROM stacks WHERE name = ?", (name,)).fetchone()
        return StackStatus.from_json(json.loads(row[0])) if row else None

    def all(self) -> list[StackStatus]:
        with self._lock:
            rows = self._db.execute("SELECT status FROM stacks ORDER BY name").fetchall()
        return [StackStatus.from_json(json.loads(row[0])) for row in rows]

    def delete(self, name: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM stacks WHERE name = ?", (name,))
        self._saved.pop(name, None)

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def meta(self, key: str) -> Any:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
