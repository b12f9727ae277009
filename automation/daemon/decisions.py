"""What to do with a stack now, and when to try again: pure functions of its status, inputs and the time.

Nothing here reads a file, the clock or the driver, so every rule is tested as a table
(``tests/automation/daemon/test_decisions.py``). :func:`decide` answers, in this order:

- **wait** while crash recovery left something for a person (``NeedsAttention``), whatever else
  changed — unless a new force-reconcile token acknowledges it: then **up** ``--refresh``;
- **invalid** when the stack file does not load (unless it is already stalled on that input);
- **hold** when an ``up`` of the file would delete documents nobody allowed to go
  (:mod:`.deletions`): a file with none left, or one that lost more than the guard's share —
  until the file no longer loses them or a person allows it;
- **wait** while stalled or backing off — unless an input changed, which bypasses both;
- **up** when a new force-reconcile token appears (with ``--refresh``), when the inputs changed,
  or to retry after a retryable failure once its backoff has passed;
- **up** when the inputs are the ones last applied but an ``up`` since then failed, was cancelled
  or was cut short by a crash in a way that may have changed resources (``partiallyApplied``);
- **resume** when a failing stack's inputs are back to the ones last applied and nothing may
  have changed since: the failure is over, with no operation;
- **drift-check** (a preview-only refresh) on the stack's drift interval, which no ``up``
  without ``--refresh`` postpones;
- **up** when a component's requeue hint is due (:func:`requeue_after` sets when);
- **none** otherwise: no Pulumi operation at all, however often the cycle runs.

After a failure, :func:`stall_for` says whether the stack stalls (a permanent error, or
``maxFailures`` retryable ones in a row) and :func:`retry_delay` when a retryable one is tried
again: exponential backoff with jitter (10 s × 3ⁿ, capped at 1 h, up to 25 % early).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automation.daemon.deletions import DeletionRisk, deletion_risk
from automation.daemon.driver import DriverError
from automation.daemon.inputs import StackInputs
from automation.daemon.settings import BackoffPolicy, DeletionGuard, DriftPolicy
from automation.daemon.status import STALLED, StackStatus, iso

# Actions: what decide() asks for.
NOTHING = "none"
UP = "up"
DRIFT_CHECK = "drift-check"
INVALID = "invalid"
WAIT = "wait"
RESUME = "resume"  # no operation: the failure ended because the inputs are the applied ones again
HOLD = "hold"  # no operation: an up would delete documents nobody allowed to go

# Triggers: why an operation runs (history, logs, the per-stack line of `run --once`).
INITIAL = "Initial"
INPUT_CHANGED = "InputChanged"
FORCE_RECONCILE = "ForceReconcile"
RETRY = "Retry"
REQUEUE = "Requeue"
DRIFT_TIMER = "DriftInterval"
DRIFT_REMEDIATION = "DriftRemediation"
ACKNOWLEDGED = "Acknowledged"  # a person set a new force token after crash recovery asked for one

TOO_MANY_FAILURES = "TooManyFailures"
NEEDS_ATTENTION = "NeedsAttention"


@dataclass(frozen=True)
class Decision:
    action: str  # none | up | drift-check | invalid | wait | resume | hold
    trigger: str = ""
    refresh: bool = False
    detail: str = ""
    # what an up may delete past the guard (allowed), or would delete (hold)
    deletions: DeletionRisk | None = None


def describe(kind: str, trigger: str, refresh: bool) -> str:
    """``up --refresh (ForceReconcile)``: an operation as condition messages name it."""
    return f"{kind}{' --refresh' if refresh else ''} ({trigger})"


def decide(
    status: StackStatus,
    inputs: StackInputs,
    now: datetime,
    drift: DriftPolicy,
    drift_supported: bool = True,
    *,
    guard: DeletionGuard | None = None,
    deletions_allowed: bool = False,
) -> Decision:
    """What to do with one stack now. Pure: no I/O, no clock, no driver.

    ``guard`` is the stack's deletion guard (None: no guard); ``deletions_allowed`` says the
    operator allowed this file's deletions on the command line (``run --allow-deletions``).
    """
    risk = _deletion_risk(status, inputs, guard)
    allowed = deletions_allowed or bool(inputs.pending_deletion_tokens(status.handled_deletion_tokens))
    if status.attention is not None:
        acknowledged = status.attention.acknowledgements(inputs.tokens, status.handled_tokens)
        if not acknowledged:
            waiting = "waiting for a person to acknowledge with a new force-reconcile token"
            return Decision(WAIT, detail=f"{NEEDS_ATTENTION}: {waiting}")
        if risk is None or allowed:
            return Decision(
                UP, ACKNOWLEDGED, refresh=True, detail=", ".join(sorted(acknowledged)), deletions=risk
            )
    if risk is not None and not allowed:
        return Decision(HOLD, detail=risk.describe(), deletions=risk)
    key = inputs.input_key(status.handled_tokens, status.handled_deletion_tokens)
    stalled = status.is_true(STALLED)
    # A stall whose input is unknown (written by an earlier daemon) ends with the next cycle.
    new_input = key != status.failed_input if status.failed_input is not None else stalled
    if status.deletion_hold is not None:  # held, and now the file loses less, or a person allowed it
        new_input = True

    if inputs.error is not None:
        if stalled and not new_input:
            return Decision(WAIT, detail="stalled: the stack file is invalid; waiting for it to change")
        return Decision(INVALID, trigger=INPUT_CHANGED, detail=inputs.error.message)
    decision = _decide_applied(status, inputs, now, drift, drift_supported, key, stalled, new_input)
    if decision.action == UP and risk is not None:
        return Decision(decision.action, decision.trigger, decision.refresh, decision.detail, risk)
    return decision


def _deletion_risk(
    status: StackStatus, inputs: StackInputs, guard: DeletionGuard | None
) -> DeletionRisk | None:
    if guard is None or inputs.documents is None:
        return None
    return deletion_risk(
        inputs.documents,
        applied=status.applied_documents,
        anything_applied=status.fingerprint is not None
        or any(op.kind == UP and op.result == "succeeded" for op in status.history),
        max_loss_share=guard.max_document_loss_share,
    )


def _decide_applied(
    status: StackStatus,
    inputs: StackInputs,
    now: datetime,
    drift: DriftPolicy,
    drift_supported: bool,
    key: str,
    stalled: bool,
    new_input: bool,
) -> Decision:
    """The rules for a file that loads and that the deletion guard lets through."""
    if stalled and not new_input:
        reason = status.condition(STALLED)
        return Decision(
            WAIT, detail=f"stalled ({reason.reason if reason else '?'}): waiting for an input to change"
        )
    backoff = status.backoff if not new_input else None
    if backoff is not None and now < backoff.retry_at:
        return Decision(WAIT, detail=f"backing off ({backoff.reason}); retry at {iso(backoff.retry_at)}")
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
    if status.partially_applied:  # live state may differ from the applied inputs: apply them again
        return Decision(
            UP,
            INPUT_CHANGED if new_input else RETRY,
            detail="an up that failed or was cut short may have changed resources",
        )
    if new_input:  # failing on other inputs, now back to the applied ones
        return Decision(RESUME, INPUT_CHANGED, detail="back to the applied inputs; nothing to do")
    # A due drift check goes before a due requeue: a stack whose components ask to be looked at
    # often would otherwise never have its live state compared with Pulumi's.
    if (
        drift.enabled
        and drift_supported
        and (status.next_drift_check_at is None or now >= status.next_drift_check_at)
    ):
        return Decision(DRIFT_CHECK, DRIFT_TIMER)
    if status.requeue_at is not None and now >= status.requeue_at:
        return Decision(UP, REQUEUE)
    return Decision(NOTHING)


# --- after a failure ---------------------------------------------------------------------------

Jitter = Callable[[float], float]


def default_jitter(delay: float) -> float:
    """Up to 25 % earlier than scheduled, so stacks that failed together do not retry together."""
    return delay * random.uniform(0.75, 1.0)  # not for cryptography


@dataclass(frozen=True)
class Stall:
    """Retrying cannot help until an input changes: the Stalled condition's reason and message."""

    reason: str
    message: str


def stall_for(error: DriverError, failures: int, max_failures: int) -> Stall | None:
    """Whether ``failures`` consecutive failures for one input, the last being ``error``, stall it."""
    if not error.retryable:
        return Stall(error.reason, error.message)
    if failures >= max_failures:
        return Stall(
            TOO_MANY_FAILURES, f"{failures} consecutive failures; last: {error.reason}: {error.message}"
        )
    return None


def retry_delay(failures: int, backoff: BackoffPolicy, jitter: Jitter) -> float:
    """Seconds until retry number ``failures`` (1 = after the first failure), jittered, never negative."""
    return max(0.0, jitter(backoff.delay(failures)))


# --- after a success ---------------------------------------------------------------------------


def requeue_after(outputs: Mapping[str, Any], min_interval_seconds: int) -> int | None:
    """Seconds until the next ``up``: the soonest ``requeueAfterSeconds`` any component asked for.

    A hint of 0 means "as soon as allowed", and no hint brings the ``up`` sooner than
    ``min_interval_seconds`` (``requeueFloorSeconds`` in ``driftless.yaml``). A negative hint, a
    boolean or text that is not a whole number is no hint at all: None when no component gave one.
    """
    hints = []
    for value in outputs.values():
        hint = value.get("requeueAfterSeconds") if isinstance(value, Mapping) else None
        if isinstance(hint, bool):
            continue
        if isinstance(hint, str) and hint.isdigit():
            hint = int(hint)
        if isinstance(hint, (int, float)) and math.isfinite(hint) and hint >= 0:
            hints.append(int(hint))
    if not hints:
        return None
    return max(min_interval_seconds, min(hints))
