"""The reconciler: per cycle, decide for each stack whether to act, and run what is due on a pool.

A cycle reads every stack's inputs (:mod:`.inputs`: documents, fingerprint, force tokens), asks
:func:`~automation.daemon.decisions.decide` — a pure function of the stack's status, its inputs,
the time and its policy — what to do, and hands each ``up`` or drift check to a bounded thread
pool (``concurrency``, default 4), at most one per stack. What an operation does and how its
result is recorded is :mod:`.operations`; how each event changes a status is
:mod:`.transitions`; crash recovery on start is :mod:`.recovery`.

This module keeps the pool: which stacks are busy, when the next timer is due, and shutdown —
start nothing new, let running operations finish for the grace period, then cancel them.

Each stack is decided on its own: a stack file still being written is left for a later cycle, an
``up`` that would delete documents nobody allowed to go is held (:mod:`.deletions`), and an
exception while one stack is read or decided becomes that stack's failure, never the cycle's.
An operation applies the file's content as the cycle validated it (a copy in the state
directory), so an edit after the decision cannot slip past the checks.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Collection
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime, timedelta
from typing import Any, Protocol

from automation.daemon import transitions
from automation.daemon.clock import Clock, SystemClock
from automation.daemon.decisions import (
    ACKNOWLEDGED,
    HOLD,
    INVALID,
    NOTHING,
    RESUME,
    WAIT,
    Decision,
    Jitter,
    decide,
    default_jitter,
)
from automation.daemon.deletions import subjects
from automation.daemon.driver import Driver, Progress, RecoveryReport, StackTarget, classify_error
from automation.daemon.health import checked
from automation.daemon.inputs import InputReader, StackInputs
from automation.daemon.interfaces import (
    LockedObservations,
    MetricsSink,
    NoMetrics,
    NoObservations,
    ObservationSource,
)
from automation.daemon.layout import ProjectLayout, write_bytes_atomically
from automation.daemon.logs import EventLog
from automation.daemon.operations import OperationRunner, StackOutcome
from automation.daemon.recovery import recover_on_start
from automation.daemon.settings import DaemonSettings
from automation.daemon.status import PHASE_PENDING, PHASE_REMOVED, STALLED, StackStatus, status_document
from automation.daemon.status_book import StatusBook
from automation.daemon.store import StatusStore
from automation.files import atomic_write
from components.documents import StackDocuments
from components.registry import KindRegistry


class Ownership(Protocol):
    """Which replica acts on which stack, when several share the stacks (:mod:`.leases`)."""

    def owns(self, stack: str, now: datetime) -> bool: ...

    def owner(self, stack: str) -> str | None: ...

    def published(self) -> dict[str, dict[str, Any]]:
        """Stack → the status another replica, its owner, published for it."""
        ...


class Reconciler:
    """Decides and runs operations for every stack of a project; one instance per daemon."""

    def __init__(
        self,
        layout: ProjectLayout,
        driver: Driver,
        store: StatusStore,
        *,
        settings: DaemonSettings | None = None,
        observations: ObservationSource | None = None,
        metrics: MetricsSink | None = None,
        clock: Clock | None = None,
        jitter: Jitter | None = None,
        registry: KindRegistry | None = None,
        log: EventLog | None = None,
        progress: Callable[[str], Progress | None] | None = None,
        allow_deletions: Collection[str] = (),
        ownership: Ownership | None = None,
    ):
        self.layout = layout
        self.driver = driver
        self.store = store
        self.settings = settings or DaemonSettings()
        self.observations = observations or NoObservations()
        self.metrics = metrics or NoMetrics()
        self.clock = clock or SystemClock()
        self.jitter = jitter or default_jitter
        self.registry = registry
        self.log = log or EventLog()
        self.ownership = ownership  # sharded (`run --shard-by-lease`): only owned stacks are acted on
        self._recovered: set[str] = set()  # owned stacks crash recovery has run for since taken
        self._lock = threading.RLock()  # statuses, futures, the observation store
        self._book = StatusBook(store, self.metrics, self.clock, self._lock)
        self._observations = LockedObservations(self.observations, self._lock)
        self._inputs = InputReader(
            layout,
            self._observations,
            registry,
            clock=self.clock,
            debounce_seconds=self.settings.debounce_seconds,
        )
        # `run --allow-deletions STACK`: the documents of STACK's file when this process first read
        # it; deletions are allowed while the file holds exactly those
        self._allow_deletions = frozenset(allow_deletions)
        self._allowed_documents: dict[str, frozenset[str]] = {}
        self._settle_due: datetime | None = None  # when a stack file still being written is read again
        self._operations = OperationRunner(
            self._book,
            driver,
            self.settings,
            observations=self._observations,
            metrics=self.metrics,
            clock=self.clock,
            jitter=self.jitter,
            log=self.log,
            progress=progress or (lambda stack: None),
        )
        self._futures: dict[str, Future[StackOutcome]] = {}
        self._targets: dict[str, StackTarget] = {}
        self._kinds: dict[str, str] = {}
        self._documents: dict[str, StackDocuments] = {}
        self._accepting = True
        self._pool = ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="driftless-op"
        )
        self.finished = threading.Event()  # set whenever an operation ends; the loop runs a cycle then

    # --- reading

    def status(self, name: str) -> StackStatus | None:
        return self._book.copy(name)

    def statuses(self) -> list[StackStatus]:
        return self._book.copies()

    def status_document(self) -> dict[str, Any]:
        """Every stack's status; sharing the stacks, the whole fleet's, each naming its owner.

        A stack another replica owns shows the status that replica published, not this replica's
        copy from when it last owned the stack; one no replica has reported on yet shows as Pending.
        """
        document = status_document(self.statuses())
        if self.ownership is None:
            return document
        stacks = {stack["name"]: stack for stack in document["stacks"]}
        for name, status in self.ownership.published().items():
            stacks[name] = {**status, "name": name}
        with self._lock:
            known = set(self._documents)
        for name in known - set(stacks):
            stacks[name] = {"name": name, "phase": PHASE_PENDING, "conditions": []}
        for name, stack in stacks.items():  # each stack says which replica acts on it
            stack["owner"] = self.ownership.owner(name)
        return {**document, "stacks": [stacks[name] for name in sorted(stacks)]}

    def published_status(self, name: str) -> dict[str, Any] | None:
        """What this replica tells the others of a stack it owns: its status without the history."""
        status = self._book.copy(name)
        if status is None:
            return None
        published = status.to_json()
        for private in ("history", "recovery", "handledForceTokens", "handledAllowDeletionsTokens"):
            published.pop(private, None)
        return published

    def busy(self) -> list[str]:
        with self._lock:
            return sorted(name for name, future in self._futures.items() if not future.done())

    def next_due(self) -> datetime | None:
        """The earliest timer (retry, requeue, drift check) of any stack not currently busy."""
        with self._lock:
            due = self._book.next_due(busy=self._futures)
            if self._settle_due is not None and (due is None or self._settle_due < due):
                return self._settle_due
            return due

    def documents(self) -> dict[str, StackDocuments]:
        """The documents of every stack that loaded at the last cycle (for the sources of change)."""
        with self._lock:
            return dict(self._documents)

    def load_inputs(self, names: list[str] | None = None) -> dict[str, StackInputs]:
        """Read stack files and compute fingerprints (cheap: no Pulumi, no network)."""
        now = self.clock.now()
        return self._inputs.read(names if names is not None else self.layout.stack_names(), now)

    def wait_for_stack_files(self, stop: threading.Event, limit: float = 30.0) -> None:
        """Wait (up to ``limit`` seconds, or until ``stop``) until no stack file is being written.

        For ``run --once``: its one cycle should read files that are written, not skip them.
        """
        deadline = self.clock.monotonic() + limit
        while not stop.is_set():
            remaining = self._inputs.settle_remaining(self.layout.stack_names())
            left = deadline - self.clock.monotonic()
            if remaining <= 0 or left <= 0:
                return
            self.clock.wait(min(remaining, left), stop)

    # --- on start

    def recover(self, only: Collection[str] | None = None) -> list[RecoveryReport]:
        """On start: record operations a crash interrupted and let the driver clear locks and pending ops.

        Sharing the stacks with other replicas, a stack is recovered when this replica takes it
        (:meth:`cycle`), never at start for stacks another replica may be running.
        """
        if self.ownership is not None and only is None:
            return []
        return recover_on_start(
            self.layout,
            self._book,
            self.driver,
            clock=self.clock,
            log=self.log,
            history=self.settings.history,
            tokens=lambda name: self.load_inputs([name])[name].tokens,
            only=only,
        )

    # --- cycles

    def cycle(self, *, wait: bool = True) -> list[StackOutcome]:
        """Decide for every stack and start what is due; with ``wait``, until all of it is done."""
        now = self.clock.now()
        self._reap()
        inputs = self.load_inputs()
        # Read once: a Lease the renewing thread takes during this cycle waits for the next one, so
        # no stack is decided here that was not recovered first.
        owned = None if self.ownership is None else {n for n in inputs if self.ownership.owns(n, now)}
        if owned is not None:
            self._recover_taken(owned)
        outcomes: dict[str, StackOutcome] = {}
        started: dict[str, Future[StackOutcome]] = {}
        with self._lock:
            # a stack file still being written keeps the documents it had, for the sources of change
            self._documents = {
                name: documents
                for name, s in inputs.items()
                if (documents := s.documents if s.unsettled is None else self._documents.get(name))
                is not None
            }
            settle = [s.unsettled.retry_after for s in inputs.values() if s.unsettled is not None]
            self._settle_due = now + timedelta(seconds=max(settle)) if settle else None
            for name in sorted(self._book.names() - set(inputs)):
                outcomes[name] = self._removed(name, now)
            for name, stack in inputs.items():
                if self.ownership is not None and owned is not None and name not in owned:
                    owner = self.ownership.owner(name)
                    outcomes[name] = StackOutcome(name, "elsewhere", f"owned by {owner or 'no replica yet'}")
                    continue
                try:
                    self._follow_checks(stack, now)
                    outcome = self._consider(stack, now)
                except Exception as exc:  # noqa: BLE001 (one stack's failure must not stop the others)
                    outcome = self._crashed(stack, exc, now)
                if outcome is None:
                    started[name] = self._futures[name]
                else:
                    outcomes[name] = outcome
        try:
            self._observations.save()  # fingerprints note first-seen times of new previews
        except Exception as exc:  # noqa: BLE001 (saved again at the next cycle)
            self.log.error("observations.save_failed", error=f"{type(exc).__name__}: {exc}")
        if wait:
            for name, future in started.items():
                try:
                    outcomes[name] = future.result()
                except CancelledError:
                    outcomes[name] = StackOutcome(name, "waiting", "not started: the daemon is stopping")
        else:
            for name in started:
                outcomes[name] = StackOutcome(name, "started", self._kinds.get(name, "operation"))
        return [outcomes[name] for name in sorted(outcomes)]

    def _follow_checks(self, stack: StackInputs, now: datetime) -> None:
        """Bring the daemon's own checks of the stack's components (a Registry's credentials) into
        its status: a failed one makes an applied stack NotReady until it passes again."""
        if stack.documents is None:
            return
        found = self._observations.component_checks(stack.documents)
        checks = [checked(subject, *found[subject]) for subject in sorted(found)]
        if checks == self._book.get(stack.name).checks:
            return
        with self._book.edit(stack.name) as status:
            transitions.checks_changed(status, checks, now=now)
        failed = [check.subject for check in checks if check.ready != "True"]
        self.log.info("checks.changed", stack=stack.name, failed=failed or None)

    def _recover_taken(self, owned: set[str]) -> None:
        """Crash recovery for each stack this replica has just taken (its last owner may have died
        mid-operation); a stack lost and taken again is recovered again.

        Not one taken back while this replica's own operation on it still runs: its in-flight record
        and its lock are that live operation's, and Pulumi's lock kept every other replica out."""
        taken = owned - self._recovered
        self._recovered = (self._recovered & owned) | taken
        crashed = taken - set(self.busy())
        if crashed:
            self.recover(sorted(crashed))

    def _consider(self, stack: StackInputs, now: datetime) -> StackOutcome | None:
        """Decide for one present stack, holding the lock; None when its operation was started."""
        name = stack.name
        if stack.unsettled is not None:
            return StackOutcome(name, "waiting", stack.unsettled.reason)
        status = self._book.get(name)
        if status.phase == PHASE_REMOVED:
            status.phase = PHASE_PENDING
        status.observed_fingerprint = stack.fingerprint.value
        if name in self._futures and not self._futures[name].done():
            running = status.in_flight.kind if status.in_flight else "operation"
            return StackOutcome(name, "busy", f"{running} in progress")
        drift = self.settings.drift_for(name)
        if not (drift.enabled and self.driver.drift_detection):
            status.next_drift_check_at = None  # scheduled before drift checks were turned off
        decision = decide(
            status,
            stack,
            now,
            drift,
            self.driver.drift_detection,
            guard=self.settings.deletion_guard_for(name),
            deletions_allowed=self._operator_allows_deletions(stack),
        )
        if decision.action == HOLD:
            return self._held(status, stack, decision, now)
        if decision.action == NOTHING:
            self._book.save(status)
            return StackOutcome(name, "unchanged")
        if decision.action == WAIT:
            self._book.save(status)
            return StackOutcome(name, "stalled" if status.is_true(STALLED) else "waiting", decision.detail)
        if decision.action == INVALID:
            return self._invalid(status, stack, now)
        if decision.action == RESUME:
            transitions.resumed(status, now=now)
            self._book.save(status)
            self.log.info("stack.resumed", stack=name, detail=decision.detail)
            return StackOutcome(name, "resumed", decision.detail)
        if not self._accepting:
            return StackOutcome(name, "waiting", "shutting down; not starting new operations")
        self._start(status, stack, decision)
        return None

    def _removed(self, name: str, now: datetime) -> StackOutcome:
        status = self._book.get(name)
        if status.phase != PHASE_REMOVED:
            message = (
                f"{self.layout.stack_file(name)} no longer exists; its resources are left in place "
                f"(`python -m automation destroy --stack {name}` deletes them)"
            )
            transitions.removed(status, message, now=now)
            self._book.save(status)
            self.log.warning("stack.removed", stack=name)
        return StackOutcome(name, "removed", "stack file removed; nothing is touched")

    def _operator_allows_deletions(self, stack: StackInputs) -> bool:
        """``run --allow-deletions STACK``: true while the file holds what it held when first read."""
        if stack.name not in self._allow_deletions or stack.documents is None:
            return False
        now = frozenset(subjects(stack.documents))
        return self._allowed_documents.setdefault(stack.name, now) == now

    def _held(
        self, status: StackStatus, stack: StackInputs, decision: Decision, now: datetime
    ) -> StackOutcome:
        """An up would delete documents nobody allowed to go: hold the stack, say what and why."""
        risk = decision.deletions
        assert risk is not None
        key = stack.input_key(status.handled_tokens, status.handled_deletion_tokens)
        message = f"{risk.describe()}; {risk.how_to_allow(stack.name)}"
        held = status.deletion_hold
        if held is not None and held.lost == list(risk.lost) and status.failed_input == key:
            self._book.save(status)
            return StackOutcome(stack.name, "stalled", message)
        transitions.deletions_held(status, risk, message, key, now=now)
        self._book.save(status)
        self.log.warning(
            "stack.deletions_held",
            stack=stack.name,
            file=risk.file,
            documents=risk.remaining,
            applied=risk.applied,
            would_delete=list(risk.lost),
        )
        return StackOutcome(stack.name, "held", message)

    def _crashed(self, stack: StackInputs, exc: Exception, now: datetime) -> StackOutcome:
        """Deciding or starting one stack raised: that stack fails (and retries), the cycle goes on."""
        error = classify_error(exc)
        self.log.error(
            "stack.crashed",
            stack=stack.name,
            error=f"{type(exc).__name__}: {exc}",
            traceback="".join(traceback.format_exception(exc)).strip(),
        )
        try:
            with self._book.edit(stack.name) as status:
                outcome = self._operations.not_started(status, stack, error, now)
        except Exception as again:  # noqa: BLE001 (e.g. the status store itself fails)
            self.log.error("stack.crashed", stack=stack.name, error=f"{type(again).__name__}: {again}")
            return StackOutcome(stack.name, "failed", f"{error.reason}: {error.message}")
        return outcome

    def _invalid(self, status: StackStatus, stack: StackInputs, now: datetime) -> StackOutcome:
        """A stack file that does not load is rejected whole: no operation, Stalled until it changes."""
        error = stack.error
        assert error is not None
        transitions.invalid(
            status,
            stack.input_key(status.handled_tokens, status.handled_deletion_tokens),
            error,
            history=self.settings.history,
            now=now,
        )
        self._book.save(status)
        self.metrics.count_failure(error.reason)
        self.log.error("stack.invalid", stack=stack.name, reason=error.reason, message=error.message)
        return StackOutcome(stack.name, "failed", f"stalled ({error.reason}): {error.message}")

    def _start(self, status: StackStatus, stack: StackInputs, decision: Decision) -> None:
        """Queue the operation on the pool; the lock is held, so the stack counts as busy at once."""
        target = self._target(stack)
        if decision.deletions is not None:
            self.log.warning(
                "stack.deletions_allowed",
                stack=stack.name,
                file=decision.deletions.file,
                would_delete=list(decision.deletions.lost),
                allowed_by=self._allowed_by(stack, status),
            )
        if decision.trigger == ACKNOWLEDGED:
            items = transitions.acknowledged(status, now=self.clock.now())
            self.log.warning("recovery.acknowledged", stack=stack.name, tokens=decision.detail, items=items)
        transitions.queued(status, decision, now=self.clock.now())
        self._book.save(status)
        self._targets[stack.name] = target
        future = self._pool.submit(self._operations.run, stack, target, decision)
        self._kinds[stack.name] = decision.action
        self._futures[stack.name] = future
        future.add_done_callback(lambda _: self.finished.set())

    def _allowed_by(self, stack: StackInputs, status: StackStatus) -> str:
        tokens = stack.pending_deletion_tokens(status.handled_deletion_tokens)
        if tokens:
            return ", ".join(f"{subject}: {token}" for subject, token in sorted(tokens.items()))
        return "run --allow-deletions"

    def _target(self, stack: StackInputs) -> StackTarget:
        """The driver's view of a stack; writes the observations the program will read, and the
        stack file's content as this cycle validated it, which is what the operation applies."""
        assert stack.documents is not None
        assert stack.content is not None
        path = self.layout.observations_file(stack.name)
        observed = self._observations.for_stack(stack.documents, self.clock.now())
        atomic_write(path, observed.to_json())
        validated = self.layout.validated_stack_file(stack.name, stack.stack_file)
        write_bytes_atomically(validated, stack.content)
        return StackTarget(stack.name, validated, path, source_file=stack.stack_file)

    def _reap(self) -> None:
        """Forget finished operations; an exception here is a bug in the daemon, so log it loudly."""
        with self._lock:
            done = {name: f for name, f in self._futures.items() if f.done()}
            for name in done:
                del self._futures[name]
                self._targets.pop(name, None)
                self._kinds.pop(name, None)
        for name, future in done.items():
            error = future.exception() if not future.cancelled() else None
            if error is not None:
                self.log.error("operation.crashed", stack=name, error=f"{type(error).__name__}: {error}")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for every running operation; True when none is left."""
        with self._lock:
            futures = list(self._futures.values())
        _, not_done = wait_futures(futures, timeout=timeout)
        return not not_done

    # --- shutdown

    def stop_accepting(self) -> None:
        """Start nothing new: later cycles start no operation, queued ones are dropped."""
        now = self.clock.now()
        with self._lock:
            self._accepting = False
            for name, future in self._futures.items():
                if future.cancel():  # only succeeds for an operation still waiting for a worker
                    with self._book.edit(name) as status:
                        transitions.not_started(status, "the daemon is stopping", now=now)
                    self.log.info("operation.dropped", stack=name, reason="stopping")

    def cancel_all(self) -> list[str]:
        """Ask the driver to interrupt every running operation; returns the stacks asked."""
        with self._lock:
            busy = [
                (name, self._targets[name])
                for name, f in self._futures.items()
                if not f.done() and name in self._targets
            ]
        for name, target in busy:
            self.log.warning("operation.cancelling", stack=name)
            self.driver.cancel(target)
        return [name for name, _ in busy]

    def shutdown(self, grace: float | None = None, cancel_wait: float = 30.0) -> list[str]:
        """Start nothing new; let running operations finish for ``grace`` seconds, then cancel them.

        Returns the stacks whose operations were still running at the end (their ``inFlight``
        record stays in the store, so the next start recovers them).
        """
        self.stop_accepting()
        grace = self.settings.grace_period_seconds if grace is None else grace
        if not self.wait_idle(grace):
            self.cancel_all()
            self.wait_idle(cancel_wait)
        left = self.busy()
        self._pool.shutdown(wait=not left, cancel_futures=True)
        self._observations.save()
        return left
