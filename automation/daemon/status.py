"""Per-stack status as data: what ``status --format json`` prints, ``/stacks`` serves and SQLite keeps.

The SPEC §3 fields come first (name, phase, conditions, fingerprint, lastOperation); everything
after them is an addition the SPEC allows: history of recent runs, when the stack is next looked
at, its backoff, consecutive failures, the last drift check, what crash recovery found (kept apart
from the operations, so it never displaces ``lastOperation``) and what it left for a person, and
the bookkeeping the reconciler needs to survive a restart (force tokens handled, the input a
failure belongs to, an operation that was in flight when the daemon stopped).

Conditions follow kstatus: ``Ready``, ``Reconciling``, ``Stalled`` and ``Drifted``, each with a
CamelCase reason and a message for people. All four are always present, so a reader never has to
guess whether a missing condition means False or unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from automation.daemon.driver import ChangeCounts

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DRIFTED = "Drifted"
CONDITION_TYPES = (READY, RECONCILING, STALLED, DRIFTED)

QUEUED = "Queued"  # the Reconciling reason of an operation waiting for a free worker

# Phases, in the order a person reads them: the first that applies wins.
PHASE_RECONCILING = "Reconciling"  # an operation is running
PHASE_STALLED = "Stalled"  # waiting for an input to change
PHASE_RETRYING = "Retrying"  # a retryable failure; backing off
PHASE_PENDING = "Pending"  # never applied yet
PHASE_DRIFTED = "Drifted"  # applied, but live state differs and policy is detect-only
PHASE_READY = "Ready"
PHASE_REMOVED = "Removed"  # the stack file is gone; its resources are left alone
PHASES = (
    PHASE_PENDING,
    PHASE_RECONCILING,
    PHASE_READY,
    PHASE_DRIFTED,
    PHASE_RETRYING,
    PHASE_STALLED,
    PHASE_REMOVED,
)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""
    last_transition_time: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
        }
        if self.last_transition_time is not None:
            data["lastTransitionTime"] = iso(self.last_transition_time)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            type=data["type"],
            status=data["status"],
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            last_transition_time=parse_time(data.get("lastTransitionTime")),
        )


@dataclass
class Operation:
    """One run of an operation on a stack: what, why, when, and how it ended."""

    kind: str  # up | refresh | drift-check | destroy
    result: str  # running | succeeded | failed | cancelled | interrupted
    started_at: datetime
    finished_at: datetime | None = None
    changes: ChangeCounts | None = None
    trigger: str = ""  # why it ran: InputChanged, ForceReconcile, Retry, Requeue, DriftRemediation...
    reason: str = ""  # for failures: the error's reason
    message: str = ""
    refresh: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "result": self.result,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(self.finished_at),
            "changes": (self.changes or ChangeCounts()).to_json(),
        }
        if self.trigger:
            data["trigger"] = self.trigger
        if self.reason:
            data["reason"] = self.reason
        if self.message:
            data["message"] = self.message
        if self.refresh:
            data["refresh"] = True
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Operation:
        changes = data.get("changes")
        return cls(
            kind=data["kind"],
            result=data["result"],
            started_at=parse_time(data["startedAt"]) or datetime.now(UTC),
            finished_at=parse_time(data.get("finishedAt")),
            changes=ChangeCounts(**changes) if changes else None,
            trigger=data.get("trigger", ""),
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            refresh=bool(data.get("refresh", False)),
        )


@dataclass
class Backoff:
    """A scheduled retry after a retryable failure."""

    retry_at: datetime
    delay_seconds: float
    reason: str
    message: str
    operation: str = "up"  # what to retry: up | drift-check
    refresh: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "retryAt": iso(self.retry_at),
            "delaySeconds": round(self.delay_seconds, 3),
            "reason": self.reason,
            "message": self.message,
            "operation": self.operation,
            "refresh": self.refresh,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Backoff:
        return cls(
            retry_at=parse_time(data["retryAt"]) or datetime.now(UTC),
            delay_seconds=float(data.get("delaySeconds", 0)),
            reason=data.get("reason", ""),
            message=data.get("message", ""),
            operation=data.get("operation", "up"),
            refresh=bool(data.get("refresh", False)),
        )


@dataclass
class DriftReport:
    checked_at: datetime
    resources: list[str] = field(default_factory=list)  # "update kubernetes:apps/v1:Deployment api-dev"

    def to_json(self) -> dict[str, Any]:
        return {"checkedAt": iso(self.checked_at), "resources": list(self.resources)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DriftReport:
        return cls(
            checked_at=parse_time(data["checkedAt"]) or datetime.now(UTC),
            resources=list(data.get("resources", [])),
        )


@dataclass
class RecoveryRecord:
    """One run of crash recovery that found something: what, what it did, what it left for a person."""

    at: datetime
    trigger: str  # Startup (the daemon started after a crash) | PendingOperations (an up found them)
    found: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso(self.at),
            "trigger": self.trigger,
            "found": list(self.found),
            "actions": list(self.actions),
            "manual": list(self.manual),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecoveryRecord:
        return cls(
            at=parse_time(data.get("at")) or datetime.now(UTC),
            trigger=data.get("trigger", ""),
            found=list(data.get("found", [])),
            actions=list(data.get("actions", [])),
            manual=list(data.get("manual", [])),
        )


@dataclass
class Attention:
    """Crash recovery left something only a person can judge: the stack is held until acknowledged.

    A person acknowledges with a new ``driftless.dev/force-reconcile`` token on a document of the
    stack; a token that was already there when recovery raised the items does not count.
    """

    since: datetime
    items: list[str]
    tokens_seen: dict[str, str] = field(default_factory=dict)  # "Kind/name" -> token, when raised

    def to_json(self) -> dict[str, Any]:
        return {
            "since": iso(self.since),
            "items": list(self.items),
            "forceTokensSeen": dict(self.tokens_seen),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attention:
        return cls(
            since=parse_time(data.get("since")) or datetime.now(UTC),
            items=list(data.get("items", [])),
            tokens_seen=dict(data.get("forceTokensSeen", {})),
        )

    def acknowledgements(self, tokens: Mapping[str, str], handled: Mapping[str, str]) -> dict[str, str]:
        """The force tokens set since the items were raised (and not handled before)."""
        return {
            subject: token
            for subject, token in tokens.items()
            if token != self.tokens_seen.get(subject) and token != handled.get(subject)
        }


@dataclass
class DeletionHold:
    """An ``up`` held because the stack file lost documents a person has not allowed to delete."""

    since: datetime
    file: str
    remaining: int  # documents in the file
    applied: int | None  # documents the last up applied (None: not recorded)
    lost: list[str] = field(default_factory=list)  # "Kind/name" of the documents an up would delete

    def to_json(self) -> dict[str, Any]:
        return {
            "since": iso(self.since),
            "file": self.file,
            "documents": self.remaining,
            "appliedDocuments": self.applied,
            "wouldDelete": list(self.lost),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeletionHold:
        applied = data.get("appliedDocuments")
        return cls(
            since=parse_time(data.get("since")) or datetime.now(UTC),
            file=str(data.get("file", "")),
            remaining=int(data.get("documents", 0)),
            applied=int(applied) if applied is not None else None,
            lost=list(data.get("wouldDelete", [])),
        )


@dataclass
class StackStatus:
    """Everything known about one stack."""

    name: str
    phase: str = PHASE_PENDING
    conditions: list[Condition] = field(default_factory=list)
    fingerprint: str | None = None  # of the inputs last applied successfully
    last_operation: Operation | None = None
    # --- additions to the SPEC shape
    observed_fingerprint: str | None = None  # of the inputs seen at the last cycle
    history: list[Operation] = field(default_factory=list)  # newest first
    next_check_at: datetime | None = None  # the timer acted on next: retry, requeue or drift check
    next_drift_check_at: datetime | None = None
    requeue_at: datetime | None = None
    backoff: Backoff | None = None
    failures: int = 0  # consecutive failures for the current input
    failed_input: str | None = None  # the input key the failures (or the stall) belong to
    # an up failed, was cancelled or was cut short by a crash after it may have changed resources:
    # live state may not match `fingerprint` until an up succeeds, so one runs even on those inputs
    partially_applied: bool = False
    drift: DriftReport | None = None
    in_flight: Operation | None = None  # set while an operation runs; still set after a crash
    handled_tokens: dict[str, str] = field(default_factory=dict)  # "Kind/name" -> force token
    recovery: list[RecoveryRecord] = field(default_factory=list)  # newest first
    attention: Attention | None = None  # what crash recovery left for a person; holds the stack
    # "Kind/name" of the documents the last successful up applied; None in statuses written before
    # they were recorded (the deletion guard then holds only a file with no documents)
    applied_documents: list[str] | None = None
    handled_deletion_tokens: dict[str, str] = field(default_factory=dict)  # "Kind/name" -> token
    deletion_hold: DeletionHold | None = None  # an up that would delete too much; holds the stack

    # --- conditions

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def is_true(self, type_: str) -> bool:
        found = self.condition(type_)
        return found is not None and found.status == "True"

    def set_condition(self, type_: str, status: bool | str, reason: str, message: str, now: datetime) -> None:
        value = status if isinstance(status, str) else ("True" if status else "False")
        existing = self.condition(type_)
        if existing is None:
            self.conditions.append(Condition(type_, value, reason, message, now))
        else:
            if existing.status != value:
                existing.last_transition_time = now
            existing.status, existing.reason, existing.message = value, reason, message
        self.conditions.sort(key=lambda c: CONDITION_TYPES.index(c.type) if c.type in CONDITION_TYPES else 99)

    def ensure_conditions(self, now: datetime) -> None:
        defaults = {
            READY: ("Unknown", "Pending", "not reconciled yet"),
            RECONCILING: ("False", "Idle", ""),
            STALLED: ("False", "NotStalled", ""),
            DRIFTED: ("Unknown", "NotChecked", "no drift check has run"),
        }
        for type_, (status, reason, message) in defaults.items():
            if self.condition(type_) is None:
                self.set_condition(type_, status, reason, message, now)

    def is_queued(self) -> bool:
        """An operation was decided and waits for a free worker."""
        reconciling = self.condition(RECONCILING)
        return reconciling is not None and reconciling.status == "True" and reconciling.reason == QUEUED

    def update_phase(self) -> None:
        if self.phase == PHASE_REMOVED:
            return
        if self.in_flight is not None or self.is_queued():
            self.phase = PHASE_RECONCILING
        elif self.is_true(STALLED):
            self.phase = PHASE_STALLED
        elif self.backoff is not None:
            self.phase = PHASE_RETRYING
        elif self.fingerprint is None:
            self.phase = PHASE_PENDING
        elif self.is_true(DRIFTED):
            self.phase = PHASE_DRIFTED
        else:
            self.phase = PHASE_READY

    def record(self, operation: Operation, limit: int) -> None:
        """Make ``operation`` the last one and keep the newest ``limit`` in history."""
        self.last_operation = operation
        self.history.insert(0, operation)
        del self.history[limit:]

    def record_recovery(self, record: RecoveryRecord, limit: int) -> None:
        """Keep what crash recovery found, newest first; operations and ``lastOperation`` stay as they are."""
        self.recovery.insert(0, record)
        del self.recovery[limit:]

    def update_next_check(self) -> None:
        """The timer the reconciler acts on next; the daemon loop runs a cycle when it passes.

        Stalled: none, only a changed input helps. Backing off: the retry, since nothing else runs
        before it. Otherwise the sooner of the requeue hint and the drift check. (A timer that
        passes without the cycle acting on it would make the loop cycle without pause.)
        """
        if self.is_true(STALLED):
            self.next_check_at = None
        elif self.backoff is not None:
            self.next_check_at = self.backoff.retry_at
        else:
            times = [t for t in (self.requeue_at, self.next_drift_check_at) if t is not None]
            self.next_check_at = min(times) if times else None

    # --- JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "phase": self.phase,
            "conditions": [c.to_json() for c in self.conditions],
            "fingerprint": self.fingerprint,
            "lastOperation": self.last_operation.to_json() if self.last_operation else None,
            "observedFingerprint": self.observed_fingerprint,
            "nextCheckAt": iso(self.next_check_at),
            "nextDriftCheckAt": iso(self.next_drift_check_at),
            "requeueAt": iso(self.requeue_at),
            "backoff": self.backoff.to_json() if self.backoff else None,
            "failures": self.failures,
            "failedInput": self.failed_input,
            "partiallyApplied": self.partially_applied,
            "drift": self.drift.to_json() if self.drift else None,
            "inFlight": self.in_flight.to_json() if self.in_flight else None,
            "handledForceTokens": dict(self.handled_tokens),
            "recovery": [r.to_json() for r in self.recovery],
            "needsAttention": self.attention.to_json() if self.attention else None,
            "appliedDocuments": list(self.applied_documents) if self.applied_documents is not None else None,
            "handledAllowDeletionsTokens": dict(self.handled_deletion_tokens),
            "deletionsHeld": self.deletion_hold.to_json() if self.deletion_hold else None,
            "history": [op.to_json() for op in self.history],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackStatus:
        def optional(key: str, parse: Any) -> Any:
            value = data.get(key)
            return parse(value) if value else None

        return cls(
            name=data["name"],
            phase=data.get("phase", PHASE_PENDING),
            conditions=[Condition.from_json(c) for c in data.get("conditions", [])],
            fingerprint=data.get("fingerprint"),
            last_operation=optional("lastOperation", Operation.from_json),
            observed_fingerprint=data.get("observedFingerprint"),
            history=[Operation.from_json(op) for op in data.get("history", [])],
            next_check_at=parse_time(data.get("nextCheckAt")),
            next_drift_check_at=parse_time(data.get("nextDriftCheckAt")),
            requeue_at=parse_time(data.get("requeueAt")),
            backoff=optional("backoff", Backoff.from_json),
            failures=int(data.get("failures", 0)),
            failed_input=data.get("failedInput"),
            partially_applied=bool(data.get("partiallyApplied", False)),
            drift=optional("drift", DriftReport.from_json),
            in_flight=optional("inFlight", Operation.from_json),
            handled_tokens=dict(data.get("handledForceTokens", {})),
            recovery=[_recovery_record(r) for r in data.get("recovery", [])],
            attention=optional("needsAttention", Attention.from_json),
            applied_documents=_applied_documents(data.get("appliedDocuments")),
            handled_deletion_tokens=dict(data.get("handledAllowDeletionsTokens", {})),
            deletion_hold=optional("deletionsHeld", DeletionHold.from_json),
        )


def _applied_documents(data: Any) -> list[str] | None:
    if not isinstance(data, list):  # an earlier daemon did not record them
        return None
    return [str(subject) for subject in data]


def _recovery_record(data: Any) -> RecoveryRecord:
    if isinstance(data, str):  # an earlier daemon kept only the lines left for a person
        return RecoveryRecord(datetime.now(UTC), "Startup", manual=[data])
    return RecoveryRecord.from_json(data)


def stacks_in_error(stacks: list[StackStatus]) -> list[str]:
    """One line per stack that is not applied because of an error: ``name: Phase (Reason): message``.

    Stalled (an invalid file, a held up, a permanent failure) and Retrying (backing off) stacks;
    what ``/readyz`` lists.
    """
    lines = []
    for status in sorted(stacks, key=lambda s: s.name):
        if status.phase not in (PHASE_STALLED, PHASE_RETRYING):
            continue
        condition = status.condition(STALLED) if status.is_true(STALLED) else status.condition(READY)
        reason = condition.reason if condition else "?"
        message = " ".join((condition.message if condition else "").split())
        lines.append(f"{status.name}: {status.phase} ({reason})" + (f": {message}" if message else ""))
    return lines


def status_document(stacks: list[StackStatus]) -> dict[str, Any]:
    """The ``status --format json`` object (SPEC §3)."""
    return {"stacks": [s.to_json() for s in sorted(stacks, key=lambda s: s.name)]}
