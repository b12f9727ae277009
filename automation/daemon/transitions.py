"""How each event in a stack's life changes its status: queued, started, succeeded, failed, removed...

Pure bookkeeping on a :class:`StackStatus`: no I/O, no clock, no lock. The callers
(:mod:`.operations`, :mod:`.reconciler`, :mod:`.recovery`) hold the status lock, pass the time,
and save the status afterwards. Keeping every transition here means one place says which
conditions, counters and timers an event touches — and that a success always clears what a
failure set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from automation.daemon.decisions import INPUT_CHANGED, NEEDS_ATTENTION, UP, Decision, Stall, describe
from automation.daemon.deletions import DeletionRisk, subjects
from automation.daemon.driver import (
    CliMissingError,
    ConfigurationError,
    InvalidSpecError,
    PendingOperationsError,
    RecoveryReport,
    StackLockedError,
)
from automation.daemon.health import (
    OFFLINE,
    OFFLINE_MESSAGE,
    ComponentHealth,
    Preview,
    not_ready,
    not_ready_message,
    with_checks,
)
from automation.daemon.inputs import StackInputs
from automation.daemon.status import (
    COMPONENTS_NOT_READY,
    DRIFTED,
    PHASE_REMOVED,
    QUEUED,
    READY,
    RECONCILING,
    STALLED,
    Attention,
    Backoff,
    DeletionHold,
    DriftReport,
    Operation,
    RecoveryRecord,
    StackStatus,
    iso,
)

# Failures of an ``up`` that changed nothing: the engine refused to start (or never got to run).
# Any other failed ``up`` may have changed some resources before it failed.
NOTHING_CHANGED = frozenset(
    {
        InvalidSpecError.reason,
        CliMissingError.reason,
        ConfigurationError.reason,
        StackLockedError.reason,
        PendingOperationsError.reason,
    }
)

# --- an operation's way through the pool ---------------------------------------------------------


def queued(status: StackStatus, decision: Decision, *, now: datetime) -> None:
    """Decided, waiting for a free worker (the phase reads ``Reconciling`` already)."""
    message = f"{describe(decision.action, decision.trigger, decision.refresh)} queued at {iso(now)}"
    status.deletion_hold = None  # an up was decided: the file no longer loses documents, or it is allowed
    status.set_condition(RECONCILING, True, QUEUED, message, now)


def started(status: StackStatus, kind: str, trigger: str, refresh: bool, *, now: datetime) -> None:
    """Recorded *before* the driver is called: a crash leaves ``inFlight`` for recovery to find."""
    status.in_flight = Operation(kind, "running", now, trigger=trigger, refresh=refresh)
    status.set_condition(
        RECONCILING,
        True,
        "Updating" if kind == UP else "CheckingDrift",
        f"{describe(kind, trigger, refresh)} started at {iso(now)}",
        now,
    )


def not_started(status: StackStatus, message: str, *, now: datetime) -> None:
    """A queued operation dropped (the daemon stopped before a worker took it)."""
    status.set_condition(RECONCILING, False, "NotStarted", message, now)


def _finished(status: StackStatus, operation: Operation, history: int) -> None:
    status.in_flight = None
    status.record(operation, history)


def _clear_failures(status: StackStatus) -> None:
    status.failures, status.failed_input, status.backoff = 0, None, None


def _applied(status: StackStatus, reason: str, message: str, now: datetime) -> None:
    """The inputs are applied: Ready, unless a component reports that it is not (or cannot tell),
    or the daemon's own check of one failed."""
    components = with_checks(status.components, status.checks)
    if not_ready(components):
        status.set_condition(READY, False, COMPONENTS_NOT_READY, not_ready_message(components), now)
    elif any(c.reason == OFFLINE for c in status.components):
        status.set_condition(READY, True, reason, f"{message}; {OFFLINE_MESSAGE}", now)
    else:
        status.set_condition(READY, True, reason, message, now)


# --- successes -------------------------------------------------------------------------------------


def up_succeeded(
    status: StackStatus,
    operation: Operation,
    inputs: StackInputs,
    *,
    components: list[ComponentHealth],
    previews: list[Preview],
    requeue_at: datetime | None,
    next_drift_check_at: datetime | None,
    history: int,
    now: datetime,
) -> None:
    """The inputs are applied: failures and stalls cleared, a remediated drift resolved, and Ready
    when every component says it is."""
    _finished(status, operation, history)
    status.fingerprint = inputs.fingerprint.value
    status.handled_tokens.update(inputs.tokens)
    status.handled_deletion_tokens.update(inputs.deletion_tokens)
    if inputs.documents is not None:
        status.applied_documents = subjects(inputs.documents)
    status.deletion_hold = None
    _clear_failures(status)
    status.partially_applied = False
    status.components, status.previews = list(components), list(previews)
    _applied(status, "UpSucceeded", f"{operation.message} at {iso(now)}", now)
    status.set_condition(RECONCILING, False, "Idle", "", now)
    status.set_condition(STALLED, False, "NotStalled", "", now)
    if operation.refresh and status.is_true(DRIFTED):
        status.set_condition(DRIFTED, False, "Remediated", f"corrected by up --refresh at {iso(now)}", now)
        if status.drift is not None:
            status.drift = DriftReport(now, [])
    status.requeue_at = requeue_at
    status.next_drift_check_at = next_drift_check_at


def checks_changed(status: StackStatus, checks: list[ComponentHealth], *, now: datetime) -> None:
    """The daemon's own checks of the stack's components changed (a registry began refusing its
    credentials, or accepts them again): an applied stack's Ready follows them at once, without an up."""
    status.checks = list(checks)
    ready = status.condition(READY)
    if ready is None or status.fingerprint is None:
        return
    if ready.status == "True":
        _applied(status, ready.reason, ready.message, now)
    elif ready.reason == COMPONENTS_NOT_READY:
        _applied(status, "ChecksPassed", f"every component is ready again at {iso(now)}", now)


def drift_checked(
    status: StackStatus,
    operation: Operation,
    resources: list[str],
    *,
    remediate: bool,
    next_drift_check_at: datetime,
    history: int,
    now: datetime,
) -> None:
    """A drift check ran: ``resources`` are what differs (none: no drift).

    A stalled stack stays stalled, with the input its stall belongs to: only a change of input
    ends a stall, and forgetting that input would leave the stall waiting for nothing.
    """
    _finished(status, operation, history)
    if not status.is_true(STALLED):
        _clear_failures(status)
        ready = status.condition(READY)
        # only a failed drift check clears Ready without a change of input
        if ready is not None and ready.status != "True" and ready.reason != COMPONENTS_NOT_READY:
            _applied(status, "DriftCheckSucceeded", f"drift check succeeded at {iso(now)}", now)
    status.drift = DriftReport(now, resources)
    status.next_drift_check_at = next_drift_check_at
    status.set_condition(RECONCILING, False, "Idle", "", now)
    if resources:
        mode = (
            "remediating with up --refresh" if remediate else "detect-only (set drift.remediate to correct)"
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


# --- failures --------------------------------------------------------------------------------------


def cancelled(status: StackStatus, operation: Operation, *, history: int, now: datetime) -> None:
    """Interrupted on purpose, at shutdown: not a failure of the stack; the next start retries."""
    _finished(status, operation, history)
    if operation.kind == UP:  # it stopped at a safe point, but maybe after changing some resources
        status.partially_applied = True
    status.set_condition(RECONCILING, False, "Cancelled", operation.message, now)


def failed(
    status: StackStatus, operation: Operation, input_key: str, *, history: int, started: bool = True
) -> None:
    """Count the failure against the input it belongs to; a new input starts the count over.

    ``started=False``: it failed before the driver was called, so it changed nothing.
    """
    _finished(status, operation, history)
    status.failures = status.failures + 1 if status.failed_input == input_key else 1
    status.failed_input = input_key
    if started and operation.kind == UP and operation.reason not in NOTHING_CHANGED:
        status.partially_applied = True


def stalled(status: StackStatus, stall: Stall, *, now: datetime) -> None:
    """Nothing runs for this stack until an input changes."""
    status.backoff = None
    status.set_condition(
        STALLED, True, stall.reason, f"{stall.message} (waiting for an input to change)", now
    )
    status.set_condition(READY, False, stall.reason, stall.message, now)
    status.set_condition(RECONCILING, False, "Stalled", "", now)


def resumed(status: StackStatus, *, now: datetime) -> None:
    """The inputs are back to the ones last applied, and no failed up changed anything since."""
    stall = status.condition(STALLED)
    if stall is not None and stall.status == "True":
        was = f"stalled ({stall.reason})"
    else:
        was = f"retrying ({status.backoff.reason})" if status.backoff is not None else "failing"
    _clear_failures(status)
    status.deletion_hold = None
    _applied(status, "InputsReverted", f"the inputs are back to the ones last applied; no longer {was}", now)
    status.set_condition(RECONCILING, False, "Idle", "", now)
    status.set_condition(STALLED, False, "NotStalled", "", now)


def retry_scheduled(status: StackStatus, backoff: Backoff, *, now: datetime) -> None:
    """A retryable failure: try the same operation again at ``backoff.retry_at``."""
    status.backoff = backoff
    status.set_condition(READY, False, backoff.reason, backoff.message, now)
    status.set_condition(
        RECONCILING,
        True,
        "RetryScheduled",
        f"attempt {status.failures + 1} at {iso(backoff.retry_at)} (in {backoff.delay_seconds:.0f} s)",
        now,
    )


def invalid(
    status: StackStatus, input_key: str, error: InvalidSpecError, *, history: int, now: datetime
) -> None:
    """A stack file that does not load is rejected whole, without an operation: Stalled until it changes."""
    status.deletion_hold = None
    status.failed_input = input_key
    status.failures = 0
    status.backoff = None
    status.set_condition(STALLED, True, error.reason, error.message, now)
    status.set_condition(READY, False, error.reason, error.message, now)
    status.set_condition(RECONCILING, False, "Stalled", "", now)
    status.record(
        Operation(UP, "failed", now, now, trigger=INPUT_CHANGED, reason=error.reason, message=error.message),
        history,
    )


def deletions_held(
    status: StackStatus, risk: DeletionRisk, message: str, input_key: str, *, now: datetime
) -> None:
    """An up would delete documents nobody allowed to go: nothing runs until the file no longer
    loses them or a person allows it (Stalled, ``NeedsAttention``)."""
    since = status.deletion_hold.since if status.deletion_hold is not None else now
    status.deletion_hold = DeletionHold(since, risk.file, risk.remaining, risk.applied, list(risk.lost))
    status.failed_input = input_key
    status.failures = 0
    status.backoff = None
    status.set_condition(STALLED, True, NEEDS_ATTENTION, message, now)
    status.set_condition(READY, False, NEEDS_ATTENTION, message, now)
    status.set_condition(RECONCILING, False, "Stalled", "", now)


# --- the stack file, the daemon's restarts ----------------------------------------------------------


def removed(status: StackStatus, message: str, *, now: datetime) -> None:
    """The stack file is gone: no timers, and nothing counts as applied if the file comes back."""
    status.set_condition(READY, False, "StackFileRemoved", message, now)
    status.phase = PHASE_REMOVED
    status.next_check_at = status.next_drift_check_at = status.requeue_at = None
    status.backoff = None
    status.fingerprint = None  # if the file comes back, it is applied again from scratch


def interrupted(status: StackStatus, *, history: int, now: datetime) -> Operation | None:
    """On start: the operation a crash cut short, recorded as ``interrupted``; a queued one as not started."""
    operation = status.in_flight
    if operation is not None:
        if operation.kind == UP:
            status.partially_applied = True
        operation.result = "interrupted"
        operation.finished_at = now
        operation.message = "the daemon stopped while this operation was running"
        status.record(operation, history)
        status.in_flight = None
        status.set_condition(RECONCILING, False, "Interrupted", operation.message, now)
    if status.is_queued():
        not_started(status, "queued when the daemon stopped", now=now)
    return operation


def recovered(
    status: StackStatus,
    report: RecoveryReport,
    trigger: str,
    *,
    tokens: Mapping[str, str],
    history: int,
    now: datetime,
) -> None:
    """Crash recovery found something: keep what (apart from the operations) and hold the stack
    while anything is left for a person (Stalled, ``NeedsAttention``) — an ``up`` now could, for
    instance, create a second copy of a resource an interrupted create left outside Pulumi's state.

    ``tokens`` are the stack's force tokens now: only a token set after this acknowledges.
    """
    status.record_recovery(
        RecoveryRecord(now, trigger, list(report.found), list(report.actions), list(report.manual)), history
    )
    if not report.manual:
        return
    previous = status.attention
    items = list(previous.items) if previous else []
    items += [item for item in report.manual if item not in items]
    seen = {**(previous.tokens_seen if previous else {}), **tokens}
    status.attention = Attention(previous.since if previous else now, items, seen)
    message = (
        f"crash recovery needs a person: {'; '.join(items)} (once handled, set a new "
        "driftless.dev/force-reconcile token on a document of this stack)"
    )
    status.backoff = None
    status.set_condition(STALLED, True, NEEDS_ATTENTION, message, now)
    status.set_condition(READY, False, NEEDS_ATTENTION, message, now)


def acknowledged(status: StackStatus, *, now: datetime) -> list[str]:
    """A person set a new force token: what recovery left is handled; the stack runs again."""
    items = status.attention.items if status.attention else []
    status.attention = None
    status.set_condition(
        STALLED, False, "Acknowledged", f"{len(items)} recovery item(s) acknowledged at {iso(now)}", now
    )
    return items
