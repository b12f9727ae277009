"""Read a stack file only once it is written: its size and mtime unchanged for the debounce window.

A cycle can start for many reasons (a file event, a stat change seen by polling, a timer, another
stack's operation ending), so the debounce lives here, where stack files are read, rather than in
any one source of change. An editor that truncates a file before writing it, or a tool that
writes it in two steps, leaves a half-written file on disk for a moment; applied, it would delete
whatever the missing half declared.

A file is *settled* when its size and mtime have not changed for ``window`` seconds: either its
mtime is that old (by the real time: file times are the filesystem's, not the daemon's clock), or
the daemon has seen the same size and mtime for that long (by its own clock, which also covers an
mtime in the future). A settled file is read, and checked again after the read: a file that
changed while it was read is not used, and its window starts over.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from automation.daemon.clock import Clock

Signature = tuple[int, int, int, int]  # size, mtime (ns), inode, device


@dataclass(frozen=True)
class Unsettled:
    """A file not read this time: why, and in how many seconds it may be settled."""

    path: Path
    retry_after: float
    reason: str


class SettledFiles:
    """Reads files once they have rested for ``window`` seconds; remembers what it has seen."""

    def __init__(self, clock: Clock, window: float, wall: Callable[[], float] = time.time):
        self.clock = clock
        self.window = window
        self._wall = wall
        self._seen: dict[Path, tuple[Signature, float]] = {}  # path -> signature, first seen (clock)

    def remaining(self, path: Path) -> float:
        """Seconds until ``path`` is settled (0: it is, or it is gone)."""
        try:
            signature = _signature(os.stat(path))
        except OSError:
            return 0.0
        return max(0.0, self.window - self._quiet_for(path, signature))

    def read(self, path: Path) -> bytes | Unsettled:
        """The file's bytes once settled; otherwise when to look again. Raises ``OSError`` when unreadable."""
        try:
            signature = _signature(os.stat(path))
        except FileNotFoundError:  # removed or being replaced since the stacks were listed
            return Unsettled(path, self.window, f"{path.name} disappeared while it was being read")
        quiet = self._quiet_for(path, signature)
        if quiet < self.window:
            return Unsettled(
                path,
                self.window - quiet,
                f"{path.name} changed {max(quiet, 0.0):.1f} s ago; it is read once unchanged for "
                f"{self.window:g} s",
            )
        with open(path, "rb") as handle:
            content = handle.read()
            during = _signature(os.fstat(handle.fileno()))
        try:
            after = _signature(os.stat(path))
        except FileNotFoundError:
            after = None
        if during != signature or after != signature:
            self._seen[path] = (after or during, self.clock.monotonic())
            return Unsettled(path, self.window, f"{path.name} changed while it was being read")
        return content

    def _quiet_for(self, path: Path, signature: Signature) -> float:
        """How long the file has been unchanged, as far as can be told."""
        now = self.clock.monotonic()
        seen = self._seen.get(path)
        if seen is None or seen[0] != signature:
            self._seen[path] = (signature, now)
            seen_for = 0.0
        else:
            seen_for = now - seen[1]
        age = self._wall() - signature[1] / 1e9
        return max(seen_for, age)


def _signature(stat: os.stat_result) -> Signature:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_dev)
