"""Registry verifications, keyed by server: status only, never read by the program."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from automation.times import iso_precise
from automation.times import parse as parse_time


@dataclass(frozen=True)
class RegistryCheck:
    """The last verification of a registry's credentials (no credential in it)."""

    verified: bool
    message: str
    checked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "message": self.message, "checkedAt": iso_precise(self.checked_at)}


class RegistryChecks:
    def __init__(self) -> None:
        self._checks: dict[str, RegistryCheck] = {}
        self.dirty = False

    def get(self, server: str) -> RegistryCheck | None:
        return self._checks.get(server)

    def all(self) -> dict[str, RegistryCheck]:
        return dict(self._checks)

    def record(self, server: str, check: RegistryCheck) -> bool:
        """True when ``verified`` flipped; a first result is a flip only when it is a failure (until
        checked, a registry is presumed to work)."""
        previous = self._checks.get(server)
        self._checks[server] = check
        self.dirty = True
        before = previous.verified if previous is not None else True
        return before != check.verified

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {server: check.as_dict() for server, check in sorted(self._checks.items())}

    def load(self, raw: Mapping[str, Any]) -> None:
        self._checks = {
            server: RegistryCheck(
                verified=bool(entry["verified"]),
                message=str(entry.get("message", "")),
                checked_at=parse_time(entry["checkedAt"]),
            )
            for server, entry in raw.items()
        }
