"""The long-running daemon: sources of change in, cycles out, until a signal says stop.

The loop is deliberately plain. Each tick it polls the sources of change (stack files, the
program, git, Vault, preview TTLs, …), and runs a reconciler cycle when any of them reported a
change, a stack's timer (retry, requeue, drift check) is due, an operation just finished, or a
resync interval passed. A cycle recomputes every stack's fingerprint, which is cheap, so a
change reported for one stack can never be missed for another; the fingerprints, not the
sources, decide which stacks run.

Shutdown follows kopf: SIGINT/SIGTERM set a stop event; the loop stops starting operations,
lets running ones finish for the grace period, then asks the driver to cancel what is left
(a second signal cancels at once). Whatever is still running at the very end keeps its
``inFlight`` record, so the next start recovers it. The sources are closed first: a git command
under way is killed, a Vault request under way abandoned, so a hung remote never delays the stop.

:func:`run_once` is ``run --once``: recovery, one poll of the sources, one cycle, with the same
shutdown on a signal and a hard deadline after it, since a one-shot run in CI must end too.
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any

from automation.daemon.clock import Clock, SystemClock
from automation.daemon.fingerprint import digest, documents_material
from automation.daemon.logs import EventLog
from automation.daemon.operations import StackOutcome
from automation.daemon.reconciler import Reconciler
from automation.daemon.status import PHASE_RETRYING, PHASE_STALLED
from automation.sources.base import Background, Change, Source, health_report
from components.documents import StackDocuments

SourcesFactory = Callable[[Mapping[str, StackDocuments], Callable[[], None]], list[Source]]
"""Builds the sources for the loaded stacks; the callable it gets wakes the loop early."""
SourcesUpdate = Callable[[list[Source], Mapping[str, StackDocuments]], None]
"""Hands reloaded documents to existing sources (``automation.sources.update_stacks``)."""


class Daemon:
    """Runs :class:`Reconciler` cycles driven by sources of change until stopped."""

    def __init__(
        self,
        reconciler: Reconciler,
        *,
        sources: SourcesFactory | None = None,
        update_sources: SourcesUpdate | None = None,
        clock: Clock | None = None,
        log: EventLog | None = None,
        tick_seconds: float = 1.0,
        resync_seconds: float = 30.0,
    ):
        self.reconciler = reconciler
        self._sources_factory = sources
        self._update_sources = update_sources
        self._attention = threading.Event()  # a source or a finished operation wants a cycle now
        self.clock = clock or SystemClock()
        self.log = log or reconciler.log
        self.tick_seconds = tick_seconds
        self.resync_seconds = resync_seconds
        self._ready = threading.Event()
        self._sources: list[Source] = []
        self._sources_key: str | None = None
        self._stack_files: tuple[tuple[str, int, int], ...] | None = None
        self.cycles = 0

    def ready(self) -> bool:
        """True once crash recovery is done and the first cycle has decided every stack."""
        return self._ready.is_set()

    def run(self, stop: threading.Event) -> list[str]:
        """Loop until ``stop`` is set; returns stacks whose operations were still running at exit."""
        self.log.info(
            "daemon.starting", driver=self.reconciler.driver.name, stacks=self.reconciler.layout.stack_names()
        )
        try:
            self.reconciler.recover()
        except Exception as exc:  # noqa: BLE001 (start anyway: a stack left over fails on its own)
            self.log.error("recovery.failed", error=f"{type(exc).__name__}: {exc}")
        last_cycle: float | None = None
        try:
            while not stop.is_set():
                now = self.clock.now()
                self._attention.clear()
                changes = self._poll(now)
                due = self.reconciler.next_due()
                finished = self.reconciler.finished.is_set()
                self.reconciler.finished.clear()
                files_changed = self._stack_files_changed()
                resync = last_cycle is None or self.clock.monotonic() - last_cycle >= self.resync_seconds
                if changes or finished or files_changed or resync or (due is not None and due <= now):
                    try:
                        self._cycle()
                    except Exception as exc:  # noqa: BLE001 (a bug in one cycle must not end the daemon)
                        self.log.error(
                            "cycle.failed",
                            error=f"{type(exc).__name__}: {exc}",
                            traceback="".join(traceback.format_exception(exc)).strip(),
                        )
                    last_cycle = self.clock.monotonic()
                if self._attention.is_set() or self.reconciler.finished.is_set():
                    continue
                wait = self.tick_seconds
                if due is not None:
                    wait = max(0.0, min(wait, (due - self.clock.now()).total_seconds()))
                # Sleep on the attention event, so a file change (wake) starts a cycle at once; a
                # stop is seen at the next tick at the latest, or at once when it also wakes us.
                self.clock.wait(wait, self._attention)
        finally:
            self.log.info("daemon.stopping", running=self.reconciler.busy())
            self._close_sources()
            left = self.reconciler.shutdown()
            self.log.info("daemon.stopped", abandoned=left)
        return left

    def wake(self) -> None:
        """Run a cycle as soon as possible (called by sources from their threads)."""
        self._attention.set()

    # --- source health (for /stacks; safe to call from the status endpoint's threads) ----------

    def source_health(self) -> list[dict[str, Any]]:
        """Each polled target's health, stale ones first: a Vault secret or git repository whose
        polls keep failing or timing out, so the daemon works on an old observation of it."""
        return health_report(list(self._sources))

    def _stack_files_changed(self) -> bool:
        """A cheap stat of the stack files, so a stacks directory outside the watched tree is seen too."""
        stacks_dir = self.reconciler.layout.stacks_dir
        found = []
        for name in self.reconciler.layout.stack_names():
            try:
                stat = self.reconciler.layout.stack_file(name).stat()
            except OSError:
                continue
            found.append((name, stat.st_mtime_ns, stat.st_size))
        signature = (("", int(stacks_dir.is_dir()), 0), *found)
        changed = self._stack_files is not None and signature != self._stack_files
        self._stack_files = signature
        return changed

    def _cycle(self) -> None:
        began = self.clock.monotonic()
        outcomes = self.reconciler.cycle(wait=False)
        self.cycles += 1
        for outcome in outcomes:
            if outcome.state not in ("unchanged", "busy", "waiting", "stalled"):
                self.log.info(
                    "stack.decided", stack=outcome.stack, state=outcome.state, detail=outcome.message
                )
        self._ready.set()
        self._refresh_sources()
        # At debug level (`-v`) only: a quiet cycle logs nothing else, so this is what times one.
        self.log.debug(
            "cycle.finished",
            seconds=round(self.clock.monotonic() - began, 4),
            stacks=len(outcomes),
            started=sum(1 for outcome in outcomes if outcome.state == "started"),
        )

    def _poll(self, now: datetime) -> list[Change]:
        return poll_each(list(self._sources), now, self.log)

    def _refresh_sources(self) -> None:
        """(Re)build the sources when the stacks' documents changed: new repos, new secrets to watch."""
        if self._sources_factory is None:
            return
        documents = self.reconciler.documents()
        key = digest({name: documents_material(docs) for name, docs in documents.items()})
        if key == self._sources_key:
            return
        first = self._sources_key is None
        self._sources_key = key
        try:
            if not first and self._update_sources is not None:
                self._update_sources(self._sources, documents)
                return
            self._close_sources()
            self._sources = list(self._sources_factory(documents, self.wake))
        except Exception as exc:  # noqa: BLE001
            self.log.error("sources.failed", error=f"{type(exc).__name__}: {exc}")
            return
        self.log.info("sources.ready", sources=[getattr(s, "name", "?") for s in self._sources])

    def _close_sources(self) -> None:
        for source in self._sources:
            try:
                source.close()
            except Exception as exc:  # noqa: BLE001
                self.log.error("source.close_failed", source=getattr(source, "name", "?"), error=str(exc))
        self._sources = []


@dataclass(frozen=True)
class OnceResult:
    """What ``run --once`` did: each stack's outcome, which stacks failed, and what stopped it."""

    outcomes: list[StackOutcome]
    failed: list[str]  # failed in the cycle, or Retrying or Stalled after it
    signal: int | None = None  # SIGINT or SIGTERM, when one stopped the run


Abandon = Callable[[list[str], int], None]
"""Called with the stacks still running and the signal when a stopped run outlives its deadline."""


def run_once(
    reconciler: Reconciler,
    *,
    abandon: Abandon,
    prepare: Callable[[threading.Event], None] | None = None,
    cancel_wait: float = 30.0,
    settle_seconds: float = 10.0,
) -> OnceResult:
    """Recover, wait until no stack file is being written (up to 30 s), ``prepare`` (one poll of
    the sources, given the event a signal sets), run one cycle and wait for it.

    SIGINT/SIGTERM stop it as they stop the daemon: nothing new starts, running operations may
    finish for the grace period, then they are cancelled (a second signal cancels at once). If an
    operation still runs ``cancel_wait`` seconds after that, or the run has not ended
    ``settle_seconds`` later (e.g. stuck polling a source), ``abandon`` is called — the command
    line exits the process there; the next start recovers what was left.

    A stack counts as failed when its operation failed, and also when it is Retrying or Stalled
    after the cycle (e.g. still backing off from an earlier run), so a CI job never passes on a
    stack that is not applied.
    """
    stop = threading.Event()
    finished = threading.Event()
    received: list[int] = []

    def watch() -> None:
        stop.wait()
        if finished.is_set():
            return
        left = reconciler.shutdown(cancel_wait=cancel_wait)
        if left or not finished.wait(settle_seconds):
            abandon(left or reconciler.busy(), received[0] if received else signal.SIGTERM)

    restore = install_signal_handlers(stop, on_second=reconciler.cancel_all, on_signal=received.append)
    watcher = threading.Thread(target=watch, name="driftless-once-stop", daemon=True)
    watcher.start()
    try:
        reconciler.recover()
        reconciler.wait_for_stack_files(stop)  # before the sources are built from the documents
        if prepare is not None and not stop.is_set():
            prepare(stop)
        outcomes = reconciler.cycle(wait=True)
        reconciler.shutdown(grace=0)
    finally:
        finished.set()
        stop.set()  # releases the watcher when no signal came
        watcher.join()
        restore()
    present = {outcome.stack for outcome in outcomes}
    # "waiting" too: e.g. a stack file still being written after the wait was not reconciled
    failed = {outcome.stack for outcome in outcomes if outcome.failed or outcome.state == "waiting"}
    failed |= {
        status.name
        for status in reconciler.statuses()
        if status.name in present and status.phase in (PHASE_RETRYING, PHASE_STALLED)
    }
    return OnceResult(outcomes, sorted(failed), received[0] if received else None)


def poll_each(sources: list[Source], now: datetime, log: EventLog) -> list[Change]:
    """Poll every source once and log what each found; a source that fails is logged and skipped
    (one broken source must not stop the daemon)."""
    changes: list[Change] = []
    for source in sources:
        try:
            found = source.poll(now)
        except Exception as exc:  # noqa: BLE001
            log.error(
                "source.failed", source=getattr(source, "name", "?"), error=f"{type(exc).__name__}: {exc}"
            )
            continue
        for change in found:
            stacks = sorted(change.stacks) if change.stacks is not None else "all"
            log.info("change.detected", source=change.source, stacks=stacks, detail=change.detail)
        changes.extend(found)
    return changes


def poll_sources_once(
    sources: list[Source], now: datetime, stop: threading.Event, log: EventLog
) -> list[Change]:
    """One poll of every source for ``run --once``: start the polls, wait for the background ones
    (each bounded by its own timeout) unless ``stop`` is set, apply what arrived, close them all.

    Closing kills what is still running, so a signal ends the wait at once and leaves nothing behind.
    """
    changes: list[Change] = []
    try:
        changes += poll_each(sources, now, log)
        background = [source for source in sources if isinstance(source, Background)]
        # Short waits, so a signal is seen within a fraction of a second.
        while not stop.is_set() and not all(source.wait(timeout=0) for source in background):
            stop.wait(0.1)
        if not stop.is_set():
            changes += poll_each(sources, now, log)
    finally:
        for source in sources:
            try:
                source.close()
            except Exception as exc:  # noqa: BLE001
                log.error("source.close_failed", source=source.name, error=str(exc))
    return changes


def install_signal_handlers(
    stop: threading.Event,
    on_second: Callable[[], Any] | None = None,
    on_first: Callable[[], Any] | None = None,
    on_signal: Callable[[int], Any] | None = None,
) -> Callable[[], None]:
    """SIGINT/SIGTERM set ``stop``, call ``on_signal`` with the signal's number and ``on_first``
    (e.g. wake the loop); a second one calls ``on_second`` (cancel now). Returns a restorer."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            if on_second is not None:
                threading.Thread(target=on_second, name="driftless-cancel", daemon=True).start()
            return
        if on_signal is not None:
            on_signal(signum)
        stop.set()
        if on_first is not None:
            on_first()

    for sig in previous:
        signal.signal(sig, handle)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
