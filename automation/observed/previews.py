"""Preview identities, per stack: ``"<document>/<slug>"`` → branch, slug, first seen, expiry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from automation.times import iso_precise, utc
from automation.times import parse as parse_time
from components.observations import PreviewObservation


class PreviewRecords:
    """Each stack's preview records, as its program was told them."""

    def __init__(self) -> None:
        self._by_stack: dict[str, dict[str, PreviewObservation]] = {}
        self.dirty = False

    def get(self, stack: str, key: str) -> PreviewObservation | None:
        return self._by_stack.get(stack, {}).get(key)

    def of(self, stack: str) -> dict[str, PreviewObservation]:
        """The stack's records, live: a caller that writes to it marks the store dirty itself."""
        return self._by_stack.setdefault(stack, {})

    def stacks(self) -> set[str]:
        return set(self._by_stack)

    def put(self, stack: str, key: str, record: PreviewObservation) -> None:
        self.of(stack)[key] = record
        self.dirty = True

    def set_first_seen(self, stack: str, key: str, when: datetime) -> bool:
        """Record a first-seen time alone unless ``key`` has a record; True when recorded."""
        records = self.of(stack)
        if key in records:
            return False
        self.put(stack, key, PreviewObservation(firstSeen=utc(when)))
        return True

    def forget(self, stack: str, key: str) -> bool:
        found = self._by_stack.get(stack, {}).pop(key, None) is not None
        self.dirty |= found
        return found

    def to_json(self, stack: str) -> dict[str, dict[str, str]]:
        return previews_json(self._by_stack.get(stack, {}))

    def load(self, stack: str, raw: Mapping[str, Any]) -> None:
        self._by_stack[stack] = parse_previews(raw)


def preview_json(entry: PreviewObservation) -> dict[str, str]:
    """A preview record as the observations format writes it (a field not recorded is left out)."""
    found = {"firstSeen": iso_precise(entry.first_seen)}
    if entry.branch is not None:
        found["branch"] = entry.branch
    if entry.slug is not None:
        found["slug"] = entry.slug
    if entry.expires_at is not None:
        found["expiresAt"] = iso_precise(entry.expires_at)
    return found


def previews_json(previews: Mapping[str, PreviewObservation]) -> dict[str, dict[str, str]]:
    return {key: preview_json(entry) for key, entry in sorted(previews.items())}


def parse_previews(raw: Mapping[str, Any]) -> dict[str, PreviewObservation]:
    """Preview records; one with only ``firstSeen`` (versions 1 and 2) is found by its slug."""
    found = {}
    for key, entry in raw.items():
        expires_at = entry.get("expiresAt")
        found[key] = PreviewObservation(
            firstSeen=parse_time(entry["firstSeen"]),
            branch=optional_text(entry, "branch"),
            slug=optional_text(entry, "slug"),
            expiresAt=parse_time(expires_at) if expires_at is not None else None,
        )
    return found


def optional_text(entry: Mapping[str, Any], field: str) -> str | None:
    value = entry.get(field)
    if value is None or (isinstance(value, str) and value):
        return value
    raise TypeError(f"{field} is {value!r}, not a non-empty string")
