"""Running one decided operation for a stack, on a pool thread, and recording how it ended.

:meth:`OperationRunner.run` is the task the reconciler submits: an ``up``, or a drift check
followed — when drift is found and the stack's policy remediates — by ``up --refresh`` in the
same task. Each operation records its start before the driver is called (a crash leaves that
``inFlight`` record for recovery), then its end:

- success: the fingerprint is applied, requeue hints and the next drift check are scheduled,
  and the images each component's outputs name (as its kind declares) go to the observation store;
- cancelled at shutdown: not a failure of the stack; the next start retries;
- failure: the count for this input goes up, then it backs off (retryable) or stalls
  (permanent, or ``maxFailures`` in a row); pending operations are cleared at once.

Metrics and the ``operation.started`` / ``operation.finished`` log events are emitted here, once
per operation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from automation.daemon import transitions
from automation.daemon.clock import Clock
from automation.daemon.decisions import (
    DRIFT_CHECK,
    DRIFT_REMEDIATION,
    UP,
    Decision,
    Jitter,
    requeue_after,
    retry_delay,
    stall_for,
)
from automation.daemon.driver import (
    ChangeCounts,
    Driver,
    DriverError,
    OperationCancelledError,
    OperationResult,
    PendingOperationsError,
    Progress,
    RecoveryReport,
    StackLockedError,
    StackTarget,
    classify_error,
)
from automation.daemon.health import component_health, previews
from automation.daemon.inputs import StackInputs
from automation.daemon.interfaces import MetricsSink, ObservationSource
from automation.daemon.logs import EventLog
from automation.daemon.recovery import recover_pending_operations
from automation.daemon.settings import DaemonSettings
from automation.daemon.status import Backoff, Operation, StackStatus
from automation.daemon.status_book import StatusBook


@dataclass(frozen=True)
class StackOutcome:
    """What a cycle did with one stack: the line ``run --once`` prints."""

    stack: str
    # unchanged | reconciled | drift-checked | drifted | resumed | failed | stalled | held | waiting
    # | started | busy | removed | elsewhere (another replica owns it)
    state: str
    message: str = ""
    operation: Operation | None = None

    @property
    def failed(self) -> bool:
        return self.state in ("failed", "stalled", "held")

    def line(self) -> str:
        return f"{self.stack}: {self.state}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class _Run:
    """One operation under way: on what, what and why, and since when."""

    stack: StackInputs
    target: StackTarget
    kind: str
    trigger: str
    refresh: bool
    input_key: str  # the input a failure counts against
    started_at: datetime
    t0: float  # the clock's monotonic seconds at the start, for the duration


class OperationRunner:
    """Runs decided operations against the driver and books their results into the statuses."""

    def __init__(
        self,
        book: StatusBook,
        driver: Driver,
        settings: DaemonSettings,
        *,
        observations: ObservationSource,
        metrics: MetricsSink,
        clock: Clock,
        jitter: Jitter,
        log: EventLog,
        progress: Callable[[str], Progress | None],
    ):
        self.book = book
        self.driver = driver
        self.settings = settings
        self.observations = observations
        self.metrics = metrics
        self.clock = clock
        self.jitter = jitter
        self.log = log
        self.progress = progress

    def run(self, stack: StackInputs, target: StackTarget, decision: Decision) -> StackOutcome:
        """One task on the pool: the operation and, for drift with remediation, the fix."""
        if decision.action == DRIFT_CHECK:
            return self._drift_check(stack, target, decision.trigger)
        return self._up(stack, target, decision.trigger, decision.refresh)

    def _begin(self, stack: StackInputs, target: StackTarget, kind: str, trigger: str, refresh: bool) -> _Run:
        """Record the operation as in flight *before* it starts: a crash leaves this for recovery."""
        now = self.clock.now()
        with self.book.edit(stack.name) as status:
            transitions.started(status, kind, trigger, refresh, now=now)
            input_key = stack.input_key(status.handled_tokens, status.handled_deletion_tokens)
        return _Run(
            stack, target, kind, trigger, refresh, input_key, self.clock.now(), self.clock.monotonic()
        )

    # --- up

    def _up(self, stack: StackInputs, target: StackTarget, trigger: str, refresh: bool) -> StackOutcome:
        run = self._begin(stack, target, UP, trigger, refresh)
        self.log.info("operation.started", stack=stack.name, kind=UP, trigger=trigger, refresh=refresh)
        try:
            result = self.driver.up(target, refresh=refresh, progress=self.progress(stack.name))
        except Exception as exc:  # noqa: BLE001 (every failure becomes a typed error and a status)
            return self._failed(run, classify_error(exc))
        return self._up_succeeded(run, result)

    def _up_succeeded(self, run: _Run, result: OperationResult) -> StackOutcome:
        now = self.clock.now()
        duration = self.clock.monotonic() - run.t0
        name = run.stack.name
        policy = self.settings.drift_for(name)
        recorded = self._record_outputs(name, result.outputs)
        requeue = requeue_after(result.outputs, self.settings.requeue_floor_seconds)
        drift_on = policy.enabled and self.driver.drift_detection
        operation = Operation(
            UP,
            "succeeded",
            run.started_at,
            now,
            result.changes,
            trigger=run.trigger,
            message=result.changes.describe(),
            refresh=run.refresh,
        )
        live = self.driver.reads_live_status
        with self.book.edit(name) as status:
            # Only an up that refreshed looked at live state; any other keeps the drift check due
            # when it was, or requeue hints would push it back for ever.
            next_drift_check = now + timedelta(seconds=policy.interval_seconds)
            if not run.refresh and status.next_drift_check_at is not None:
                next_drift_check = min(next_drift_check, status.next_drift_check_at)
            transitions.up_succeeded(
                status,
                operation,
                run.stack,
                components=component_health(result.outputs, live=live),
                previews=previews(result.outputs),
                requeue_at=now + timedelta(seconds=requeue) if requeue is not None else None,
                next_drift_check_at=next_drift_check if drift_on else None,
                history=self.settings.history,
                now=now,
            )
        self.metrics.count_operation(UP, "succeeded")
        self.metrics.observe_reconcile(name, duration)
        self.log.info(
            "operation.finished",
            stack=name,
            kind=UP,
            result="succeeded",
            trigger=run.trigger,
            seconds=round(duration, 3),
            **result.changes.to_json(),
            requeue_after=requeue,
            recorded_from_outputs=recorded or None,
        )
        return StackOutcome(name, "reconciled", f"up ({run.trigger}): {result.changes.describe()}", operation)

    def _record_outputs(self, stack: str, outputs: Mapping[str, Any]) -> list[str]:
        """Hand each component's outputs (``"<kind>/<name>"``) to the store, which keeps what its
        kind declares it observes from them (e.g. a Project's last good images, a WazuhCluster's
        applied indexer replicas), per stack; the subjects whose records changed."""
        recorded = []
        for key, value in outputs.items():
            kind, _, name = key.partition("/")
            if not name or not isinstance(value, Mapping):
                continue
            if self.observations.record_outputs(stack, kind, name, value):
                recorded.append(key)
        if recorded:
            self.observations.save()
        return recorded

    # --- drift check

    def _drift_check(self, stack: StackInputs, target: StackTarget, trigger: str) -> StackOutcome:
        run = self._begin(stack, target, DRIFT_CHECK, trigger, False)
        policy = self.settings.drift_for(stack.name)
        self.log.info("operation.started", stack=stack.name, kind=DRIFT_CHECK, trigger=trigger)
        try:
            result = self.driver.check_drift(target, progress=self.progress(stack.name))
        except Exception as exc:  # noqa: BLE001
            return self._failed(run, classify_error(exc))
        now = self.clock.now()
        resources = [c.describe() for c in result.resources]
        operation = Operation(
            DRIFT_CHECK,
            "succeeded",
            run.started_at,
            now,
            ChangeCounts(update=len(resources)),
            trigger=trigger,
            message=f"{len(resources)} resource(s) differ" if resources else "no drift",
        )
        with self.book.edit(stack.name) as status:
            transitions.drift_checked(
                status,
                operation,
                resources,
                remediate=policy.remediate,
                next_drift_check_at=now + timedelta(seconds=policy.interval_seconds),
                history=self.settings.history,
                now=now,
            )
        self.metrics.count_operation(DRIFT_CHECK, "succeeded")
        self.metrics.observe_reconcile(stack.name, self.clock.monotonic() - run.t0)
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

    # --- failures

    def not_started(
        self, status: StackStatus, stack: StackInputs, error: DriverError, now: datetime
    ) -> StackOutcome:
        """Deciding or preparing an up raised before the driver was called: a failure that changed
        nothing, retried (or stalled) like any other. The caller holds the status for editing."""
        operation = Operation(
            UP, "failed", now, now, trigger="Internal", reason=error.reason, message=error.message
        )
        key = stack.input_key(status.handled_tokens, status.handled_deletion_tokens)
        transitions.failed(status, operation, key, history=self.settings.history, started=False)
        self.metrics.count_failure(error.reason)
        return self._retry_or_stall(status, UP, False, error, operation, now)

    def _failed(self, run: _Run, error: DriverError) -> StackOutcome:
        now = self.clock.now()
        name = run.stack.name
        error.message = run.target.for_people(error.message)
        error.detail = run.target.for_people(error.detail)
        cancelled = isinstance(error, OperationCancelledError)
        result = "cancelled" if cancelled else "failed"
        operation = Operation(
            run.kind,
            result,
            run.started_at,
            now,
            trigger=run.trigger,
            reason=error.reason,
            message=error.message,
            refresh=run.refresh,
        )
        with self.book.edit(name) as status:
            if cancelled:
                transitions.cancelled(status, operation, history=self.settings.history, now=now)
                outcome = StackOutcome(name, "waiting", f"{run.kind} cancelled: {error.message}", operation)
            else:
                transitions.failed(status, operation, run.input_key, history=self.settings.history)
                outcome = self._retry_or_stall(status, run.kind, run.refresh, error, operation, now)
                if isinstance(error, StackLockedError) and error.person_step and status.backoff is None:
                    outcome = self._hold_for_person(status, run, error, operation, now)
            failures = status.failures
        self.metrics.count_operation(run.kind, result)
        self.metrics.observe_reconcile(name, self.clock.monotonic() - run.t0)
        if not cancelled:
            self.metrics.count_failure(error.reason)
        self.log.error(
            "operation.finished",
            stack=name,
            kind=run.kind,
            result=result,
            reason=error.reason,
            message=error.message,
            failures=failures,
            retryable=error.retryable,
        )
        if isinstance(error, PendingOperationsError):
            recover_pending_operations(
                run.target,
                self.book,
                self.driver,
                tokens=run.stack.tokens,
                clock=self.clock,
                history=self.settings.history,
                log=self.log,
            )
        return outcome

    def _hold_for_person(
        self, status: StackStatus, run: _Run, error: StackLockedError, operation: Operation, now: datetime
    ) -> StackOutcome:
        """Retries ran out on a lock nothing here can judge: Stalled with ``NeedsAttention`` and the
        step to take, instead of trying again at every input change."""
        report = RecoveryReport(
            status.name, found=(f"{error.reason}: {error.message}",), manual=(error.person_step,)
        )
        transitions.recovered(
            status, report, error.reason, tokens=run.stack.tokens, history=self.settings.history, now=now
        )
        return StackOutcome(status.name, "failed", f"held for a person: {error.person_step}", operation)

    def _retry_or_stall(
        self,
        status: StackStatus,
        kind: str,
        refresh: bool,
        error: DriverError,
        operation: Operation,
        now: datetime,
    ) -> StackOutcome:
        stall = stall_for(error, status.failures, self.settings.max_failures)
        if stall is not None:
            transitions.stalled(status, stall, now=now)
            return StackOutcome(
                status.name, "failed", f"stalled ({stall.reason}): {stall.message}", operation
            )
        delay = retry_delay(status.failures, self.settings.backoff, self.jitter)
        backoff = Backoff(
            now + timedelta(seconds=delay),
            delay,
            error.reason,
            error.message,
            operation=kind,
            refresh=refresh,
        )
        transitions.retry_scheduled(status, backoff, now=now)
        return StackOutcome(
            status.name,
            "failed",
            f"{error.reason}: {error.message}; retry in {delay:.0f} s "
            f"(failure {status.failures} of {self.settings.max_failures})",
            operation,
        )
