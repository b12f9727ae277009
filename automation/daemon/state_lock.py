"""One process per state directory: ``<state>/daemon.lock``, held with ``flock`` while the process runs.

Two processes on one state directory would both believe they own its stacks: both would run
``up`` for the same change, and each one's crash recovery would take the other's running
operation (its ``inFlight`` record, its backend lock) for the leftovers of a crash. So ``run``
(both modes) and the Pulumi commands take this lock first, and a second process stops at once
with the holder's pid. The kernel drops an ``flock`` when its process ends, however it ends, so
a crash never leaves a stale lock behind. ``--dry-run`` keeps its state in ``<state>/dry-run``,
so a dry run beside the real daemon takes a lock of its own.

A state directory that cannot be written (read-only, full, not a directory) is a
:class:`StateDirectoryError`: one line naming the path, never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from automation.files import hostname, pid_alive, process_start
from automation.times import now_iso

LOCK_FILE = "daemon.lock"


class StateDirectoryError(Exception):
    """The state directory, or a file in it, cannot be used; the message names the path and why."""


def os_error_text(exc: OSError) -> str:
    """``Read-only file system`` rather than ``[Errno 30] Read-only file system: '/x'``."""
    return exc.strerror or str(exc)


class StateDirectoryBusyError(Exception):
    """Another process holds the state directory's lock."""

    def __init__(self, state_dir: Path, holder: dict[str, Any]):
        self.state_dir = state_dir
        self.holder = holder
        details = [f"pid {holder.get('pid', 'unknown')}"]
        if holder.get("host") and holder["host"] != hostname():
            details.append(f"on {holder['host']}")
        elif isinstance(holder.get("pid"), int) and not pid_alive(holder["pid"], holder):
            # the kernel says the lock is held, so a process it forked still holds it
            details[0] += " (exited; a process it started still holds the lock)"
        if holder.get("command"):
            details.append(f"`{holder['command']}`")
        if holder.get("since"):
            details.append(f"since {holder['since']}")
        super().__init__(
            f"another driftless process ({', '.join(details)}) is using the state directory {state_dir}; "
            "stop it first, or give this one another --state-dir"
        )


class StateLock:
    """The exclusive lock of one state directory, held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, state_dir: Path, command: str):
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        """Take the lock, or raise :class:`StateDirectoryBusyError` at once (never waits).

        Raises :class:`StateDirectoryError` when the directory or the lock file cannot be written.
        """
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateDirectoryError(
                f"cannot use the state directory {self.state_dir}: cannot create {self.path.name}: "
                f"{os_error_text(exc)}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise StateDirectoryBusyError(self.state_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        owner = {
            "pid": os.getpid(),
            "host": hostname(),
            "command": self.command,
            "since": now_iso(),
            **process_start(),
        }
        try:
            os.ftruncate(fd, 0)
            data, written = json.dumps(owner).encode("utf-8"), 0
            while written < len(data):  # a full disk may take part of it, and fail on the rest
                written += os.pwrite(fd, data[written:], written)
        except OSError as exc:
            os.close(fd)
            raise StateDirectoryError(
                f"cannot use the state directory {self.state_dir}: cannot write {self.path.name}: "
                f"{os_error_text(exc)}"
            ) from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the descriptor drops the flock
        self._fd = None

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
