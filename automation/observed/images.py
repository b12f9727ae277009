"""Images kept from component outputs, per stack: ``"<document>/<key>"`` → {image, commit, builtAt}."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ImageRecords:
    """Each stack's last good and pinned images: what its program falls back to on its next run."""

    def __init__(self) -> None:
        self._by_stack: dict[str, dict[str, dict[str, str]]] = {}
        self.dirty = False

    def of(self, stack: str) -> dict[str, dict[str, str]]:
        """The stack's records, live: a caller that writes to it marks the store dirty itself."""
        return self._by_stack.setdefault(stack, {})

    def stacks(self) -> set[str]:
        return set(self._by_stack)

    def record(self, stack: str, name: str, images: Mapping[str, Any]) -> bool:
        """Add or update ``"<name>/<key>"`` for each ``{key: {image, commit?, builtAt?}}`` with an
        image; never remove one (a key missing from one output keeps its last good image)."""
        changed = False
        records = self.of(stack)
        for key, info in images.items():
            image = info.get("image") if isinstance(info, Mapping) else None
            if not isinstance(image, str) or not image:
                continue
            entry = {"image": image}
            for field in ("commit", "builtAt"):
                value = info.get(field)
                if isinstance(value, str) and value:
                    entry[field] = value
            if records.get(f"{name}/{key}") != entry:
                records[f"{name}/{key}"] = entry
                changed = True
        self.dirty |= changed
        return changed

    def to_json(self, stack: str) -> dict[str, dict[str, str]]:
        return dict(sorted(self._by_stack.get(stack, {}).items()))

    def load(self, stack: str, raw: Mapping[str, Any]) -> None:
        self._by_stack[stack] = parse_images(raw)


def parse_images(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {key: dict(entry) for key, entry in raw.items()}
