"""The reconciler: per cycle, decide for each stack whether to act, and run what is due on a pool.

A cycle reads every stack file, computes its inputs (documents, fingerprint, force tokens) and
asks :func:`decide` — a pure function of the stack's persisted status, its inputs, the time and
its policy — what to do:

- **nothing** when the fingerprint equals the one last applied and no timer is due: no Pulumi
  operation at all, however often the cycle runs;
- **up** when the inputs changed (or, with ``--refresh``, when a new force-reconcile token appears),
  or to retry after a retryable failure once its backoff has passed, or when a component's
  requeue hint is due;
- **drift-check** (a preview-only refresh) on the stack's drift interval; with a remediating
  policy a found drift is corrected by ``up --refresh`` in the same task;
- **wait** while backing off or stalled — unless the input changed, which bypasses both.

Operations run on a bounded thread pool (``concurrency``, default 4), at most one per stack.
Failures split as in kopf and the Pulumi Kubernetes Operator: retryable errors back off
exponentially with jitter (10 s × 3ⁿ, capped at 1 h); permanent errors, and ``maxFailures``
consecutive retryable ones, mark the stack ``Stalled`` until an input changes.

Everything a restart needs is in the status store, written before an operation starts (its
``inFlight`` record) and after it ends, so :meth:`Reconciler.recover` can tell a crash mid-``up``
from a clean stop and ask the driver to clear what the crash left behind.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automation.daemon.clock import Clock, SystemClock
from automation.daemon.driver import (
    ChangeCounts,
    DriftResult,
    Driver,
    DriverError,
    InvalidSpecError,
    OperationCancelledError,
    OperationResult,
    PendingOperationsError,
    Progress,
    RecoveryReport,
    StackTarget,
    classify_error,
)
from automation.daemon.fingerprint import (
    Fingerprint,
    ProgramSource,
    digest,
    fingerprint,
    force_tokens,
    invalid_file_fingerprint,
    stack_config_material,
)
from automation.daemon.interfaces import MetricsSink, NoMetrics, NoObservations, ObservationSource
from automation.daemon.logs import EventLog
from automation.daemon.settings import DaemonSettings, DriftPolicy
from automation.daemon.status import (
    DRIFTED,
    PHASE_PENDING,
    PHASE_REMOVED,
    READY,
    RECONCILING,
    STALLED,
    Backoff,
    DriftReport,
    Operation,
    StackStatus,
    iso,
    status_document,
)
from automation.daemon.store import StatusStore
from automation.files import atomic_write
from components.documents import StackDocuments, StackFileError, load_stack_file
from components.registry import KindRegistry

UP = "up"
DRIFT_CHECK = "drift-check"

# Triggers: why an operation runs (history, logs, the per-stack line of `run --once`).
INITIAL = "Initial"
INPUT_CHANGED = "InputChanged"
FORCE_RECONCILE = "ForceReconcile"
RETRY = "Retry"
REQUEUE = "Requeue"
DRIFT_TIMER = "DriftInterval"
DRIFT_REMEDIATION = "DriftRemediation"

QUEUED = "Queued"  # the Reconciling reason of an operation waiting for a free worker

Jitter = Callable[[float], float]


def default_jitter(delay: float) -> float:
    """Up to 25 % earlier than scheduled, so stacks that failed together do not retry together."""
    return delay * random.uniform(0.75, 1.0)  # not for cryptography


# --- where things are --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectLayout:
    """The project (program and ``Pulumi.yaml``), its stack files and the daemon's state directory."""

    project_dir: Path
    stacks_dir: Path
    state_dir: Path

    @classmethod
    def at(
        cls, project_dir: Path, *, stacks_dir: Path | None = None, state_dir: Path | None = None
    ) -> ProjectLayout:
        return cls(
            project_dir=project_dir,
            stacks_dir=stacks_dir or project_dir / "stacks",
            state_dir=state_dir or project_dir / ".driftless",
        )

    def stack_names(self) -> list[str]:
        if not self.stacks_dir.is_dir():
            return []
        return sorted({p.stem for pattern in ("*.yaml", "*.yml") for p in self.stacks_dir.glob(pattern)})

    def stack_file(self, name: str) -> Path:
        yml = self.stacks_dir / f"{name}.yml"
        return (
            yml
            if yml.exists() and not (self.stacks_dir / f"{name}.yaml").exists()
            else self.stacks_dir / f"{name}.yaml"
        )

    def observations_file(self, name: str) -> Path:
        return self.state_dir / "observations" / f"{name}.json"


# --- inputs and decisions ----------------------------------------------------------------------


@dataclass(frozen=True)
class StackInputs:
    """What one stack's desired state depends on, read at the start of a cycle."""

    name: str
    stack_file: Path
    documents: StackDocuments | None  # None when the file does not load
    error: InvalidSpecError | None
    fingerprint: Fingerprint
    tokens: Mapping[str, str] = field(default_factory=dict)  # "Kind/name" -> force-reconcile token

    def pending_tokens(self, handled: Mapping[str, str]) -> dict[str, str]:
        return {subject: token for subject, token in self.tokens.items() if handled.get(subject) != token}

    def input_key(self, handled: Mapping[str, str]) -> str:
        """Identifies "the same input" for backoff and stalls: the fingerprint plus unhandled tokens."""
        pending = self.pending_tokens(handled)
        return self.fingerprint.value + (f"+force:{digest(pending)}" if pending else "")


@dataclass(frozen=True)
class Decision:
    action: str  # none | up | drift-check | invalid | wait
    trigger: str = ""
    refresh: bool = False
    detail: str = ""


def decide(
    status: StackStatus,
    inputs: StackInputs,
    now: datetime,
    drift: DriftPolicy,
    drift_supported: bool = True,
) -> Decision:
    """What to do with one stack now. Pure: no I/O, no clock, no driver."""
    key = inputs.input_key(status.handled_tokens)
    new_input = status.failed_input is not None and key != status.failed_input
    stalled = status.is_true(STALLED)

    if inputs.error is not None:
        if stalled and not new_input:
            return Decision("wait", detail="stalled: the stack file is invalid; waiting for it to change")
        return Decision("invalid", trigger=INPUT_CHANGED, detail=inputs.error.message)
    if stalled and not new_input:
        reason = status.condition(STALLED)
        return Decision(
            "wait", detail=f"stalled ({reason.reason if reason else '?'}): waiting for an input to change"
        )
    backoff = status.backoff if not new_input else None
    if backoff is not None and now < backoff.retry_at:
        return Decision("wait", detail=f"backing off ({backoff.reason}); retry at {iso(backoff.retry_at)}")
    retrying = backoff is not None

    pending = inputs.pending_tokens(status.handled_tokens)
    if pending:
        return Decision(
            UP, RETRY if retrying else FORCE_RECONCILE, refresh=True, detail=", ".join(sorted(pending))
        )
    if inputs.fingerprint.value != status.fingerprint:
        trigger = RETRY if retrying else (INITIAL if status.fingerprint is None else INPUT_CHANGED)
        return Decision(UP, trigger, refresh=bool(backoff and backoff.refresh))
    if backoff is not None:  # a failed requeue or drift check, same input: retry that
        return Decision(backoff.operation, RETRY, refresh=backoff.refresh)
    if status.requeue_at is not None and now >= status.requeue_at:
        return Decision(UP, REQUEUE)
    if (
        drift.enabled
        and drift_supported
        and (status.next_drift_check_at is None or now >= status.next_drift_check_at)
    ):
        return Decision(DRIFT_CHECK, DRIFT_TIMER)
    return Decision("none")


@dataclass(frozen=True)
class StackOutcome:
    """What a cycle did with one stack: the line ``run --once`` prints."""

    stack: str
    # unchanged | reconciled | drift-checked | drifted | failed | stalled | waiting | started | busy | removed
    state: str
    message: str = ""
    operation: Operation | None = None

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "stalled")

    def line(self) -> str:
        return f"{self.stack}: {self.state}" + (f": {self.message}" if self.message else "")


# --- the reconciler ----------------------------------------------------------------------------


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
        self._progress = progress or (lambda stack: None)
        self._program = ProgramSource(layout.project_dir)
        self._lock = threading.RLock()  # statuses, futures, the observation store
        self._statuses: dict[str, StackStatus] = {s.name: s for s in store.all()}
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
        with self._lock:
            status = self._statuses.get(name)
            return StackStatus.from_json(status.to_json()) if status else None

    def statuses(self) -> list[StackStatus]:
        with self._lock:
            return [StackStatus.from_json(s.to_json()) for s in self._statuses.values()]

    def status_document(self) -> dict[str, Any]:
        return status_document(self.statuses())

    def busy(self) -> list[str]:
        with self._lock:
            return sorted(name for name, future in self._futures.items() if not future.done())

    def next_due(self) -> datetime | None:
        """The earliest timer (retry, requeue, drift check) of any stack not currently busy."""
        with self._lock:
            times = [
                s.next_check_at
                for s in self._statuses.values()
                if s.next_check_at is not None and s.phase != PHASE_REMOVED and s.name not in self._futures
            ]
        return min(times) if times else None

    # --- inputs

    def load_inputs(self, names: list[str] | None = None) -> dict[str, StackInputs]:
        """Read stack files and compute fingerprints (cheap: no Pulumi, no network)."""
        now = self.clock.now()
        program_digest = self._program.digest()
        found: dict[str, StackInputs] = {}
        for name in names if names is not None else self.layout.stack_names():
            stack_file = self.layout.stack_file(name)
            try:
                documents = load_stack_file(stack_file, self.registry)
            except StackFileError as exc:
                error = InvalidSpecError(
                    f"{len(exc.errors)} problem(s) in {stack_file.name}: "
                    f"{exc.errors[0] if exc.errors else exc}",
                    detail=str(exc),
                    errors=exc.errors,
                )
                found[name] = StackInputs(
                    name, stack_file, None, error, invalid_file_fingerprint(stack_file, program_digest)
                )
                continue
            with self._lock:
                material = self.observations.fingerprint_material(documents, now)
            found[name] = StackInputs(
                name,
                stack_file,
                documents,
                None,
                fingerprint(
                    documents,
                    program_digest=program_digest,
                    config=stack_config_material(self.layout.project_dir, name),
                    observations=material,
                ),
                force_tokens(documents),
            )
        return found

    # --- crash recovery

    def recover(self) -> list[RecoveryReport]:
        """On start: record operations a crash interrupted and let the driver clear locks and pending ops."""
        reports = []
        skipped: set[str] = set()
        names = sorted(set(self.layout.stack_names()) | set(self._statuses))
        for name in names:
            now = self.clock.now()
            with self._lock:
                status = self._status(name)
                interrupted = status.in_flight
                if interrupted is not None:
                    interrupted.result = "interrupted"
                    interrupted.finished_at = now
                    interrupted.message = "the daemon stopped while this operation was running"
                    status.record(interrupted, self.settings.history)
                    status.in_flight = None
                    status.set_condition(RECONCILING, False, "Interrupted", interrupted.message, now)
                queued = status.condition(RECONCILING)
                if queued is not None and queued.status == "True" and queued.reason == QUEUED:
                    status.set_condition(
                        RECONCILING, False, "NotStarted", "queued when the daemon stopped", now
                    )
            stack_file = self.layout.stack_file(name)
            target = StackTarget(name, stack_file, self._existing(self.layout.observations_file(name)))
            try:
                report = self.driver.recover(target)
            except Exception as exc:  # noqa: BLE001 (recovery must not stop the daemon from starting)
                error = classify_error(exc)
                if error.retryable:
                    report = RecoveryReport(
                        name, manual=(f"recovery could not run: {error.reason}: {error.message}",)
                    )
                else:  # e.g. no Pulumi CLI: every operation stalls with this reason; say it once here
                    if error.reason not in skipped:
                        skipped.add(error.reason)
                        self.log.warning("recovery.skipped", reason=error.reason, message=error.message)
                    report = RecoveryReport(name)
            if interrupted is not None:
                report = RecoveryReport(
                    name,
                    (
                        f"{interrupted.kind} started at {iso(interrupted.started_at)} was interrupted",
                        *report.found,
                    ),
                    report.actions,
                    report.manual,
                )
            reports.append(report)
            with self._lock:
                if not report.clean:
                    status.record(
                        Operation(
                            "recover",
                            "needs-attention" if report.manual else "succeeded",
                            now,
                            self.clock.now(),
                            trigger="Startup",
                            message="; ".join([*report.found, *report.actions, *report.manual]),
                        ),
                        self.settings.history,
                    )
                    status.recovery = list(report.manual)
                    self.log.warning(
                        "recovery",
                        stack=name,
                        found=list(report.found),
                        actions=list(report.actions),
                        manual=list(report.manual),
                    )
                self._save(status)
        return reports

    # --- cycles

    def cycle(self, *, wait: bool = True) -> list[StackOutcome]:
        """Decide for every stack and start what is due; with ``wait``, until all of it is done."""
        now = self.clock.now()
        self._reap()
        inputs = self.load_inputs()
        outcomes: dict[str, StackOutcome] = {}
        started: dict[str, Future[StackOutcome]] = {}
        with self._lock:
            self._documents = {name: s.documents for name, s in inputs.items() if s.documents is not None}
            for name in sorted(set(self._statuses) - set(inputs)):
                outcomes[name] = self._removed(name, now)
            for name, stack in inputs.items():
                status = self._status(name)
                if status.phase == PHASE_REMOVED:
                    status.phase = PHASE_PENDING
                status.observed_fingerprint = stack.fingerprint.value
                if name in self._futures and not self._futures[name].done():
                    outcomes[name] = StackOutcome(
                        name,
                        "busy",
                        f"{status.in_flight.kind if status.in_flight else 'operation'} in progress",
                    )
                    continue
                decision = decide(
                    status, stack, now, self.settings.drift_for(name), self.driver.drift_detection
                )
                if decision.action == "none":
                    outcomes[name] = StackOutcome(name, "unchanged")
                    self._save(status)
                elif decision.action == "wait":
                    state = "stalled" if status.is_true(STALLED) else "waiting"
                    outcomes[name] = StackOutcome(name, state, decision.detail)
                    self._save(status)
                elif decision.action == "invalid":
                    outcomes[name] = self._invalid(status, stack, now)
                elif not self._accepting:
                    outcomes[name] = StackOutcome(
                        name, "waiting", "shutting down; not starting new operations"
                    )
                else:
                    started[name] = self._start(status, stack, decision)
        with self._lock:
            self.observations.save()  # fingerprints note first-seen times of new previews
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

    def documents(self) -> dict[str, StackDocuments]:
        """The documents of every stack that loaded at the last cycle (for the sources of change)."""
        with self._lock:
            return dict(self._documents)

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
                    status = self._status(name)
                    status.set_condition(RECONCILING, False, "NotStarted", "the daemon is stopping", now)
                    self._save(status)
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
        with self._lock:
            self.observations.save()
        return left

    # --- internals: starting and finishing operations

    def _status(self, name: str) -> StackStatus:
        status = self._statuses.get(name)
        if status is None:
            status = StackStatus(name)
            self._statuses[name] = status
        status.ensure_conditions(self.clock.now())
        return status

    def _save(self, status: StackStatus) -> None:
        with self._lock:
            status.update_phase()
            status.update_next_check()
            self.store.save(status)
            self.metrics.set_stack_phases({s.name: s.phase for s in self._statuses.values()})

    @staticmethod
    def _existing(path: Path) -> Path | None:
        return path if path.exists() else None

    def _removed(self, name: str, now: datetime) -> StackOutcome:
        status = self._status(name)
        if status.phase != PHASE_REMOVED:
            message = (
                f"{self.layout.stack_file(name)} no longer exists; its resources are left in place "
                f"(`python -m automation destroy --stack {name}` deletes them)"
            )
            status.set_condition(READY, False, "StackFileRemoved", message, now)
            status.phase = PHASE_REMOVED
            status.next_check_at = status.next_drift_check_at = status.requeue_at = None
            status.backoff = None
            # Forget what was applied: if the file comes back, it is applied again from scratch.
            status.fingerprint = None
            self._save(status)
            self.log.warning("stack.removed", stack=name)
        return StackOutcome(name, "removed", "stack file removed; nothing is touched")

    def _invalid(self, status: StackStatus, stack: StackInputs, now: datetime) -> StackOutcome:
        """A stack file that does not load is rejected whole: no operation, Stalled until it changes."""
        assert stack.error is not None
        status.failed_input = stack.input_key(status.handled_tokens)
        status.failures = 0
        status.backoff = None
        status.set_condition(STALLED, True, stack.error.reason, stack.error.message, now)
        status.set_condition(READY, False, stack.error.reason, stack.error.message, now)
        status.set_condition(RECONCILING, False, "Stalled", "", now)
        status.record(
            Operation(
                UP,
                "failed",
                now,
                now,
                trigger=INPUT_CHANGED,
                reason=stack.error.reason,
                message=stack.error.message,
            ),
            self.settings.history,
        )
        self._save(status)
        self.metrics.count_failure(stack.error.reason)
        self.log.error(
            "stack.invalid", stack=stack.name, reason=stack.error.reason, message=stack.error.message
        )
        return StackOutcome(stack.name, "failed", f"stalled ({stack.error.reason}): {stack.error.message}")

    def _start(self, status: StackStatus, stack: StackInputs, decision: Decision) -> Future[StackOutcome]:
        target = self._target(stack)
        now = self.clock.now()
        status.set_condition(
            RECONCILING,
            True,
            QUEUED,
            f"{decision.action}{' --refresh' if decision.refresh else ''} ({decision.trigger}) "
            f"queued at {iso(now)}",
            now,
        )
        self._save(status)
        self._targets[stack.name] = target
        future = self._pool.submit(self._run, stack, target, decision)
        self._kinds[stack.name] = decision.action
        self._futures[stack.name] = future
        future.add_done_callback(lambda _: self.finished.set())
        return future

    def _target(self, stack: StackInputs) -> StackTarget:
        """The driver's view of a stack; writes the observations the program will read."""
        assert stack.documents is not None
        path = self.layout.observations_file(stack.name)
        with self._lock:
            observed = self.observations.for_stack(stack.documents, self.clock.now())
        atomic_write(path, observed.to_json())
        return StackTarget(stack.name, stack.stack_file, path)

    def _begin(self, name: str, kind: str, trigger: str, refresh: bool) -> None:
        """Record the operation as in flight *before* it starts: a crash leaves this for recover()."""
        now = self.clock.now()
        with self._lock:
            status = self._status(name)
            status.in_flight = Operation(kind, "running", now, trigger=trigger, refresh=refresh)
            status.set_condition(
                RECONCILING,
                True,
                "Updating" if kind == UP else "CheckingDrift",
                f"{kind}{' --refresh' if refresh else ''} ({trigger}) started at {iso(now)}",
                now,
            )
            self._save(status)

    def _run(self, stack: StackInputs, target: StackTarget, decision: Decision) -> StackOutcome:
        """One task on the pool: the operation and, for drift with remediation, the fix."""
        if decision.action == DRIFT_CHECK:
            return self._drift_check(stack, target, decision)
        return self._up(stack, target, decision.trigger, decision.refresh)

    def _up(self, stack: StackInputs, target: StackTarget, trigger: str, refresh: bool) -> StackOutcome:
        self._begin(stack.name, UP, trigger, refresh)
        key = self._key(stack)
        started_at, t0 = self.clock.now(), self.clock.monotonic()
        self.log.info("operation.started", stack=stack.name, kind=UP, trigger=trigger, refresh=refresh)
        try:
            result = self.driver.up(target, refresh=refresh, progress=self._progress(stack.name))
        except Exception as exc:  # noqa: BLE001 (every failure becomes a typed error and a status)
            return self._failed(stack, target, UP, trigger, refresh, key, started_at, t0, classify_error(exc))
        return self._up_succeeded(stack, trigger, refresh, started_at, t0, result)

    def _up_succeeded(
        self,
        stack: StackInputs,
        trigger: str,
        refresh: bool,
        started_at: datetime,
        t0: float,
        result: OperationResult,
    ) -> StackOutcome:
        now = self.clock.now()
        duration = self.clock.monotonic() - t0
        policy = self.settings.drift_for(stack.name)
        recorded_images = self._record_images(result.outputs)
        with self._lock:
            status = self._status(stack.name)
            operation = Operation(
                UP,
                "succeeded",
                started_at,
                now,
                result.changes,
                trigger=trigger,
                message=result.changes.describe(),
                refresh=refresh,
            )
            status.in_flight = None
            status.record(operation, self.settings.history)
            status.fingerprint = stack.fingerprint.value
            status.handled_tokens.update(stack.tokens)
            status.failures, status.failed_input, status.backoff = 0, None, None
            status.recovery = []
            status.set_condition(
                READY, True, "UpSucceeded", f"{result.changes.describe()} at {iso(now)}", now
            )
            status.set_condition(RECONCILING, False, "Idle", "", now)
            status.set_condition(STALLED, False, "NotStalled", "", now)
            if refresh and status.is_true(DRIFTED):
                status.set_condition(
                    DRIFTED, False, "Remediated", f"corrected by up --refresh at {iso(now)}", now
                )
                if status.drift is not None:
                    status.drift = DriftReport(now, [])
            requeue = self._requeue_after(result.outputs)
            status.requeue_at = now + timedelta(seconds=requeue) if requeue is not None else None
            drift_on = policy.enabled and self.driver.drift_detection
            status.next_drift_check_at = (
                now + timedelta(seconds=policy.interval_seconds) if drift_on else None
            )
            self._save(status)
        self.metrics.count_operation(UP, "succeeded")
        self.metrics.observe_reconcile(stack.name, duration)
        self.log.info(
            "operation.finished",
            stack=stack.name,
            kind=UP,
            result="succeeded",
            trigger=trigger,
            seconds=round(duration, 3),
            **result.changes.to_json(),
            requeue_after=requeue,
            images_recorded=recorded_images or None,
        )
        return StackOutcome(
            stack.name, "reconciled", f"up ({trigger}): {result.changes.describe()}", operation
        )

    def _drift_check(self, stack: StackInputs, target: StackTarget, decision: Decision) -> StackOutcome:
        self._begin(stack.name, DRIFT_CHECK, decision.trigger, False)
        key = self._key(stack)
        started_at, t0 = self.clock.now(), self.clock.monotonic()
        policy = self.settings.drift_for(stack.name)
        self.log.info("operation.started", stack=stack.name, kind=DRIFT_CHECK, trigger=decision.trigger)
        try:
            result: DriftResult = self.driver.check_drift(target, progress=self._progress(stack.name))
        except Exception as exc:  # noqa: BLE001
            return self._failed(
                stack, target, DRIFT_CHECK, decision.trigger, False, key, started_at, t0, classify_error(exc)
            )
        now = self.clock.now()
        resources = [c.describe() for c in result.resources]
        with self._lock:
            status = self._status(stack.name)
            operation = Operation(
                DRIFT_CHECK,
                "succeeded",
                started_at,
                now,
                ChangeCounts(update=len(resources)),
                trigger=decision.trigger,
                message=f"{len(resources)} resource(s) differ" if resources else "no drift",
            )
            status.in_flight = None
            status.record(operation, self.settings.history)
            status.failures, status.failed_input, status.backoff = 0, None, None
            status.drift = DriftReport(now, resources)
            status.next_drift_check_at = now + timedelta(seconds=policy.interval_seconds)
            status.set_condition(RECONCILING, False, "Idle", "", now)
            if resources:
                mode = (
                    "remediating with up --refresh"
                    if policy.remediate
                    else "detect-only (set drift.remediate to correct)"
                )
                status.set_condition(
                    DRIFTED,
                    True,
                    "DriftDetected",
                    f"{len(resources)} resource(s) differ, {mode}: {'; '.join(resources)}",
                    now,
                )
            else:
                status.set_condition(DRIFTED, False, "NoDrift", f"checked at {iso(now)}", now)
            self._save(status)
        self.metrics.count_operation(DRIFT_CHECK, "succeeded")
        self.metrics.observe_reconcile(stack.name, self.clock.monotonic() - t0)
        self.log.info(
            "operation.finished",
            stack=stack.name,
            kind=DRIFT_CHECK,
            result="succeeded",
            drifted=len(resources),
        )
        if not resources:
            return StackOutcome(stack.name, "drift-checked", "no drift", operation)
        self.metrics.count_drift(stack.name)
        self.log.warning("drift.detected", stack=stack.name, resources=resources, remediate=policy.remediate)
        if not policy.remediate:
            return StackOutcome(
                stack.name, "drifted", f"{len(resources)} resource(s) differ (detect-only)", operation
            )
        return self._up(stack, target, DRIFT_REMEDIATION, True)

    def _failed(
        self,
        stack: StackInputs,
        target: StackTarget,
        kind: str,
        trigger: str,
        refresh: bool,
        key: str,
        started_at: datetime,
        t0: float,
        error: DriverError,
    ) -> StackOutcome:
        now = self.clock.now()
        cancelled = isinstance(error, OperationCancelledError)
        result = "cancelled" if cancelled else "failed"
        with self._lock:
            status = self._status(stack.name)
            operation = Operation(
                kind,
                result,
                started_at,
                now,
                trigger=trigger,
                reason=error.reason,
                message=error.message,
                refresh=refresh,
            )
            status.in_flight = None
            status.record(operation, self.settings.history)
            if cancelled:  # on purpose, at shutdown: not a failure of the stack; the next start retries
                status.set_condition(RECONCILING, False, "Cancelled", error.message, now)
                self._save(status)
                outcome = StackOutcome(stack.name, "waiting", f"{kind} cancelled: {error.message}", operation)
            else:
                status.failures = status.failures + 1 if status.failed_input == key else 1
                status.failed_input = key
                outcome = self._after_failure(status, kind, refresh, error, now, operation)
        self.metrics.count_operation(kind, result)
        self.metrics.observe_reconcile(stack.name, self.clock.monotonic() - t0)
        if not cancelled:
            self.metrics.count_failure(error.reason)
        self.log.error(
            "operation.finished",
            stack=stack.name,
            kind=kind,
            result=result,
            reason=error.reason,
            message=error.message,
            failures=status.failures,
            retryable=error.retryable,
        )
        if isinstance(error, PendingOperationsError):
            self._recover_now(target)
        return outcome

    def _after_failure(
        self,
        status: StackStatus,
        kind: str,
        refresh: bool,
        error: DriverError,
        now: datetime,
        operation: Operation,
    ) -> StackOutcome:
        too_many = status.failures >= self.settings.max_failures
        if not error.retryable or too_many:
            reason = error.reason if not error.retryable else "TooManyFailures"
            message = (
                error.message
                if not error.retryable
                else f"{status.failures} consecutive failures; last: {error.reason}: {error.message}"
            )
            status.backoff = None
            status.set_condition(STALLED, True, reason, f"{message} (waiting for an input to change)", now)
            status.set_condition(READY, False, reason, message, now)
            status.set_condition(RECONCILING, False, "Stalled", "", now)
            self._save(status)
            return StackOutcome(status.name, "failed", f"stalled ({reason}): {message}", operation)
        delay = max(0.0, self.jitter(self.settings.backoff.delay(status.failures)))
        retry_at = now + timedelta(seconds=delay)
        status.backoff = Backoff(
            retry_at, delay, error.reason, error.message, operation=kind, refresh=refresh
        )
        status.set_condition(READY, False, error.reason, error.message, now)
        status.set_condition(
            RECONCILING,
            True,
            "RetryScheduled",
            f"attempt {status.failures + 1} at {iso(retry_at)} (in {delay:.0f} s)",
            now,
        )
        self._save(status)
        return StackOutcome(
            status.name,
            "failed",
            f"{error.reason}: {error.message}; retry in {delay:.0f} s "
            f"(failure {status.failures} of {self.settings.max_failures})",
            operation,
        )

    def _recover_now(self, target: StackTarget) -> None:
        try:
            report = self.driver.recover(target)
        except Exception as exc:  # noqa: BLE001
            self.log.error("recovery.failed", stack=target.name, message=classify_error(exc).message)
            return
        if not report.clean:
            with self._lock:
                status = self._status(target.name)
                status.recovery = list(report.manual)
                self._save(status)
            self.log.warning(
                "recovery",
                stack=target.name,
                found=list(report.found),
                actions=list(report.actions),
                manual=list(report.manual),
            )

    def _key(self, stack: StackInputs) -> str:
        with self._lock:
            return stack.input_key(self._status(stack.name).handled_tokens)

    def _requeue_after(self, outputs: Mapping[str, Any]) -> int | None:
        """The soonest ``requeueAfterSeconds`` any component asked for, no sooner than the floor."""
        hints = []
        for value in outputs.values():
            hint = value.get("requeueAfterSeconds") if isinstance(value, Mapping) else None
            if isinstance(hint, bool):
                continue
            if isinstance(hint, str) and hint.isdigit():
                hint = int(hint)
            if isinstance(hint, (int, float)) and hint > 0:
                hints.append(int(hint))
        if not hints:
            return None
        return max(self.settings.requeue_floor_seconds, min(hints))

    def _record_images(self, outputs: Mapping[str, Any]) -> list[str]:
        """Copy each Project's images (``lastGoodImages``, ``pinnedImages``) into the observation store."""
        recorded = []
        for key, value in outputs.items():
            if not key.startswith("Project/") or not isinstance(value, Mapping):
                continue
            project = key.split("/", 1)[1]
            with self._lock:
                if self.observations.record_project_status(project, value):
                    recorded.append(project)
        if recorded:
            with self._lock:
                self.observations.save()
        return recorded
