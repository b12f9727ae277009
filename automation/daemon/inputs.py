"""A stack's inputs: everything its desired state depends on, read afresh at the start of each cycle.

Reading is cheap (stack files, the program's source digest, stack config, the observation
store's material; no Pulumi, no network), so every cycle reads every stack and the fingerprints,
not the sources of change, decide which stacks run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from automation.daemon.driver import InvalidSpecError
from automation.daemon.fingerprint import (
    Fingerprint,
    ProgramSource,
    digest,
    fingerprint,
    force_tokens,
    invalid_file_fingerprint,
    stack_config_material,
)
from automation.daemon.interfaces import ObservationSource
from automation.daemon.layout import ProjectLayout
from components.documents import StackDocuments, StackFileError, load_stack_file
from components.registry import KindRegistry


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


class InputReader:
    """Reads stack files and computes their fingerprints; keeps the program digest's file cache."""

    def __init__(
        self, layout: ProjectLayout, observations: ObservationSource, registry: KindRegistry | None = None
    ):
        self.layout = layout
        self.observations = observations
        self.registry = registry
        self._program = ProgramSource(layout.project_dir)

    def read(self, names: Iterable[str], now: datetime) -> dict[str, StackInputs]:
        program_digest = self._program.digest()
        return {name: self._read_one(name, program_digest, now) for name in names}

    def _read_one(self, name: str, program_digest: str, now: datetime) -> StackInputs:
        stack_file = self.layout.stack_file(name)
        try:
            documents = load_stack_file(stack_file, self.registry)
        except StackFileError as exc:
            error = InvalidSpecError(
                f"{len(exc.errors)} problem(s) in {stack_file.name}: {exc.errors[0] if exc.errors else exc}",
                detail=str(exc),
                errors=exc.errors,
            )
            return StackInputs(
                name, stack_file, None, error, invalid_file_fingerprint(stack_file, program_digest)
            )
        fingerprinted = fingerprint(
            documents,
            program_digest=program_digest,
            config=stack_config_material(self.layout.project_dir, name),
            observations=self.observations.fingerprint_material(documents, now),
        )
        return StackInputs(name, stack_file, documents, None, fingerprinted, force_tokens(documents))
