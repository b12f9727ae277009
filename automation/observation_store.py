"""The observation store: everything the daemon saw outside the repository, persisted.

Sources of change write here (git heads, preview first-seen times, KV v2 versions, registry
checks) and the reconciler records each Project's last good images; the reconciler then reads,
per stack, the observations the program gets (:meth:`ObservationStore.for_stack`) and the
material of its fingerprint (:meth:`ObservationStore.fingerprint_material`).

What is a fact about the world is shared: a repository's branch heads (keyed by its URL), a KV v2
secret's version, a registry's last check. What a stack's program decided or was told is kept per
stack: preview first-seen times and last good / pinned images. Two stack files can both define
``Project/api`` (``staging.yaml`` and ``live.yaml``); each has its own previews, TTLs and pins, so
one stack's ``up`` never moves another's images or fingerprint. Inside a stack they are keyed as
the observations format has them (``"api/feature-new-api"``, ``"api/main"``, ``"api/@{prod}"``),
and a stack is named by its file (``stacks/<name>.yaml``).

It is persisted because some of it cannot be observed again: a preview's first-seen time decides
when it expires, and a last good image is what environments fall back to when a build fails. The
file is JSON, replaced atomically (write a temporary file, fsync, ``os.replace``), so a crash leaves
either the old or the new file, never half of one. A file that cannot be parsed stops the daemon
with a clear error instead of being reset silently, because resetting it would lose that history.

A version 1 file kept previews and images without their stack. Nobody can tell which stack wrote
such an entry, and before per-stack keys every stack using the project read it, so on load they are
kept as *unassigned* (the file's ``unassigned`` section) and each stack adopts a copy of those of
its Projects the first time it is read, unless it already has its own. After the upgrade every
stack therefore renders exactly what it rendered before (no pin moves, no preview TTL restarts),
and from then on each stack's entries are its own. A preview's unassigned entry is dropped when
its branch is deleted, like the stacks' own.

All methods are thread-safe: the HTTP status endpoint may read while the loop writes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.files import atomic_write
from automation.stack_inputs import ProjectInputs, projects, stack_of, vault_secrets
from automation.times import iso_precise, utc
from automation.times import parse as parse_time
from components.documents import StackDocuments
from components.observations import Observations

log = logging.getLogger("driftless.observations")

# 1: previews and images keyed "<project>/<key>", shared by every stack (read as unassigned);
# 2: previews and images per stack, under "stacks".
FORMAT_VERSION = 2


class ObservationStoreError(Exception):
    """The observations file exists but cannot be used."""


@dataclass(frozen=True)
class HeadsChange:
    """How a repository's branch heads moved between two polls."""

    added: frozenset[str]
    removed: frozenset[str]
    moved: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.moved)

    def describe(self) -> str:
        parts = [f"+{b}" for b in sorted(self.added)]
        parts += [f"-{b}" for b in sorted(self.removed)]
        parts += [f"~{b}" for b in sorted(self.moved)]
        return " ".join(parts)


@dataclass(frozen=True)
class GitObservation:
    """What one ``ls-remote`` result changed."""

    heads: HeadsChange  # every branch that moved, for logs
    first: bool  # the repository had never been observed
    stacks: frozenset[str]  # the stacks whose Projects use a branch that moved (all users when first)


@dataclass(frozen=True)
class RegistryCheck:
    """The last verification of a registry's credentials (no credential in it)."""

    verified: bool
    message: str
    checked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "message": self.message, "checkedAt": iso_precise(self.checked_at)}


class ObservationStore:
    """Observations persisted as one JSON file; see the module docstring."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._git: dict[str, dict[str, str]] = {}
        self._previews: dict[str, dict[str, datetime]] = {}  # stack -> "<project>/<slug>" -> first seen
        self._images: dict[str, dict[str, dict[str, str]]] = {}  # stack -> "<project>/<key>" -> image
        self._unassigned_previews: dict[str, datetime] = {}  # from a version 1 file
        self._unassigned_images: dict[str, dict[str, str]] = {}
        self._vault: dict[str, int] = {}
        self._registries: dict[str, RegistryCheck] = {}
        self._dirty = False
        if self.path.exists():
            self._load()

    # --- git ------------------------------------------------------------------------------

    def git_heads(self, url: str) -> dict[str, str] | None:
        """A repository's last observed heads (branch → commit), or None if never observed."""
        with self._lock:
            heads = self._git.get(url)
            return dict(heads) if heads is not None else None

    def set_git_heads(self, url: str, heads: Mapping[str, str]) -> HeadsChange:
        """Record a repository's heads; say what moved compared to the last observation."""
        with self._lock:
            old = self._git.get(url, {})
            change = HeadsChange(
                added=frozenset(heads.keys() - old.keys()),
                removed=frozenset(old.keys() - heads.keys()),
                moved=frozenset(b for b in heads.keys() & old.keys() if heads[b] != old[b]),
            )
            if change or url not in self._git:
                self._git[url] = dict(heads)
                self._dirty = True
            return change

    def observe_git(
        self, url: str, heads: Mapping[str, str], users: Iterable[tuple[str, ProjectInputs]], now: datetime
    ) -> GitObservation:
        """Record a repository's heads and what they mean for the (stack, Project) pairs using it.

        A branch that gets a preview has its first-seen time recorded when it appears (its TTL
        runs from then) and forgotten when it disappears (a re-created branch gets a fresh
        preview). The stacks named are those whose Projects read a head that moved
        (:meth:`ProjectInputs.used_branches`): a push to any other branch changes nothing the
        program sees. All of it under the lock, so a reader never sees heads without their previews.
        """
        with self._lock:
            old = self.git_heads(url)
            change = self.set_git_heads(url, heads)
            affected = set()
            for stack, project in users:
                self._adopt(stack, [project])
                keys = set(project.preview_keys(heads).values())
                for gone in set(project.preview_keys(old or {}).values()) - keys:
                    self.forget_preview(stack, gone)
                for key in keys:
                    self.set_first_seen(stack, key, now)
                before = {b: (old or {})[b] for b in project.used_branches(old or {})}
                after = {b: heads[b] for b in project.used_branches(heads)}
                if old is None or before != after:
                    affected.add(stack)
            return GitObservation(change, old is None, frozenset(affected))

    # --- previews -------------------------------------------------------------------------

    def first_seen(self, stack: str, key: str) -> datetime | None:
        """When the stack's preview ``"<project>/<slug>"`` was first seen, if it has been."""
        with self._lock:
            return self._previews.get(stack, {}).get(key)

    def set_first_seen(self, stack: str, key: str, when: datetime) -> bool:
        """Record a preview's first-seen time unless one is already known; True when recorded."""
        with self._lock:
            previews = self._previews.setdefault(stack, {})
            if key in previews:
                return False
            previews[key] = utc(when)
            self._dirty = True
            return True

    def forget_preview(self, stack: str, key: str) -> bool:
        """Drop a preview's first-seen time (its branch is gone); True when there was one."""
        with self._lock:
            unassigned = self._unassigned_previews.pop(key, None)
            if self._previews.get(stack, {}).pop(key, None) is None and unassigned is None:
                return False
            self._dirty = True
            return True

    def note_previews(self, documents: StackDocuments, now: datetime, *, stack: str | None = None) -> bool:
        """Record ``now`` as the first-seen time of every wanted preview branch not yet recorded.

        The observations format says a branch without a first-seen time is first seen at ``now``;
        writing that down the first time the daemon uses it is what lets the preview expire
        ``ttlHours`` later, even when previews were enabled in the stack file after the branch was
        already observed.
        """
        stack = stack if stack is not None else stack_of(documents)
        changed = False
        with self._lock:
            stack_projects = projects(documents)
            self._adopt(stack, stack_projects)
            for project in stack_projects:
                for key in project.preview_keys(self._git.get(project.repo_url, {})).values():
                    changed |= self.set_first_seen(stack, key, now)
        return changed

    def wanted_previews(self, stack: str, project: ProjectInputs) -> dict[str, datetime | None]:
        """The project's preview keys for its observed branches → first-seen time (if recorded)."""
        with self._lock:
            self._adopt(stack, [project])
            previews = self._previews.get(stack, {})
            keys = project.preview_keys(self._git.get(project.repo_url, {})).values()
            return {key: previews.get(key) for key in sorted(keys)}

    # --- images ---------------------------------------------------------------------------

    def record_images(
        self, stack: str, project: str, last_good_images: Mapping[str, Mapping[str, str]]
    ) -> bool:
        """Record a Project's ``lastGoodImages`` output ({branch: {image, commit}}); True on change.

        Entries are added or updated, never removed: a branch missing from one status output keeps
        its last good image, which is what environments fall back to when a build fails.
        """
        changed = False
        with self._lock:
            images = self._images.setdefault(stack, {})
            for branch, info in last_good_images.items():
                image = info.get("image") if isinstance(info, Mapping) else None
                if not isinstance(image, str) or not image:
                    continue
                entry = {"image": image}
                for field in ("commit", "builtAt"):
                    value = info.get(field)
                    if isinstance(value, str) and value:
                        entry[field] = value
                key = f"{project}/{branch}"
                if images.get(key) != entry:
                    images[key] = entry
                    changed = True
            self._dirty |= changed
        return changed

    def record_project_status(self, stack: str, project: str, status: Mapping[str, Any]) -> bool:
        """Record the images of one stack's Project status output; True when something changed.

        Both ``lastGoodImages`` ({branch: image}) and ``pinnedImages`` ({"@{<env>}": image}, the
        image each pinned environment runs) are kept for ``stack`` under ``"<project>/<key>"``,
        which is where that stack's Kapsa program looks them up on its next run.
        """
        changed = False
        for field in ("lastGoodImages", "pinnedImages"):
            images = status.get(field)
            if isinstance(images, Mapping):
                changed |= self.record_images(stack, project, images)
        return changed

    # --- vault ----------------------------------------------------------------------------

    def vault_version(self, secret: str) -> int | None:
        """The last observed KV v2 ``current_version`` of ``"<mount>/<path>"``."""
        with self._lock:
            return self._vault.get(secret)

    def set_vault_version(self, secret: str, version: int) -> bool:
        """Record a KV v2 secret's current version; True when it differs from the last one."""
        with self._lock:
            if self._vault.get(secret) == version:
                return False
            self._vault[secret] = version
            self._dirty = True
            return True

    # --- registries -----------------------------------------------------------------------

    def registry_check(self, server: str) -> RegistryCheck | None:
        with self._lock:
            return self._registries.get(server)

    def registry_checks(self) -> dict[str, dict[str, Any]]:
        """Every registry's last check, for status: server → {verified, message, checkedAt}."""
        with self._lock:
            return {server: check.as_dict() for server, check in sorted(self._registries.items())}

    def record_registry_check(self, server: str, check: RegistryCheck) -> bool:
        """Record a verification result; True when ``verified`` flipped (for the log).

        A first result counts as a flip only when it is a failure: until checked, a registry is
        presumed to work. The result is status only: the program never reads it, so it is in no
        stack's observations or fingerprint.
        """
        with self._lock:
            previous = self._registries.get(server)
            self._registries[server] = check
            self._dirty = True
            before = previous.verified if previous is not None else True
            return before != check.verified

    # --- per stack ------------------------------------------------------------------------

    def for_stack(
        self, documents: StackDocuments, now: datetime, *, stack: str | None = None
    ) -> Observations:
        """The observations for one stack: only the heads, previews and images it uses.

        ``stack`` defaults to the name of the stack file the documents came from.
        """
        stack = stack if stack is not None else stack_of(documents)
        self.note_previews(documents, now, stack=stack)
        with self._lock:
            stack_projects = projects(documents)
            return Observations.model_validate(
                {
                    "now": iso_precise(now),
                    "git": self._git_of(stack_projects),
                    "previews": {
                        key: {"firstSeen": iso_precise(seen)}
                        for key, seen in self._previews_of(stack, stack_projects).items()
                    },
                    "images": self._images_of(stack, stack_projects),
                }
            )

    def fingerprint_material(
        self, documents: StackDocuments, now: datetime, *, stack: str | None = None
    ) -> dict[str, Any]:
        """Everything observed that can change this stack's render, without ``now`` itself.

        ``now`` only enters through ``expiredPreviews``, so a preview's expiry changes the
        fingerprint exactly once. Only what the program reads is here: the heads of the branches
        its Projects use, its own previews and images, its Vault versions. Registry checks are
        not (the program never reads them; they are in status).
        """
        stack = stack if stack is not None else stack_of(documents)
        self.note_previews(documents, now, stack=stack)
        with self._lock:
            stack_projects = projects(documents)
            previews = self._previews_of(stack, stack_projects)
            expired = set()
            for project in stack_projects:
                for key, seen in self.wanted_previews(stack, project).items():
                    if seen is not None and project.previews.expires_at(seen) <= now:
                        expired.add(key)
            return {
                "git": self._git_of(stack_projects),
                "previews": {key: iso_precise(seen) for key, seen in previews.items()},
                "expiredPreviews": sorted(expired),
                "images": self._images_of(stack, stack_projects),
                "vault": {secret: self._vault.get(secret) for secret in sorted(vault_secrets(documents))},
            }

    def _git_of(self, stack_projects: list[ProjectInputs]) -> dict[str, dict[str, str]]:
        """URL → the heads of the branches the stack's Projects use (URLs with none left out)."""
        used: dict[str, set[str]] = {}
        for project in stack_projects:
            heads = self._git.get(project.repo_url)
            if heads is not None:
                used.setdefault(project.repo_url, set()).update(project.used_branches(heads))
        return {
            url: {branch: self._git[url][branch] for branch in sorted(branches)}
            for url, branches in sorted(used.items())
            if branches
        }

    def _previews_of(self, stack: str, stack_projects: list[ProjectInputs]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for project in stack_projects:
            for key, seen in self.wanted_previews(stack, project).items():
                if seen is not None:
                    found[key] = seen
        return dict(sorted(found.items()))

    def _images_of(self, stack: str, stack_projects: list[ProjectInputs]) -> dict[str, dict[str, str]]:
        self._adopt(stack, stack_projects)
        prefixes = tuple(p.key_prefix() for p in stack_projects)
        return {
            key: dict(entry)
            for key, entry in sorted(self._images.get(stack, {}).items())
            if prefixes and key.startswith(prefixes)
        }

    def _adopt(self, stack: str, stack_projects: Iterable[ProjectInputs]) -> None:
        """Copy a version 1 file's entries of these Projects into the stack, unless it has its own."""
        if not self._unassigned_previews and not self._unassigned_images:
            return
        prefixes = tuple(p.key_prefix() for p in stack_projects)
        if not prefixes:
            return
        previews = self._previews.setdefault(stack, {})
        for key, seen in self._unassigned_previews.items():
            if key.startswith(prefixes) and key not in previews:
                previews[key] = seen
                self._dirty = True
        images = self._images.setdefault(stack, {})
        for key, entry in self._unassigned_images.items():
            if key.startswith(prefixes) and key not in images:
                images[key] = dict(entry)
                self._dirty = True

    # --- persistence ----------------------------------------------------------------------

    def save(self) -> None:
        """Write the file atomically if anything changed since the last save."""
        with self._lock:
            if not self._dirty and self.path.exists():
                return
            stacks: dict[str, dict[str, Any]] = {}
            for stack in sorted(self._previews.keys() | self._images.keys()):
                entry: dict[str, Any] = {}
                if previews := self._previews.get(stack):
                    entry["previews"] = _previews_json(previews)
                if images := self._images.get(stack):
                    entry["images"] = dict(sorted(images.items()))
                if entry:
                    stacks[stack] = entry
            data: dict[str, Any] = {
                "version": FORMAT_VERSION,
                "git": {url: dict(sorted(heads.items())) for url, heads in sorted(self._git.items())},
                "stacks": stacks,
                "vault": dict(sorted(self._vault.items())),
                "registries": self.registry_checks(),
            }
            if self._unassigned_previews or self._unassigned_images:
                data["unassigned"] = {
                    "previews": _previews_json(self._unassigned_previews),
                    "images": dict(sorted(self._unassigned_images.items())),
                }
            atomic_write(self.path, json.dumps(data, indent=2) + "\n")
            self._dirty = False

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("the top level is not an object")
            version = data.get("version", 1)
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ValueError(f"format version {version!r} is newer than this driftless reads")
            self._git = {url: dict(heads) for url, heads in data.get("git", {}).items()}
            if version < 2:
                # Keys without their stack: kept for each stack to adopt (see the module docstring).
                self._unassigned_previews = _parse_previews(data.get("previews", {}))
                self._unassigned_images = _parse_images(data.get("images", {}))
                if self._unassigned_previews or self._unassigned_images:
                    self._dirty = True  # the next save writes the current format
                    log.info(
                        "observations: a version 1 file: %d preview(s) and %d image(s) without a stack "
                        "are adopted by each stack whose Projects they name",
                        len(self._unassigned_previews),
                        len(self._unassigned_images),
                    )
            else:
                for stack, entry in data.get("stacks", {}).items():
                    self._previews[stack] = _parse_previews(entry.get("previews", {}))
                    self._images[stack] = _parse_images(entry.get("images", {}))
                unassigned = data.get("unassigned", {})
                self._unassigned_previews = _parse_previews(unassigned.get("previews", {}))
                self._unassigned_images = _parse_images(unassigned.get("images", {}))
            self._vault = {key: int(number) for key, number in data.get("vault", {}).items()}
            self._registries = {
                server: RegistryCheck(
                    verified=bool(entry["verified"]),
                    message=str(entry.get("message", "")),
                    checked_at=parse_time(entry["checkedAt"]),
                )
                for server, entry in data.get("registries", {}).items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ObservationStoreError(
                f"{self.path}: cannot read the observations file ({exc}); it holds preview first-seen "
                "times and last good images, so it is not reset automatically: fix or remove it"
            ) from exc


def _previews_json(previews: Mapping[str, datetime]) -> dict[str, dict[str, str]]:
    return {key: {"firstSeen": iso_precise(seen)} for key, seen in sorted(previews.items())}


def _parse_previews(raw: Mapping[str, Any]) -> dict[str, datetime]:
    return {key: parse_time(entry["firstSeen"]) for key, entry in raw.items()}


def _parse_images(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {key: dict(entry) for key, entry in raw.items()}
