"""Observations: what the daemon saw outside the repository, handed to the program.

The program never polls git or Vault itself; it renders whatever the daemon observed, so a render
is a pure function of (documents, observations) and the daemon decides when the world changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Observed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class PreviewObservation(_Observed):
    """A preview's identity, recorded once when its branch is first seen and never changed after.

    ``branch``, ``slug`` and ``expiresAt`` are absent from files written before identities were
    recorded: such an entry is found by the slug its key ends with, and expires ``ttlHours`` after
    ``firstSeen``.
    """

    first_seen: AwareDatetime = Field(alias="firstSeen")
    branch: str | None = None
    slug: str | None = None  # the environment name and host label, hash suffix included
    expires_at: AwareDatetime | None = Field(default=None, alias="expiresAt")


class ImageObservation(_Observed):
    """The last image of a project branch that kpack built successfully."""

    image: str
    commit: str | None = None
    built_at: AwareDatetime | None = Field(default=None, alias="builtAt")


class Observations(_Observed):
    """The observations file: time, git heads, preview identities, last good images, what was applied."""

    now: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    # repository URL -> branch -> commit SHA
    git: dict[str, dict[str, str]] = Field(default_factory=dict)
    # "<project>/<slug>" -> the preview's identity (branch, slug, first seen, expiry)
    previews: dict[str, PreviewObservation] = Field(default_factory=dict)
    # "<project>/<branch>" -> last good image (the daemon records it from the Project's outputs)
    images: dict[str, ImageObservation] = Field(default_factory=dict)
    # "<Kind>/<name>" -> the facts its last successful up applied (KindRegistration.applied_from_outputs);
    # absent from files written before it was recorded, and for a document never applied
    applied: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None) -> Observations:
        """Read an observations file; no path means nothing observed yet (``now`` is the clock)."""
        if path is None:
            return cls()
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))

    def applied_to(self, subject: str) -> dict[str, Any] | None:
        """What the last successful ``up`` applied of the document ``"<Kind>/<name>"``, if known."""
        return self.applied.get(subject)

    def to_json(self) -> str:
        # An empty ``applied`` is left out, so files stay as they were for stacks without such facts.
        exclude = None if self.applied else {"applied"}
        return self.model_dump_json(by_alias=True, indent=2, exclude_none=True, exclude=exclude)
