"""Small file and process helpers shared by the daemon, its drivers and the observation store."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


def atomic_write(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` so readers see the old file or the new one, never a partial write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def process_start(pid: int | None = None) -> dict[str, Any]:
    """What tells a process apart from a later one that got the same pid, as lock files record it.

    ``startTicks`` is the process's start in clock ticks after boot (field 22 of
    ``/proc/<pid>/stat``) and ``bootId`` names that boot; together they never repeat. Empty where
    ``/proc`` cannot say (not Linux, or the process is gone).
    """
    stat = _proc_stat(os.getpid() if pid is None else pid)
    boot = _boot_id()
    if stat is None or boot is None:
        return {}
    return {"startTicks": stat[1], "bootId": boot}


def pid_alive(pid: int, start: Mapping[str, Any] | None = None) -> bool:
    """Whether the process that wrote a lock still runs on this host.

    A zombie (exited, not yet reaped by its parent) counts as gone. ``start`` is what the lock
    recorded of its writer (:func:`process_start`; other keys are ignored, so a lock's whole
    content may be passed): a live process with that pid but another start time or boot is a
    later process that reuses the pid, so the writer is gone. A lock that recorded no start (an
    older driftless, or Pulumi's own locks) is judged by its pid alone.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True  # /proc does not show it (not Linux, or hidden): existence is all we know
    state, start_ticks = stat
    if state in ("Z", "X"):
        return False
    recorded_ticks, recorded_boot = (start or {}).get("startTicks"), (start or {}).get("bootId")
    if isinstance(recorded_boot, str) and recorded_boot and recorded_boot != _boot_id():
        return False  # written before the last reboot: every pid since then is another process
    if isinstance(recorded_ticks, int) and not isinstance(recorded_ticks, bool):
        return recorded_ticks == start_ticks
    return True


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) from ``/proc/<pid>/stat``, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
    fields = data[data.rfind(b")") + 1 :].split()
    try:
        return fields[0].decode("ascii"), int(fields[19])  # fields 3 and 22 of proc(5)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _boot_id() -> str | None:
    try:
        return BOOT_ID_FILE.read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def hostname() -> str:
    return socket.gethostname()


@dataclass(frozen=True)
class LockHolder:
    """What a lock file says of its writer: our own locks and Pulumi's both record pid and host."""

    record: Mapping[str, Any]
    pid: int
    host: str

    @property
    def gone(self) -> bool:
        """Written on this host by a process that no longer runs: the lock is stale, safe to remove."""
        return self.host == hostname() and not pid_alive(self.pid, self.record)


def lock_holder(path: Path) -> LockHolder | None:
    """The holder of the lock at ``path``; None when there is no lock. An unreadable lock names no
    one, so it is never taken for stale."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        text = ""
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        record = {}
    pid = record.get("pid")
    return LockHolder(record, pid if isinstance(pid, int) else 0, str(record.get("hostname", "")))
