"""What to do with a stack now, and when to try again: pure functions of its status, inputs and the time.

Nothing here reads a file, the clock or the driver, so every rule is tested as a table
(``tests/automation/daemon/test_decisions.py``). :func:`decide` answers, in this order:

- **wait** while crash recovery left something for a person (``NeedsAttention``), whatever else
  changed — unless a new force-reconcile token acknowledges it: then **up** ``--refresh``;
- **invalid** when the stack file does not load (unless it is already stalled on that input);
- **wait** while stalled or backing off — unless an input changed, which bypasses both;
- **up** when a new force-reconcile token appears (with ``--refresh``), when the inputs changed,
  to retry after a retryable failure once its backoff has passed, or when a component's requeue
  hint is due;
- **up** when the inputs are the ones last applied but an ``up`` since then failed, was cancelled
  or was cut short by a crash in a way that may have changed resources (``partiallyApplied``);
- **resume** when a failing stack's inputs are back to the ones last applied and nothing may
  have changed since: the failure is over, with no operation;
- **drift-check** (a preview-only refresh) on the stack's drift interval;
- **none** otherwise: no Pulumi operation at all, however often the cycle runs.

After a failure, :func:`stall_for` says whether the stack stalls (a permanent error, or
``maxFailures`` retryable ones in a row) and :func:`retry_delay` when a retryable one is tried
again: exponential backoff with jitter (10 s × 3ⁿ, capped at 1 h, up to 25 % early).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automation.daemon.driver import DriverError
from automation.daemon.inputs import StackInputs
from automation.daemon.settings import BackoffPolicy, DriftPolicy
from automation.daemon.status import STALLED, StackStatus, iso

# Actions: what decide() asks for.
NOTHING = "none"
UP = "up"
DRIFT_CHECK = "drift-check"
INVALID = "invalid"
WAIT = "wait"
RESUME = "resume"  # no operation: the failure ended because the inputs are the applied ones again

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
    action: str  # none | up | drift-check | invalid | wait | resume
    trigger: str = ""
    refresh: bool = False
    detail: str = ""


def describe(kind: str, trigger: str, refresh: bool) -> str:
    """``up --refresh (ForceReconcile)``: an operation as condition messages name it."""
    return f"{kind}{' --refresh' if refresh else ''} ({trigger})"


def decide(
    status: StackStatus,
    inputs: StackInputs,
    now: datetime,
    drift: DriftPolicy,
    drift_supported: bool = True,
) -> Decision:
    """What to do with one stack now. Pure: no I/O, no clock, no driver."""
    if status.attention is not None:
        acknowledged = status.attention.acknowledgements(inputs.tokens, status.handled_tokens)
        if acknowledged:
            return Decision(UP, ACKNOWLEDGED, refresh=True, detail=", ".join(sorted(acknowledged)))
        return Decision(
            WAIT,
            detail=f"{NEEDS_ATTENTION}: waiting for a person to acknowledge with a new force-reconcile token",
        )
    key = inputs.input_key(status.handled_tokens)
    stalled = status.is_true(STALLED)
    # A stall whose input is unknown (written by an earlier daemon) ends with the next cycle.
    new_input = key != status.failed_input if status.failed_input is not None else stalled

    if inputs.error is not None:
        if stalled and not new_input:
            return Decision(WAIT, detail="stalled: the stack file is invalid; waiting for it to change")
        return Decision(INVALID, trigger=INPUT_CHANGED, detail=inputs.error.message)
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
    if status.requeue_at is not None and now >= status.requeue_at:
        return Decision(UP, REQUEUE)
    if (
        drift.enabled
        and drift_supported
        and (status.next_drift_check_at is None or now >= status.next_drift_check_at)
    ):
        return Decision(DRIFT_CHECK, DRIFT_TIMER)
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


def requeue_after(outputs: Mapping[str, Any], floor_seconds: int) -> int | None:
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
    return max(floor_seconds, min(hints))
