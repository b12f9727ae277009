"""Which preview environments exist, given a Project's spec and what the daemon observed.

A preview exists for each branch of the project's repository that matches an ``include`` glob,
matches no ``exclude`` glob, and has not reached its expiry. A deleted branch is no longer in
``observations.git``, and an expired one is past ``expiresAt``: neither is rendered, so ``up``
deletes its objects. Pure functions of (spec, observations): no clock, no I/O.

A preview's identity (branch, slug, first-seen time, expiry) is what the daemon recorded in
``observations.previews`` when the branch was first seen (:func:`preview_identities`); it never
changes afterwards. A branch that appears later and slugs alike (``feature/New-API`` beside
``feature/new-api``) gets a hash-suffixed slug of its own instead of renaming the existing preview,
and an expired preview stays expired under its one slug until its branch is deleted (the daemon
then forgets the record) and pushed again. A branch with no record is first seen *now*.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from components.inputs import NEW, RECORDED
from components.kapsa.slugs import HASH_LENGTH, assign_slugs, slugify
from components.kapsa.spec import ProjectSpec
from components.observations import Observations, PreviewObservation

# Where an identity comes from (PreviewIdentity.origin): RECORDED and NEW, as the daemon reads
# them, or LEGACY, a record written before identities were: first seen only, found by its slug.
LEGACY = "legacy"


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


@dataclass(frozen=True)
class PreviewIdentity:
    """Who a preview is: fixed when its branch is first seen (see the module docstring)."""

    branch: str
    slug: str
    first_seen: datetime
    expires_at: datetime
    origin: str = RECORDED  # RECORDED, LEGACY or NEW

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now

    def to_observation(self) -> PreviewObservation:
        """The complete record of this identity, as ``observations.previews`` holds it."""
        return PreviewObservation(
            firstSeen=self.first_seen, branch=self.branch, slug=self.slug, expiresAt=self.expires_at
        )


def preview_key(project: str, slug: str) -> str:
    """The key of a preview in ``observations.previews``."""
    return f"{project}/{slug}"


def preview_identities(
    project: str,
    branches: Iterable[str],
    recorded: Mapping[str, PreviewObservation],
    *,
    environments: Iterable[str],
    ttl: timedelta,
    now: datetime,
) -> dict[str, PreviewIdentity]:
    """Branch → identity of each of ``branches`` (those that get a preview), given the records.

    ``recorded`` is ``observations.previews`` (entries of other projects are ignored). A branch
    with a complete record keeps it. One without is matched to a record of the older format (first
    seen only) by the slug it had then: the slugs of the whole set at once, as they were assigned
    before identities were recorded. Any other branch is new, first seen ``now``: its slug avoids
    the permanent ``environments``' names and every slug this project has a record of, so it never
    takes an existing preview's name (which keeps its own).
    """
    prefix = preview_key(project, "")
    own = {
        key.removeprefix(prefix): entry for key, entry in sorted(recorded.items()) if key.startswith(prefix)
    }
    wanted = sorted(set(branches))
    reserved = set(environments)
    by_branch: dict[str, tuple[str, PreviewObservation]] = {}
    legacy: dict[str, PreviewObservation] = {}
    for key_slug, entry in own.items():
        if entry.branch is None:
            legacy[key_slug] = entry
        else:
            by_branch.setdefault(entry.branch, (key_slug, entry))

    found: dict[str, PreviewIdentity] = {}
    for branch in wanted:
        if branch not in by_branch:
            continue
        key_slug, entry = by_branch[branch]
        slug = entry.slug or key_slug
        if slug in reserved:  # an environment added since took the name; the hash keeps it distinct
            slug = slugify(branch, HASH_LENGTH)
        expires_at = entry.expires_at or entry.first_seen + ttl
        found[branch] = PreviewIdentity(branch, slug, entry.first_seen, expires_at, RECORDED)

    unmatched = [branch for branch in wanted if branch not in found]
    if legacy and unmatched:
        legacy_slugs = assign_slugs(wanted, reserved=reserved)
        for branch in unmatched:
            slug = legacy_slugs[branch]
            old = legacy.get(slug)
            if old is not None:
                found[branch] = PreviewIdentity(branch, slug, old.first_seen, old.first_seen + ttl, LEGACY)

    new = [branch for branch in wanted if branch not in found]
    if new:
        taken = (
            reserved | set(own) | {e.slug for e in own.values() if e.slug} | {i.slug for i in found.values()}
        )
        slugs = assign_slugs(new, reserved=taken)
        for branch in new:
            found[branch] = PreviewIdentity(branch, slugs[branch], now, now + ttl, NEW)
    return found


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
    now = observations.now
    # Permanent environments share the namespace and the host pattern: a preview never takes
    # their names.
    identities = preview_identities(
        project,
        candidates,
        observations.previews,
        environments=(e.name for e in spec.environments),
        ttl=timedelta(hours=settings.ttl_hours),
        now=now,
    )
    active: list[Preview] = []
    expired: list[Preview] = []
    for branch in candidates:
        identity = identities[branch]
        preview = Preview(branch, identity.slug, heads[branch], identity.first_seen, identity.expires_at)
        (expired if identity.expired(now) else active).append(preview)
    return PreviewPlan(tuple(active), tuple(expired))
