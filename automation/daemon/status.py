"""Per-stack status as data: what ``status --format json`` prints, ``/stacks`` serves and SQLite keeps.

The fields every status reader relies on come first (name, phase, conditions, fingerprint,
lastOperation); everything after them is an addition: history of recent runs, when the stack is
next looked at, its backoff, consecutive failures, the last drift check, what crash recovery
found (kept apart from the operations, so it never displaces ``lastOperation``) and what it left
for a person, and the bookkeeping the reconciler needs to survive a restart (force tokens handled, the input a
failure belongs to, an operation that was in flight when the daemon stopped), and what the
components said of their health and previews at the last ``up``.

Conditions follow kstatus: ``Ready``, ``Reconciling``, ``Stalled`` and ``Drifted``, each with a
CamelCase reason and a message for people. All four are always present, so a reader never has to
guess whether a missing condition means False or unknown. ``Ready`` is True only when the last
operation applied the inputs and every component reports itself ready: an applied stack that a
component holds back is ``Ready=False`` (``ComponentsNotReady``, phase ``NotReady``). A dry run
cannot read live status, so there Ready means "rendered" and each component's health is Unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    field_serializer,
    model_serializer,
)
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

from automation import times
from automation.daemon.driver import ChangeCounts
from automation.daemon.health import ComponentHealth, Preview

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
DRIFTED = "Drifted"
CONDITION_TYPES = (READY, RECONCILING, STALLED, DRIFTED)

QUEUED = "Queued"  # the Reconciling reason of an operation waiting for a free worker
COMPONENTS_NOT_READY = "ComponentsNotReady"  # the Ready reason of an applied stack a component holds back

# Phases, in the order a person reads them: the first that applies wins.
PHASE_RECONCILING = "Reconciling"  # an operation is running
PHASE_STALLED = "Stalled"  # waiting for an input to change
PHASE_RETRYING = "Retrying"  # a retryable failure; backing off
PHASE_PENDING = "Pending"  # never applied yet
PHASE_DRIFTED = "Drifted"  # applied, but live state differs and policy is detect-only
PHASE_NOT_READY = "NotReady"  # applied, but a component reports that it is not ready (or cannot tell)
PHASE_READY = "Ready"
PHASE_REMOVED = "Removed"  # the stack file is gone; its resources are left alone
PHASES = (
    PHASE_PENDING,
    PHASE_RECONCILING,
    PHASE_READY,
    PHASE_DRIFTED,
    PHASE_NOT_READY,
    PHASE_RETRYING,
    PHASE_STALLED,
    PHASE_REMOVED,
)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else times.iso(moment)


# Stored and printed camelCase, to the second, in UTC: "2026-11-21T12:00:00Z".
Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str)]
OptionalTimestamp = Annotated[Timestamp | None, BeforeValidator(lambda value: value or None)]
JSON_SHAPE = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


@dataclass(config=JSON_SHAPE)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""
    last_transition_time: OptionalTimestamp = None


_OPERATION_DETAILS = ("trigger", "reason", "message", "refresh")


@dataclass(config=JSON_SHAPE)
class Operation:
    """One run of an operation on a stack: what, why, when, and how it ended."""

    kind: str  # up | refresh | drift-check | destroy
    result: str  # running | succeeded | failed | cancelled | interrupted
    started_at: Timestamp
    finished_at: OptionalTimestamp = None
    changes: ChangeCounts | None = None
    trigger: str = ""  # why it ran: InputChanged, ForceReconcile, Retry, Requeue, DriftRemediation...
    reason: str = ""  # for failures: the error's reason
    message: str = ""
    refresh: bool = False

    @field_serializer("changes")
    def _changes(self, changes: ChangeCounts | None) -> dict[str, int]:
        return asdict(changes or ChangeCounts())

    @model_serializer(mode="wrap")
    def _spec_shape(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The five keys readers rely on, always; why it ran and how it failed, only when there is
        something to say."""
        data: dict[str, Any] = serialize(self)
        return {key: value for key, value in data.items() if value or key not in _OPERATION_DETAILS}


@dataclass(config=JSON_SHAPE)
class Backoff:
    """A scheduled retry after a retryable failure."""

    retry_at: Timestamp
    delay_seconds: float
    reason: str
    message: str
    operation: str = "up"  # what to retry: up | drift-check
    refresh: bool = False

    @field_serializer("delay_seconds")
    def _delay(self, seconds: float) -> float:
        return round(seconds, 3)


@dataclass(config=JSON_SHAPE)
class DriftReport:
    checked_at: Timestamp
    resources: list[str] = field(default_factory=list)  # "update kubernetes:apps/v1:Deployment api-dev"


@dataclass(config=JSON_SHAPE)
class RecoveryRecord:
    """One run of crash recovery that found something: what, what it did, what it left for a person."""

    at: Timestamp
    trigger: str  # Startup (the daemon started after a crash) | PendingOperations (an up found them)
    found: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    manual: list[str] = field(default_factory=list)


@dataclass(config=JSON_SHAPE)
class Attention:
    """Crash recovery left something only a person can judge: the stack is held until acknowledged.

    A person acknowledges with a new ``driftless.dev/force-reconcile`` token on a document of the
    stack; a token that was already there when recovery raised the items does not count.
    """

    since: Timestamp
    items: list[str]
    tokens_seen: dict[str, str] = Field(
        default_factory=dict, alias="forceTokensSeen"
    )  # "Kind/name" -> token, when raised

    def acknowledgements(self, tokens: Mapping[str, str], handled: Mapping[str, str]) -> dict[str, str]:
        """The force tokens set since the items were raised (and not handled before)."""
        return {
            subject: token
            for subject, token in tokens.items()
            if token != self.tokens_seen.get(subject) and token != handled.get(subject)
        }


@dataclass(config=JSON_SHAPE)
class DeletionHold:
    """An ``up`` held because the stack file lost documents a person has not allowed to delete."""

    since: Timestamp
    file: str
    remaining: int = Field(alias="documents")  # documents in the file
    applied: int | None = Field(
        alias="appliedDocuments"
    )  # documents the last up applied (None: not recorded)
    lost: list[str] = Field(default_factory=list, alias="wouldDelete")  # "Kind/name" an up would delete


def _applied_documents(data: Any) -> list[str] | None:
    if not isinstance(data, list):  # an earlier daemon did not record them
        return None
    return [str(subject) for subject in data]


def _recovery_records(data: Any) -> Any:
    """An earlier daemon kept only the lines left for a person."""
    if not isinstance(data, list):
        return data
    return [
        {"at": iso(datetime.now(UTC)), "trigger": "Startup", "manual": [entry]}
        if isinstance(entry, str)
        else entry
        for entry in data
    ]


@dataclass(config=JSON_SHAPE)
class StackStatus:
    """Everything known about one stack."""

    name: str
    phase: str = PHASE_PENDING
    conditions: list[Condition] = field(default_factory=list)
    fingerprint: str | None = None  # of the inputs last applied successfully
    last_operation: Operation | None = None
    # --- additions to the shape readers rely on
    observed_fingerprint: str | None = None  # of the inputs seen at the last cycle
    next_check_at: OptionalTimestamp = None  # the timer acted on next: retry, requeue or drift check
    next_drift_check_at: OptionalTimestamp = None
    requeue_at: OptionalTimestamp = None
    backoff: Backoff | None = None
    failures: int = 0  # consecutive failures for the current input
    failed_input: str | None = None  # the input key the failures (or the stall) belong to
    # an up failed, was cancelled or was cut short by a crash after it may have changed resources:
    # live state may not match `fingerprint` until an up succeeds, so one runs even on those inputs
    partially_applied: bool = False
    drift: DriftReport | None = None
    in_flight: Operation | None = None  # set while an operation runs; still set after a crash
    # "Kind/name" -> force token
    handled_tokens: dict[str, str] = Field(default_factory=dict, alias="handledForceTokens")
    recovery: Annotated[list[RecoveryRecord], BeforeValidator(_recovery_records)] = field(
        default_factory=list
    )  # newest first
    # what crash recovery left for a person; holds the stack
    attention: Attention | None = Field(default=None, alias="needsAttention")
    # "Kind/name" of the documents the last successful up applied; None in statuses written before
    # they were recorded (the deletion guard then holds only a file with no documents)
    applied_documents: Annotated[list[str] | None, BeforeValidator(_applied_documents)] = None
    # "Kind/name" -> token
    handled_deletion_tokens: dict[str, str] = Field(default_factory=dict, alias="handledAllowDeletionsTokens")
    # an up that would delete too much; holds the stack
    deletion_hold: DeletionHold | None = Field(default=None, alias="deletionsHeld")
    components: list[ComponentHealth] = field(default_factory=list)  # as the last successful up read them
    # the daemon's own verifications of components between ups (a Registry's credentials): a
    # failed one holds the stack back like a component that is not ready
    checks: list[ComponentHealth] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)  # as the last successful up reported them
    history: list[Operation] = field(default_factory=list)  # newest first

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
        elif (ready := self.condition(READY)) is not None and ready.reason == COMPONENTS_NOT_READY:
            self.phase = PHASE_NOT_READY
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
        """The stored and served form: camelCase, times in UTC to the second."""
        json: dict[str, Any] = _STACK_STATUS.dump_python(self, mode="json")
        return json

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StackStatus:
        """Read what :meth:`to_json` wrote, or what an earlier daemon did."""
        return _STACK_STATUS.validate_python(data)


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


_STACK_STATUS = TypeAdapter(StackStatus)


def status_document(stacks: list[StackStatus]) -> dict[str, Any]:
    """The ``status --format json`` object."""
    return {"stacks": [s.to_json() for s in sorted(stacks, key=lambda s: s.name)]}
