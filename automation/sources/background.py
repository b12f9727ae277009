"""One background job at a time, for a source whose poll reaches a remote system.

The job runs on a daemon thread; its result waits until the source's next ``poll`` takes it on
the loop's thread, so nothing the job observed is applied concurrently with a cycle. The thread
is a daemon thread because a request stuck past its timeout must neither hold up the loop nor the
process's exit: ``close`` abandons a job under way instead of waiting for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from automation.sources.base import Wake

log = logging.getLogger("driftless.sources")

T = TypeVar("T")


class BackgroundJob(Generic[T]):
    """Runs at most one job at a time; the caller takes its result when it is ready."""

    def __init__(self, name: str, wake: Wake | None = None):
        self._name = name
        self._wake = wake
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._result: T | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return not self._idle.is_set()

    @property
    def ready(self) -> bool:
        """A result is waiting to be taken."""
        with self._lock:
            return self._result is not None

    def start(self, job: Callable[[], T]) -> bool:
        """Start ``job`` unless one is under way or the runner is closed; True when started."""
        with self._lock:
            if self._closed or not self._idle.is_set():
                return False
            self._idle.clear()
        thread = threading.Thread(target=self._run, args=(job,), name=f"driftless-{self._name}", daemon=True)
        thread.start()
        return True

    def take(self) -> T | None:
        """The finished job's result (once), or None when there is none."""
        with self._lock:
            result, self._result = self._result, None
            return result

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is under way, at most ``timeout`` seconds; True when none is."""
        return self._idle.wait(timeout)

    def close(self) -> None:
        """Start nothing more; a job under way is abandoned (its result is never applied)."""
        with self._lock:
            self._closed = True

    def _run(self, job: Callable[[], T]) -> None:
        try:
            result: T | None = job()
        except Exception as exc:  # noqa: BLE001 - a crashed poll must not leave the runner busy forever
            # Only the type: the message of a failed request can quote its details.
            log.error("%s poll crashed: %s", self._name, type(exc).__name__)
            result = None
        with self._lock:
            closed = self._closed
            if not closed:
                self._result = result
            self._idle.set()
        if self._wake is not None and not closed:
            self._wake()
