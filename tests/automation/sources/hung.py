"""A remote that hangs, at the wire, and a look at the processes it leaves behind.

:class:`HungServer` is a loopback TCP server that accepts every connection and never answers a
byte, as a Vault or git server stuck behind a wedged proxy does. HTTP clients connect, send their
request and wait: hvac until its read timeout, ``git ls-remote http://…`` (through the
``git-remote-http`` helper git starts) forever.

:func:`processes` reads ``/proc``, so a test can see which processes a command started and check
that none of them is still alive afterwards (a zombie has exited: it holds no socket and runs no
code, only its exit status waits for whoever reaps it).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path


class HungServer:
    """Accepts connections and holds them open without ever answering."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()  # at least one client is waiting for an answer
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="hung-server", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed
            with self._lock:
                if self._closed:
                    connection.close()
                    return
                self._held.append(connection)
            self.connected.set()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            held, self._held = self._held, []
        self._socket.close()
        for connection in held:
            connection.close()


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    pgid: int
    state: str  # "R", "S", "Z" (exited, not yet reaped), ...
    name: str

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X")


def processes() -> dict[int, Process]:
    """Every process on the machine, from ``/proc/<pid>/stat``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (name) state ppid pgrp ...": the name may hold spaces and parentheses
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        state, ppid, pgid = stat[stat.rindex(")") + 2 :].split()[:3]
        found[int(entry.name)] = Process(int(entry.name), int(ppid), int(pgid), state, name)
    return found


def descendants(root: int | None = None) -> list[Process]:
    """The processes whose parent chain leads to ``root`` (default: this process)."""
    root = os.getpid() if root is None else root
    table = processes()
    children: dict[int, list[Process]] = {}
    for process in table.values():
        children.setdefault(process.ppid, []).append(process)
    found: list[Process] = []
    pending = [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child.pid)
    return found


def survivors(seen: list[Process], settle_seconds: float = 5.0) -> list[Process]:
    """Of the processes ``seen`` earlier, those still running, and any running process in one of
    their process groups (a helper re-parented away from us still shows there).

    A process killed by SIGKILL takes a moment to finish exiting (the kernel tears it down after
    the signal is sent), so a process still listed is looked at again for up to
    ``settle_seconds``; one that survives a kill stays listed however long that is.
    """
    groups = {process.pgid for process in seen} - {os.getpgid(0)}
    pids = {process.pid for process in seen}
    deadline = time.monotonic() + settle_seconds
    while True:
        left = [
            process
            for process in processes().values()
            if process.running and (process.pid in pids or process.pgid in groups)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)
