"""Which preview environments exist, given a Project's spec and what the daemon observed.

A preview exists for each branch of the project's repository that matches an ``include`` glob,
matches no ``exclude`` glob, and is younger than ``ttlHours`` since it was first seen. A branch the
daemon has not recorded in ``observations.previews`` is first seen *now*. A deleted branch is no
longer in ``observations.git``, and an expired one is past ``expiresAt``: neither is rendered, so
``up`` deletes its objects. Pure functions of (spec, observations): no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from components.kapsa.slugs import assign_slugs
from components.kapsa.spec import ProjectSpec
from components.observations import Observations


@dataclass(frozen=True)
class Preview:
    """One preview environment of one branch."""

    branch: str
    slug: str  # environment name, host label and Kubernetes object name
    commit: str
    first_seen: datetime
    expires_at: datetime


@dataclass(frozen=True)
class PreviewPlan:
    """Previews to run, and candidates left out because their time is up."""

    active: tuple[Preview, ...]
    expired: tuple[Preview, ...]

    def next_expiry_seconds(self, now: datetime) -> int | None:
        """Seconds until the first active preview expires (at least 1), or None without previews."""
        if not self.active:
            return None
        soonest = min(p.expires_at for p in self.active)
        return max(1, math.ceil((soonest - now).total_seconds()))


def preview_key(project: str, slug: str) -> str:
    """The key of a preview in ``observations.previews``."""
    return f"{project}/{slug}"


def matches(branch: str, include: Iterable[str], exclude: Iterable[str]) -> bool:
    """Included by some glob and excluded by none (case-sensitive, as git branch names are)."""
    return any(fnmatchcase(branch, glob) for glob in include) and not any(
        fnmatchcase(branch, glob) for glob in exclude
    )


def plan_previews(project: str, spec: ProjectSpec, observations: Observations) -> PreviewPlan:
    """The previews of one project at ``observations.now``."""
    settings = spec.preview_environments
    if not settings.enabled:
        return PreviewPlan((), ())
    heads = observations.git.get(spec.repo.url, {})
    candidates = sorted(b for b in heads if matches(b, settings.include, settings.exclude))
    # Permanent environments share the namespace and the host pattern: a preview never takes
    # their names.
    slugs = assign_slugs(candidates, reserved=(e.name for e in spec.environments))
    ttl = timedelta(hours=settings.ttl_hours)
    now = observations.now
    active: list[Preview] = []
    expired: list[Preview] = []
    for branch in candidates:
        slug = slugs[branch]
        seen = observations.previews.get(preview_key(project, slug))
        first_seen = seen.first_seen if seen is not None else now
        preview = Preview(branch, slug, heads[branch], first_seen, first_seen + ttl)
        (active if now < preview.expires_at else expired).append(preview)
    return PreviewPlan(tuple(active), tuple(expired))
