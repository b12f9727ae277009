"""Stack files and the program's source, watched with watchfiles.

A stack file change (``stacks/<name>.yaml``, or its Pulumi config ``Pulumi.<name>.yaml``) affects
that stack only; a change to the program (``__main__.py``, ``Pulumi.yaml``, anything under
``components/`` or ``connectors/``) affects every stack. watchfiles groups a burst of writes (an
editor's save, a ``git pull``) into one batch after its debounce, and this source turns each batch
into at most one change per kind.

The watchers run in background threads (the Rust notify backend; polling when notifications are
unavailable or ``force_polling`` is set) and push to a queue that :meth:`FileSource.poll` drains,
so the daemon's loop never blocks on the filesystem. ``wake`` is called when something arrives, so
a loop sleeping until its next timer can react at once.

The polling fallback (notify's PollWatcher) compares modification times in whole seconds, so a
second write within the same second as the previous one may go unseen; the first write of the
burst is seen, and the daemon reads the files when it reconciles, so only such a write landing
after that read could wait for the next change.

A change reported here only wakes the daemon; it never decides when a file is read. Whatever
starts a cycle (an event from here, the daemon's own stat of the stack files, a timer), the
daemon reads a stack file only once its size and mtime have rested for the same debounce
window (``debounceSeconds`` in ``driftless.yaml``, passed here as ``debounce_ms``), so a file an
editor or a tool is still writing is never applied half-written.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path

import watchfiles

from automation.sources.base import Change, Wake

log = logging.getLogger("driftless.sources.files")

STACKS_DIR = "stacks"
# Program source: directories (watched recursively) and files in the project root.
PROGRAM_DIRS = ("components", "connectors")
PROGRAM_FILES = ("__main__.py", "Pulumi.yaml")
STACK_SUFFIXES = (".yaml", ".yml")


class FileSource:
    """Watches ``stacks/`` and the program source under ``project_dir``."""

    name = "files"

    def __init__(
        self,
        project_dir: Path,
        *,
        debounce_ms: int = 1_600,
        step_ms: int = 50,
        force_polling: bool | None = None,
        poll_delay_ms: int = 300,
        rust_timeout_ms: int = 1_000,
        wake: Wake | None = None,
    ):
        self.project_dir = Path(project_dir).resolve()
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._force_polling = force_polling
        self._poll_delay_ms = poll_delay_ms
        self._rust_timeout_ms = rust_timeout_ms
        self._wake = wake
        self._events: queue.SimpleQueue[Path] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[_Watcher] = []

        recursive = [self.project_dir / d for d in (STACKS_DIR, *PROGRAM_DIRS)]
        self._start([p for p in recursive if p.is_dir()], recursive=True)
        # The root is watched without recursion: it holds .driftless/ (state written by every
        # operation) and .git/, whose churn must not wake the daemon.
        self._start([self.project_dir], recursive=False)

    def _start(self, paths: list[Path], *, recursive: bool) -> None:
        if not paths:
            return
        watcher = _Watcher(
            paths,
            recursive=recursive,
            on_change=self._on_change,
            stop=self._stop,
            debounce_ms=self._debounce_ms,
            step_ms=self._step_ms,
            force_polling=self._force_polling,
            poll_delay_ms=self._poll_delay_ms,
            rust_timeout_ms=self._rust_timeout_ms,
        )
        watcher.start()
        self._threads.append(watcher)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Block until every watcher is watching (changes before that may be missed)."""
        return all(thread.ready.wait(timeout) for thread in self._threads)

    @property
    def running(self) -> bool:
        """True while any watcher thread is alive."""
        return any(thread.is_alive() for thread in self._threads)

    def _on_change(self, paths: Iterable[Path]) -> None:
        # Directories are skipped: their own events carry no content change, and under polling a
        # directory's mtime moves whenever Python writes __pycache__ into it (that is, whenever the
        # daemon renders the program), which would otherwise look like a program change.
        relevant = [p for p in paths if not p.is_dir() and self.classify(p) is not None]
        for path in relevant:
            self._events.put(path)
        if relevant and self._wake is not None:
            self._wake()

    def classify(self, path: Path) -> tuple[str, str | None] | None:
        """``("files", stack)`` for a stack's own file, ``("program", None)`` for program source."""
        try:
            relative = Path(path).resolve().relative_to(self.project_dir)
        except ValueError:
            return None
        parts = relative.parts
        if not parts:
            return None
        if len(parts) == 2 and parts[0] == STACKS_DIR and relative.suffix in STACK_SUFFIXES:
            return ("files", relative.stem)
        if parts[0] in PROGRAM_DIRS and len(parts) > 1:
            return ("program", None)
        if len(parts) == 1:
            name = parts[0]
            if name in PROGRAM_FILES:
                return ("program", None)
            if name.startswith("Pulumi.") and name.endswith(STACK_SUFFIXES) and name.count(".") == 2:
                return ("files", name.split(".")[1])  # Pulumi.<stack>.yaml: that stack's config
        return None

    def poll(self, now: datetime) -> list[Change]:
        """Everything the watchers saw since the last poll, as at most one change per kind."""
        stacks: set[str] = set()
        stack_files: set[str] = set()
        program_files: set[str] = set()
        while True:
            try:
                path = self._events.get_nowait()
            except queue.Empty:
                break
            kind = self.classify(path)
            if kind is None:
                continue
            relative = str(Path(path).resolve().relative_to(self.project_dir))
            if kind[0] == "files" and kind[1] is not None:
                stacks.add(kind[1])
                stack_files.add(relative)
            else:
                program_files.add(relative)
        changes = []
        if program_files:
            changes.append(Change("program", None, f"program source changed: {_list(program_files)}"))
        if stacks:
            changes.append(Change("files", frozenset(stacks), f"stack files changed: {_list(stack_files)}"))
        return changes

    def next_due(self, now: datetime) -> datetime | None:
        """Now when events are waiting; otherwise None (this source only reacts to events)."""
        return None if self._events.empty() else now

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)


class _Watcher(threading.Thread):
    """One ``watchfiles.watch`` loop in a daemon thread, falling back to polling on failure."""

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        recursive: bool,
        on_change: Callable[[Iterable[Path]], None],
        stop: threading.Event,
        debounce_ms: int,
        step_ms: int,
        force_polling: bool | None,
        poll_delay_ms: int,
        rust_timeout_ms: int,
    ):
        super().__init__(name=f"driftless-watch-{paths[0].name}", daemon=True)
        self.paths = list(paths)
        self.recursive = recursive
        self.ready = threading.Event()
        self._on_change = on_change
        self._stop_event = stop
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._poll_delay_ms = poll_delay_ms
        self._rust_timeout_ms = rust_timeout_ms
        self._force_polling = force_polling

    def run(self) -> None:
        force_polling = self._force_polling
        while not self._stop_event.is_set():
            try:
                self._watch(force_polling)
                return
            except (OSError, RuntimeError) as exc:
                if force_polling:
                    log.error("file watcher stopped: %s", exc, extra={"paths": [str(p) for p in self.paths]})
                    self.ready.set()
                    return
                # e.g. the inotify watch limit is reached: polling needs no kernel resources
                log.warning("file notifications unavailable (%s); falling back to polling", exc)
                force_polling = True

    def _watch(self, force_polling: bool | None) -> None:
        for batch in watchfiles.watch(
            *self.paths,
            stop_event=self._stop_event,
            # yield empty batches on timeout: the first one proves the watcher is set up
            yield_on_timeout=True,
            force_polling=force_polling,
            recursive=self.recursive,
            raise_interrupt=False,
            debounce=self._debounce_ms,
            step=self._step_ms,
            poll_delay_ms=self._poll_delay_ms,
            rust_timeout=self._rust_timeout_ms,
        ):
            self.ready.set()
            if batch:
                self._on_change(Path(path) for _, path in batch)


def _list(items: set[str], limit: int = 5) -> str:
    shown = sorted(items)[:limit]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")
