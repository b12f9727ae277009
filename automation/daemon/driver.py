"""The one narrow interface between the daemon and Pulumi.

The reconciler never touches ``pulumi.automation``: it calls a :class:`Driver` and branches on the
typed results and errors defined here. That keeps the reconcile logic testable without the Pulumi
CLI (tests use the offline driver and a fault-injecting fake) and keeps the real adapter thin.

Errors come in two families, as in the Pulumi Kubernetes Operator and kopf:

- :class:`RetryableError` — the same operation may succeed later without anyone changing anything
  (the stack is locked by another update, an operation timed out, a provider answered 5xx). The
  reconciler backs off exponentially and tries again.
- :class:`PermanentError` — retrying cannot help until an input changes (the stack file is invalid,
  the program raises, the Pulumi CLI is missing). The reconciler marks the stack ``Stalled``.

:func:`classify_error` maps whatever an operation raised — the Automation API's exceptions, whose
only detail is the CLI's stdout and stderr text — onto that family. The Python SDK raises a plain
``CommandError`` for some lock conflicts ("the stack is currently locked by"), so the mapping reads
the text, not only the exception class. Classes are matched with ``isinstance`` against the SDK's
own (``pulumi.automation.errors.RuntimeError`` is not Python's ``RuntimeError``), and
``KeyboardInterrupt`` or ``SystemExit`` is never turned into a failure of the stack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from components.documents import SpecError, StackFileError

PULUMI_INSTALL_HINT = (
    "install it with `curl -fsSL https://get.pulumi.com | sh` "
    "(or see https://www.pulumi.com/docs/install/) and make sure `pulumi` is on PATH"
)

Progress = Callable[[str], None]
"""Receives one human-readable line per engine event (resource steps, diagnostics, summary)."""


# --- what an operation works on and returns ----------------------------------------------------


@dataclass(frozen=True)
class StackTarget:
    """One stack as the driver sees it: its name, its stack file and the observations to hand over."""

    name: str
    stack_file: Path  # what the program loads: the file itself, or the content validated for this run
    observations_file: Path | None = None  # observations JSON written by the daemon before each operation
    source_file: Path | None = None  # the stack file ``stack_file`` was copied from, when it is a copy

    def for_people(self, text: str) -> str:
        """``text`` naming the stack file people edit, not the copy an operation loaded."""
        if self.source_file is None:
            return text
        for path in (str(self.stack_file.resolve()), str(self.stack_file)):
            text = text.replace(path, str(self.source_file))
        return text


@dataclass(frozen=True)
class ChangeCounts:
    """Resource changes of one operation; replacements count as updates."""

    create: int = 0
    update: int = 0
    delete: int = 0
    same: int = 0

    @property
    def total_changes(self) -> int:
        return self.create + self.update + self.delete

    def to_json(self) -> dict[str, int]:
        return {"create": self.create, "update": self.update, "delete": self.delete, "same": self.same}

    def describe(self) -> str:
        return (
            f"{self.create} to create, {self.update} to update, {self.delete} to delete, "
            f"{self.same} unchanged"
        )


@dataclass(frozen=True)
class ResourceChange:
    """One resource a preview, update or drift check reports as changing."""

    op: str  # create | update | replace | delete | ...
    type: str
    name: str
    urn: str = ""
    fields: tuple[str, ...] = ()  # property paths that differ, when the engine says
    retained: bool = False  # a delete of a resource with retainOnDelete: it leaves the stack, not the cluster

    def describe(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        retained = " [retained: stays in the cluster]" if self.retained else ""
        return f"{self.op} {self.type} {self.name}{detail}{retained}"


@dataclass(frozen=True)
class OperationResult:
    """The outcome of a successful preview, up, refresh or destroy."""

    kind: str  # preview | up | refresh | destroy
    changes: ChangeCounts
    duration: float  # seconds
    outputs: Mapping[str, Any] = field(default_factory=dict)  # stack outputs, secrets left out
    resources: tuple[ResourceChange, ...] = ()  # what changes (or would), when known


@dataclass(frozen=True)
class DriftResult:
    """A preview-only refresh: the resources whose live state differs from Pulumi's state."""

    resources: tuple[ResourceChange, ...]
    duration: float

    @property
    def drifted(self) -> bool:
        return bool(self.resources)


@dataclass(frozen=True)
class RecoveryReport:
    """What crash recovery found for one stack, what it did, and what it leaves to a person."""

    stack: str
    found: tuple[str, ...] = ()  # e.g. "stale lock held by pid 4242 on this host"
    actions: tuple[str, ...] = ()  # done automatically
    manual: tuple[str, ...] = ()  # needs a person; reported in status and logs

    @property
    def clean(self) -> bool:
        return not (self.found or self.actions or self.manual)


# --- the interface ----------------------------------------------------------------------------


@runtime_checkable
class Driver(Protocol):
    """Everything the daemon asks of Pulumi. Implementations raise only :class:`DriverError`."""

    name: str
    drift_detection: bool  # False: check_drift would never find anything (offline), so it is skipped
    reads_live_status: bool  # False: components' status outputs cannot say whether they are healthy

    def preview(self, target: StackTarget, progress: Progress | None = None) -> OperationResult: ...

    def up(
        self, target: StackTarget, *, refresh: bool = False, progress: Progress | None = None
    ) -> OperationResult: ...

    def refresh(self, target: StackTarget, progress: Progress | None = None) -> OperationResult: ...

    def check_drift(self, target: StackTarget, progress: Progress | None = None) -> DriftResult:
        """A preview-only refresh (``pulumi refresh --preview-only``): nothing is written."""
        ...

    def destroy(self, target: StackTarget, progress: Progress | None = None) -> OperationResult: ...

    def outputs(self, target: StackTarget) -> Mapping[str, Any]: ...

    def cancel(self, target: StackTarget) -> None:
        """Interrupt this stack's in-flight operation, if any, so it stops at a safe point."""
        ...

    def recover(self, target: StackTarget) -> RecoveryReport:
        """After a crash: clear what is safe to clear (stale locks, pending operations) and say so.

        Never creates the stack: one that does not exist has nothing to recover.
        """
        ...

    def locked_stacks(self) -> set[str]:
        """Stacks with a lock file in a local backend (none for other backends), without the CLI.

        Start-up recovery inspects these besides the stacks whose operation a crash interrupted.
        """
        ...


# --- the error family -------------------------------------------------------------------------


class DriverError(Exception):
    """An operation failed. ``reason`` is the condition reason; ``message`` is one line for people."""

    reason: ClassVar[str] = "OperationFailed"
    retryable: ClassVar[bool] = True

    def __init__(self, message: str, *, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail  # longer engine output (already masked by Pulumi); for status, not logs


class RetryableError(DriverError):
    """Retrying the same operation later may succeed; back off."""

    retryable = True


class StackLockedError(RetryableError):
    """Another update holds the stack's lock ("currently locked by", 409 Conflict).

    ``person_step`` is set where nothing here can tell a dead holder from a live one (a backend
    other than ``file://``): once retries run out, the stack waits for a person instead.
    """

    reason = "StackLocked"

    def __init__(self, message: str, *, detail: str = "", person_step: str = ""):
        super().__init__(message, detail=detail)
        self.person_step = person_step


class OperationTimeoutError(RetryableError):
    reason = "OperationTimeout"


class ProviderUnavailableError(RetryableError):
    """A provider's API answered 5xx or could not be reached."""

    reason = "ProviderUnavailable"


class PendingOperationsError(RetryableError):
    """The state has pending operations from an interrupted update; recovery clears them."""

    reason = "PendingOperations"


class OperationCancelledError(RetryableError):
    """Interrupted on purpose (shutdown); the next start retries."""

    reason = "Cancelled"


class UpdateFailedError(RetryableError):
    """A failure nothing more specific matched. Retried; consecutive failures stall the stack."""

    reason = "UpdateFailed"


class PermanentError(DriverError):
    """Retrying cannot help until an input changes; stall."""

    retryable = False


class InvalidSpecError(PermanentError):
    """The stack file was rejected (a :class:`StackFileError`) or renders invalid objects."""

    reason = "InvalidSpec"

    def __init__(self, message: str, *, detail: str = "", errors: Sequence[SpecError] = ()):
        super().__init__(message, detail=detail)
        self.errors = tuple(errors)


class ProgramError(PermanentError):
    """The program failed: a compilation error or an exception raised while it ran."""

    reason = "ProgramError"


class CliMissingError(PermanentError):
    """The Pulumi CLI is not installed or not on PATH."""

    reason = "PulumiCliMissing"

    def __init__(self, message: str = "", *, detail: str = ""):
        super().__init__(message or f"the Pulumi CLI was not found: {PULUMI_INSTALL_HINT}", detail=detail)


class ConfigurationError(PermanentError):
    """The backend, secrets provider or stack configuration is unusable (e.g. no passphrase)."""

    reason = "ConfigurationError"


# --- mapping Pulumi's failures onto the family -------------------------------------------------

_MAX_MESSAGE = 400

_LOCKED = re.compile(r"currently locked by|\[409\] Conflict|Another update is currently in progress", re.I)
_SPEC = re.compile(r"StackFileError: (?P<message>.+)")
_PASSPHRASE = re.compile(
    r"passphrase must be set|incorrect passphrase|constructing secrets manager|"
    r"failed to decrypt|getting secrets manager",
    re.I,
)
_PENDING = re.compile(r"with pending operations|pending_operations", re.I)
_TIMEOUT = re.compile(
    r"timed out|timeout (?:occurred|exceeded|expired)|context deadline exceeded|deadline exceeded|"
    r"i/o timeout|TLS handshake timeout|Client\.Timeout",
    re.I,
)
_UNAVAILABLE = re.compile(
    r"\[(?:500|502|503|504)\]|\b(?:500|502|503|504)\b[^\n]{0,40}(?:error|unavailable|gateway|server)|"
    r"Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout|"
    r"connection refused|connection reset by peer|no such host|cluster is unreachable|"
    r"the server is currently unable to handle the request",
    re.I,
)
_PROGRAM = re.compile(
    r"Program failed with an unhandled exception|an unhandled error occurred|"
    r"failed with an unhandled exception|Traceback \(most recent call last\)|"
    r"Build FAILED|SyntaxError|ModuleNotFoundError|ImportError",
    re.I,
)
_STACK_NOT_FOUND = re.compile(r"no stack named .* found", re.I)
_ERROR_LINE = re.compile(r"^\s*error: (?P<message>.+)$", re.M)
_EXCEPTION_LINE = re.compile(r"^\s*(?:[\w.]+\.)?(?P<type>\w+(?:Error|Exception)): (?P<message>.+)$", re.M)


def command_output(exc: BaseException) -> tuple[str, str]:
    """The (stdout, stderr) of a failed Automation API command.

    ``CommandError`` keeps no reference to its ``CommandResult``; its text is
    ``"\\n code: N\\n stdout: ...\\n stderr: ..."``, so split that.
    """
    text = str(exc)
    stdout, stderr = "", text
    if " stderr: " in text:
        head, stderr = text.split(" stderr: ", 1)
        stdout = head.split(" stdout: ", 1)[1] if " stdout: " in head else ""
    return stdout.strip(), stderr.strip()


def classify_error(exc: BaseException) -> DriverError:
    """Map anything an operation raised onto :class:`RetryableError` or :class:`PermanentError`.

    Order matters: a lock conflict or an unreachable provider can surface inside a program's
    traceback (e.g. a failed Vault lookup), and those are worth retrying, so they are tested
    before the generic "the program failed" patterns. ``KeyboardInterrupt``, ``SystemExit`` and
    other exceptions that are not errors are raised again, never mapped.
    """
    if not isinstance(exc, Exception):
        raise exc
    if isinstance(exc, DriverError):
        return exc
    if isinstance(exc, StackFileError):
        return InvalidSpecError(_first_line(str(exc)), detail=str(exc), errors=exc.errors)
    if isinstance(exc, FileNotFoundError) and _names_pulumi(exc):
        return CliMissingError(detail=str(exc))

    sdk = _sdk_errors()
    class_name = type(exc).__name__
    if isinstance(exc, sdk.CommandError):
        stdout, stderr = command_output(exc)
    else:
        stdout, stderr = "", str(exc)
    text = f"{stderr}\n{stdout}"
    detail = _tail(text)

    if isinstance(exc, sdk.ConcurrentUpdateError) or _LOCKED.search(text):
        return StackLockedError(
            _summary(stderr, stdout, "the stack is locked by another update"), detail=detail
        )
    if spec := _SPEC.search(text):
        return InvalidSpecError(_clip(spec.group("message")), detail=detail)
    if _PASSPHRASE.search(text):
        return ConfigurationError(
            _summary(stderr, stdout, "the secrets provider is not configured"), detail=detail
        )
    if isinstance(exc, sdk.StackNotFoundError) or _STACK_NOT_FOUND.search(text):
        return ConfigurationError(_summary(stderr, stdout, "the stack does not exist"), detail=detail)
    if isinstance(exc, sdk.InvalidVersionError):
        return ConfigurationError(f"unsupported Pulumi CLI version: {_clip(str(exc))}", detail=detail)
    if _PENDING.search(text):
        return PendingOperationsError(
            _summary(stderr, stdout, "the stack has pending operations from an interrupted update"),
            detail=detail,
        )
    if _UNAVAILABLE.search(text):
        return ProviderUnavailableError(_summary(stderr, stdout, "a provider is unavailable"), detail=detail)
    if _TIMEOUT.search(text):
        return OperationTimeoutError(_summary(stderr, stdout, "the operation timed out"), detail=detail)
    program_failed = isinstance(exc, (sdk.CompilationError, sdk.RuntimeError, sdk.InlineSourceRuntimeError))
    if program_failed or _PROGRAM.search(text):
        return ProgramError(
            _program_summary(text) or _summary(stderr, stdout, "the program failed"), detail=detail
        )
    return UpdateFailedError(
        _summary(stderr, stdout, f"{class_name}: {_first_line(str(exc))}"), detail=detail
    )


def _sdk_errors() -> Any:
    """``pulumi.automation.errors``, imported on the first failure (it loads the whole SDK)."""
    from pulumi.automation import errors

    return errors


def _names_pulumi(exc: FileNotFoundError) -> bool:
    filename = str(exc.filename or "")
    return Path(filename).name == "pulumi" or "'pulumi'" in str(exc)


def _summary(stderr: str, stdout: str, fallback: str) -> str:
    """The engine's own ``error:`` line when there is one (the most specific message it prints).

    "update failed" is only the engine's closing line, so it is skipped; a line announcing a list
    ("1 error occurred:") is joined with the list's first item.
    """
    for text in (stderr, stdout):
        for match in _ERROR_LINE.finditer(text):
            line = match.group("message").strip()
            if line.lower() in {"update failed", "preview failed", "refresh failed", "destroy failed"}:
                continue
            if line.endswith(":"):
                following = text[match.end() :].strip().splitlines()
                if following:
                    line = f"{line} {following[0].strip().lstrip('*').strip()}"
            return _clip(line)
    return _clip(fallback)


def _program_summary(text: str) -> str:
    matches = list(_EXCEPTION_LINE.finditer(text))
    if not matches:
        return ""
    last = matches[-1]
    return _clip(f"program failed: {last.group('type')}: {last.group('message').strip()}")


def _first_line(text: str) -> str:
    return _clip(text.strip().splitlines()[0] if text.strip() else "")


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
