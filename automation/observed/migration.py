"""Entries of a version 1 file, which kept previews and images without their stack.

Nobody can tell which stack wrote one, and every stack using the document read it, so each stack
adopts a copy of those of its documents the first time it is read, unless it has its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automation.observed.images import ImageRecords, parse_images
from automation.observed.previews import PreviewRecords, parse_previews, previews_json
from components.observations import PreviewObservation


class Unassigned:
    def __init__(self) -> None:
        self.previews: dict[str, PreviewObservation] = {}
        self.images: dict[str, dict[str, str]] = {}
        self.dirty = False

    def __bool__(self) -> bool:
        return bool(self.previews or self.images)

    def forget_preview(self, key: str) -> bool:
        found = self.previews.pop(key, None) is not None
        self.dirty |= found
        return found

    def adopt(
        self, stack: str, prefixes: tuple[str, ...], previews: PreviewRecords, images: ImageRecords
    ) -> None:
        """Copy the entries keyed with one of ``prefixes`` into the stack, unless it has its own."""
        if not self or not prefixes:
            return
        own_previews = previews.of(stack)
        for key, preview in self.previews.items():
            if key.startswith(prefixes) and key not in own_previews:
                own_previews[key] = preview
                self.dirty = True
        own_images = images.of(stack)
        for key, entry in self.images.items():
            if key.startswith(prefixes) and key not in own_images:
                own_images[key] = dict(entry)
                self.dirty = True

    def to_json(self) -> dict[str, Any] | None:
        """The ``unassigned`` section, or None when nothing is left to adopt (the section is left out)."""
        if not self:
            return None
        return {"previews": previews_json(self.previews), "images": dict(sorted(self.images.items()))}

    def load(self, previews: Mapping[str, Any], images: Mapping[str, Any]) -> None:
        self.previews = parse_previews(previews)
        self.images = parse_images(images)
