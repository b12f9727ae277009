"""The versions of the registries' credentials Secrets, per stack (each stack reads its own cluster)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automation.observed.previews import optional_text
from automation.times import iso_precise
from automation.times import parse as parse_time


@dataclass(frozen=True)
class SourceSecret:
    """The last read of a registry's credentials Secret for one stack (its version, no data)."""

    server: str  # the registry's server, for status
    resource_version: str | None  # the last known version; None: never read
    message: str  # what the last read said: where it was read from, or why the version is unknown
    checked_at: datetime

    def as_dict(self, key: str) -> dict[str, Any]:
        return {
            "secret": key,
            "resourceVersion": self.resource_version,
            "message": self.message,
            "checkedAt": iso_precise(self.checked_at),
        }


class SecretVersions:
    """Stack → ``"<namespace>/<name>"`` → the last read of that credentials Secret."""

    def __init__(self) -> None:
        self._by_stack: dict[str, dict[str, SourceSecret]] = {}
        self.dirty = False

    def get(self, stack: str, key: str) -> SourceSecret | None:
        return self._by_stack.get(stack, {}).get(key)

    def of(self, stack: str) -> Mapping[str, SourceSecret]:
        return self._by_stack.get(stack, {})

    def reads(self) -> list[tuple[str, str, SourceSecret]]:
        """(stack, key, read) of every read, sorted."""
        return [
            (stack, key, read)
            for stack in sorted(self._by_stack)
            for key, read in sorted(self._by_stack[stack].items())
        ]

    def record(self, stack: str, key: str, read: SourceSecret) -> bool:
        """True when the known version changed; a read without a version keeps the last known one
        (a failed read never changes a fingerprint) and only updates the message."""
        reads = self._by_stack.setdefault(stack, {})
        previous = reads.get(key)
        known = previous.resource_version if previous is not None else None
        if read.resource_version is None and known is not None:
            read = SourceSecret(
                read.server, known, f"{read.message} (last known version kept)", read.checked_at
            )
        if read != previous:
            reads[key] = read
            self.dirty = True
        return read.resource_version != known

    def to_json(self) -> dict[str, dict[str, dict[str, Any]]] | None:
        """The ``registrySecrets`` section, or None when nothing was ever read (the section is left out)."""
        if not self._by_stack:
            return None
        return {
            stack: {key: read.as_dict(key) | {"server": read.server} for key, read in sorted(reads.items())}
            for stack, reads in sorted(self._by_stack.items())
            if reads
        }

    def load(self, raw: Mapping[str, Any]) -> None:
        self._by_stack = {
            stack: {
                key: SourceSecret(
                    server=str(entry["server"]),
                    resource_version=optional_text(entry, "resourceVersion"),
                    message=str(entry.get("message", "")),
                    checked_at=parse_time(entry["checkedAt"]),
                )
                for key, entry in reads.items()
            }
            for stack, reads in raw.items()
        }
