"""A stack's inputs: everything its desired state depends on, read afresh at the start of each cycle.

Reading is cheap (stack files, the program's source digest, stack config, the observation
store's material; no Pulumi, no network), so every cycle reads every stack and the fingerprints,
not the sources of change, decide which stacks run.

A stack file is read only once it has rested for the debounce window (:mod:`.settling`); until
then the stack is *unsettled* and the cycle leaves it alone. Whatever goes wrong while one stack
is read — a file that is not UTF-8, a loader that raises, a broken ``Pulumi.<stack>.yaml`` —
becomes that stack's error, naming the file and line where there is one; it never stops the
cycle, so the other stacks are read and reconciled as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from automation.daemon.clock import Clock, SystemClock
from automation.daemon.deletions import allow_deletion_tokens
from automation.daemon.driver import InvalidSpecError
from automation.daemon.fingerprint import (
    Fingerprint,
    ProgramSource,
    StackConfigError,
    digest,
    fingerprint,
    force_tokens,
    invalid_file_fingerprint,
    stack_config_material,
)
from automation.daemon.interfaces import ObservationSource
from automation.daemon.layout import ProjectLayout
from automation.daemon.settling import SettledFiles, Unsettled
from automation.stack_inputs import StackSet, check_stack_file
from components.documents import (
    SpecError,
    StackDocuments,
    StackFileError,
    load_stack_bytes,
    stack_name_problem,
)
from components.registry import KindRegistry

MAX_LISTED_ERRORS = 20  # in a status message; the log and `render` list every one


@dataclass(frozen=True)
class StackInputs:
    """What one stack's desired state depends on, read at the start of a cycle."""

    name: str
    stack_file: Path
    documents: StackDocuments | None  # None when the file does not load
    error: InvalidSpecError | None
    fingerprint: Fingerprint
    tokens: Mapping[str, str] = field(default_factory=dict)  # "Kind/name" -> force-reconcile token
    # "Kind/name" -> driftless.dev/allow-deletions token: each new one allows one up to delete
    deletion_tokens: Mapping[str, str] = field(default_factory=dict)
    content: bytes | None = None  # the file as validated: what an operation applies
    unsettled: Unsettled | None = None  # the file is still being written: not read this cycle

    def pending_tokens(self, handled: Mapping[str, str]) -> dict[str, str]:
        return {subject: token for subject, token in self.tokens.items() if handled.get(subject) != token}

    def pending_deletion_tokens(self, handled: Mapping[str, str]) -> dict[str, str]:
        return {
            subject: token for subject, token in self.deletion_tokens.items() if handled.get(subject) != token
        }

    def input_key(
        self, handled: Mapping[str, str], handled_deletions: Mapping[str, str] | None = None
    ) -> str:
        """Identifies "the same input" for backoff and stalls: the fingerprint plus unhandled tokens."""
        pending = self.pending_tokens(handled)
        allowing = self.pending_deletion_tokens(handled_deletions or {})
        return (
            self.fingerprint.value
            + (f"+force:{digest(pending)}" if pending else "")
            + (f"+allow-deletions:{digest(allowing)}" if allowing else "")
        )


class InputReader:
    """Reads stack files and computes their fingerprints; keeps the program digest's file cache."""

    def __init__(
        self,
        layout: ProjectLayout,
        observations: ObservationSource,
        registry: KindRegistry | None = None,
        *,
        clock: Clock | None = None,
        debounce_seconds: float = 0.0,
    ):
        self.layout = layout
        self.observations = observations
        self.registry = registry
        self._program = ProgramSource(layout.project_dir)
        self._files = SettledFiles(clock or SystemClock(), debounce_seconds)

    def read(self, names: Iterable[str], now: datetime) -> dict[str, StackInputs]:
        names = list(names)
        try:
            program_digest = self._program.digest()
        except OSError as exc:  # a file went away between listing and reading: the program is changing
            waiting = f"the program source is changing ({exc.strerror}: {exc.filename}); read again shortly"
            return {
                name: self._unsettled(name, Unsettled(self.layout.stack_file(name), 1.0, waiting))
                for name in names
            }
        # Every stack file takes part, not only ``names``: a namespace two stacks own holds both.
        try:
            conflicts = StackSet(self.layout.project_dir, self.layout.stacks_dir).conflicts(self.registry)
        except Exception as exc:  # noqa: BLE001 (a bug in the check holds every stack, and says so)
            problem = f"the checks across stacks failed: {_describe(exc)}"
            conflicts = {
                str(self.layout.stack_file(name)): [
                    SpecError(str(self.layout.stack_file(name)), 0, "", "", problem)
                ]
                for name in names
            }
        return {
            name: self._read_guarded(
                name, program_digest, now, conflicts.get(str(self.layout.stack_file(name)))
            )
            for name in names
        }

    def settle_remaining(self, names: Iterable[str]) -> float:
        """Seconds until every one of these stack files is settled (0: all are)."""
        return max((self._files.remaining(self.layout.stack_file(name)) for name in names), default=0.0)

    def _unsettled(self, name: str, unsettled: Unsettled) -> StackInputs:
        return StackInputs(name, unsettled.path, None, None, Fingerprint("", {}), unsettled=unsettled)

    def _read_guarded(
        self, name: str, program_digest: str, now: datetime, conflicts: list[SpecError] | None
    ) -> StackInputs:
        """One stack's inputs; anything it raises is that stack's error, never the cycle's."""
        try:
            return self._read_one(name, program_digest, now, conflicts)
        except Exception as exc:  # noqa: BLE001 (one stack's problem must not stop the others)
            stack_file = self.layout.stack_file(name)
            cause = str(exc) if isinstance(exc, StackConfigError) else _describe(exc)
            message = f"the inputs of stack {name} cannot be read: {cause}"
            error = InvalidSpecError(message, detail=message)
            parts = {"error": digest(message), "program": program_digest}
            return StackInputs(name, stack_file, None, error, Fingerprint(digest(parts), parts))

    def _read_one(
        self, name: str, program_digest: str, now: datetime, conflicts: list[SpecError] | None
    ) -> StackInputs:
        stack_file = self.layout.stack_file(name)
        conflicts = conflicts or []
        try:
            content = self._files.read(stack_file)
        except OSError as exc:
            unreadable = SpecError(str(stack_file), 0, "", "", f"cannot read: {exc.strerror or exc}")
            return self._invalid(name, stack_file, program_digest, [unreadable, *conflicts], conflicts)
        if isinstance(content, Unsettled):
            return self._unsettled(name, content)
        try:
            problem = stack_name_problem(stack_file.stem)
            if problem is not None:
                raise StackFileError(
                    [SpecError(str(stack_file), 0, "", "", f"the file name is not a stack name: {problem}")]
                )
            documents = check_stack_file(
                lambda: load_stack_bytes(content, str(stack_file), self.registry),
                conflicts,
                StackSet(self.layout.project_dir, self.layout.stacks_dir).context_of(stack_file),
                self.registry,
            )
        except StackFileError as exc:  # with its conflicts and context checks, all at once
            return self._invalid(name, stack_file, program_digest, exc.errors, conflicts)
        except Exception as exc:  # noqa: BLE001 (a loader that raises rejects this file, nothing else)
            unloadable = _unloadable(stack_file, content, exc)
            return self._invalid(name, stack_file, program_digest, [unloadable, *conflicts], conflicts)
        fingerprinted = fingerprint(
            documents,
            program_digest=program_digest,
            config=stack_config_material(self.layout.project_dir, name),
            observations=self.observations.fingerprint_material(documents, now),
        )
        return StackInputs(
            name,
            stack_file,
            documents,
            None,
            fingerprinted,
            force_tokens(documents),
            allow_deletion_tokens(documents),
            content=content,
        )

    def _invalid(
        self,
        name: str,
        stack_file: Path,
        program_digest: str,
        errors: list[SpecError],
        conflicts: list[SpecError],
    ) -> StackInputs:
        """A stack that is not applied: its file's problems, or a namespace another stack owns too."""
        exc = StackFileError(errors)
        error = InvalidSpecError(
            f"{len(exc.errors)} problem(s) in {stack_file.name}: {_listed(exc.errors) or exc}",
            detail=str(exc),
            errors=exc.errors,
        )
        fingerprinted = invalid_file_fingerprint(stack_file, program_digest)
        if conflicts:  # another file's edit can start, change or end them: each set is a new input
            parts = {**fingerprinted.parts, "conflicts": digest([str(e) for e in conflicts])}
            fingerprinted = Fingerprint(digest(parts), parts)
        return StackInputs(name, stack_file, None, error, fingerprinted)


def _listed(errors: Sequence[SpecError]) -> str:
    """Every problem on one line (status messages are one line), the first ``MAX_LISTED_ERRORS``."""
    shown = "; ".join(str(error) for error in errors[:MAX_LISTED_ERRORS])
    hidden = len(errors) - MAX_LISTED_ERRORS
    return shown + (f"; and {hidden} more" if hidden > 0 else "")


def _unloadable(stack_file: Path, content: bytes, exc: Exception) -> SpecError:
    """A file the loader could not even parse, located as precisely as the exception allows."""
    line = 0
    if isinstance(exc, UnicodeDecodeError):
        line = content[: exc.start].count(b"\n") + 1
        return SpecError(
            str(stack_file),
            line,
            "",
            "",
            f"not UTF-8 text: byte 0x{content[exc.start]:02x} cannot be decoded",
        )
    mark = getattr(exc, "problem_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None and isinstance(getattr(mark, "line", None), int):
        line = mark.line + 1
    elif isinstance(position, int):
        line = content.decode("utf-8", errors="replace")[:position].count("\n") + 1
    return SpecError(str(stack_file), line, "", "", f"cannot be loaded: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
