"""The observation store: everything the daemon saw outside the repository, persisted.

Sources of change write here (git heads, preview first-seen times, KV v2 versions, registry
checks) and the reconciler records each Project's last good images; the reconciler then reads,
per stack, the SPEC §2 observations the program gets (:meth:`ObservationStore.for_stack`) and the
material of its fingerprint (:meth:`ObservationStore.fingerprint_material`).

It is persisted because some of it cannot be observed again: a preview's first-seen time decides
when it expires, and a last good image is what environments fall back to when a build fails. The
file is JSON, replaced atomically (write a temporary file, fsync, ``os.replace``), so a crash leaves
either the old or the new file, never half of one. A file that cannot be parsed stops the daemon
with a clear error instead of being reset silently, because resetting it would lose that history.

All methods are thread-safe: the HTTP status endpoint may read while the loop writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from automation.files import atomic_write
from automation.stack_inputs import ProjectInputs, projects, registries, vault_secrets
from components.documents import StackDocuments
from components.observations import Observations

FORMAT_VERSION = 1


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
class RegistryCheck:
    """The last verification of a registry's credentials (no credential in it)."""

    verified: bool
    message: str
    checked_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"verified": self.verified, "message": self.message, "checkedAt": _iso(self.checked_at)}


class ObservationStore:
    """Observations persisted as one JSON file; see the module docstring."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._git: dict[str, dict[str, str]] = {}
        self._previews: dict[str, datetime] = {}
        self._images: dict[str, dict[str, str]] = {}
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

    # --- previews -------------------------------------------------------------------------

    def first_seen(self, key: str) -> datetime | None:
        """When the preview ``"<project>/<slug>"`` was first seen, if it has been."""
        with self._lock:
            return self._previews.get(key)

    def set_first_seen(self, key: str, when: datetime) -> bool:
        """Record a preview's first-seen time unless one is already known; True when recorded."""
        with self._lock:
            if key in self._previews:
                return False
            self._previews[key] = _aware(when)
            self._dirty = True
            return True

    def forget_preview(self, key: str) -> bool:
        """Drop a preview's first-seen time (its branch is gone); True when there was one."""
        with self._lock:
            if self._previews.pop(key, None) is None:
                return False
            self._dirty = True
            return True

    def note_previews(self, documents: Iterable[Any], now: datetime) -> bool:
        """Record ``now`` as the first-seen time of every wanted preview branch not yet recorded.

        SPEC §2 says a branch without a first-seen time is first seen at ``now``; writing that down
        the first time the daemon uses it is what lets the preview expire ``ttlHours`` later, even
        when previews were enabled in the stack file after the branch was already observed.
        """
        changed = False
        with self._lock:
            for project in projects(documents):
                for key in project.preview_keys(self._git.get(project.repo_url, {})).values():
                    changed |= self.set_first_seen(key, now)
        return changed

    def wanted_previews(self, project: ProjectInputs) -> dict[str, datetime | None]:
        """The project's preview keys for its observed branches → first-seen time (if recorded)."""
        with self._lock:
            keys = project.preview_keys(self._git.get(project.repo_url, {})).values()
            return {key: self._previews.get(key) for key in sorted(keys)}

    # --- images ---------------------------------------------------------------------------

    def record_images(self, project: str, last_good_images: Mapping[str, Mapping[str, str]]) -> bool:
        """Record a Project's ``lastGoodImages`` output ({branch: {image, commit}}); True on change.

        Entries are added or updated, never removed: a branch missing from one status output keeps
        its last good image, which is what environments fall back to when a build fails.
        """
        changed = False
        with self._lock:
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
                if self._images.get(key) != entry:
                    self._images[key] = entry
                    changed = True
            self._dirty |= changed
        return changed

    def record_project_status(self, project: str, status: Mapping[str, Any]) -> bool:
        """Record the images of a Project's status output; True when something changed.

        Both ``lastGoodImages`` ({branch: image}) and ``pinnedImages`` ({"@{<env>}": image}, the
        image each pinned environment runs) are kept under ``"<project>/<key>"``, which is where
        the Kapsa program looks them up on the next run.
        """
        changed = False
        for field in ("lastGoodImages", "pinnedImages"):
            images = status.get(field)
            if isinstance(images, Mapping):
                changed |= self.record_images(project, images)
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
        """Record a verification result; True when ``verified`` flipped.

        A first result counts as a flip only when it is a failure: until checked, a registry is
        presumed to work, so a first success changes nothing a stack depends on.
        """
        with self._lock:
            previous = self._registries.get(server)
            self._registries[server] = check
            self._dirty = True
            before = previous.verified if previous is not None else True
            return before != check.verified

    # --- per stack ------------------------------------------------------------------------

    def for_stack(self, documents: StackDocuments, now: datetime) -> Observations:
        """The SPEC §2 observations for one stack: only its repositories, previews and images."""
        self.note_previews(documents, now)
        with self._lock:
            stack_projects = projects(documents)
            return Observations.model_validate(
                {
                    "now": _iso(now),
                    "git": self._git_of(stack_projects),
                    "previews": {
                        key: {"firstSeen": _iso(seen)}
                        for key, seen in self._previews_of(stack_projects).items()
                    },
                    "images": self._images_of(stack_projects),
                }
            )

    def fingerprint_material(self, documents: StackDocuments, now: datetime) -> dict[str, Any]:
        """Everything observed that can change this stack's render, without ``now`` itself.

        ``now`` only enters through ``expiredPreviews``, so a preview's expiry changes the
        fingerprint exactly once. A registry enters only while its verification fails, so a first
        success or a recheck with the same result never triggers an operation.
        """
        self.note_previews(documents, now)
        with self._lock:
            stack_projects = projects(documents)
            previews = self._previews_of(stack_projects)
            expired = set()
            for project in stack_projects:
                for key, seen in self.wanted_previews(project).items():
                    if seen is not None and project.previews.expires_at(seen) <= now:
                        expired.add(key)
            return {
                "git": self._git_of(stack_projects),
                "previews": {key: _iso(seen) for key, seen in previews.items()},
                "expiredPreviews": sorted(expired),
                "images": self._images_of(stack_projects),
                "vault": {secret: self._vault.get(secret) for secret in sorted(vault_secrets(documents))},
                "unverifiedRegistries": sorted(
                    {
                        registry.server
                        for registry in registries(documents)
                        if (check := self._registries.get(registry.server)) is not None and not check.verified
                    }
                ),
            }

    def _git_of(self, stack_projects: list[ProjectInputs]) -> dict[str, dict[str, str]]:
        return {
            p.repo_url: dict(sorted(self._git[p.repo_url].items()))
            for p in sorted(stack_projects, key=lambda p: p.repo_url)
            if p.repo_url in self._git
        }

    def _previews_of(self, stack_projects: list[ProjectInputs]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for project in stack_projects:
            for key, seen in self.wanted_previews(project).items():
                if seen is not None:
                    found[key] = seen
        return dict(sorted(found.items()))

    def _images_of(self, stack_projects: list[ProjectInputs]) -> dict[str, dict[str, str]]:
        prefixes = tuple(p.image_prefix() for p in stack_projects)
        return {
            key: dict(entry)
            for key, entry in sorted(self._images.items())
            if prefixes and key.startswith(prefixes)
        }

    # --- persistence ----------------------------------------------------------------------

    def save(self) -> None:
        """Write the file atomically if anything changed since the last save."""
        with self._lock:
            if not self._dirty and self.path.exists():
                return
            data = {
                "version": FORMAT_VERSION,
                "git": {url: dict(sorted(heads.items())) for url, heads in sorted(self._git.items())},
                "previews": {key: {"firstSeen": _iso(seen)} for key, seen in sorted(self._previews.items())},
                "images": dict(sorted(self._images.items())),
                "vault": dict(sorted(self._vault.items())),
                "registries": self.registry_checks(),
            }
            atomic_write(self.path, json.dumps(data, indent=2) + "\n")
            self._dirty = False

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("the top level is not an object")
            self._git = {url: dict(heads) for url, heads in data.get("git", {}).items()}
            self._previews = {
                key: _parse_time(entry["firstSeen"]) for key, entry in data.get("previews", {}).items()
            }
            self._images = {key: dict(entry) for key, entry in data.get("images", {}).items()}
            self._vault = {key: int(version) for key, version in data.get("vault", {}).items()}
            self._registries = {
                server: RegistryCheck(
                    verified=bool(entry["verified"]),
                    message=str(entry.get("message", "")),
                    checked_at=_parse_time(entry["checkedAt"]),
                )
                for server, entry in data.get("registries", {}).items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ObservationStoreError(
                f"{self.path}: cannot read the observations file ({exc}); it holds preview first-seen "
                "times and last good images, so it is not reset automatically: fix or remove it"
            ) from exc


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return _aware(when).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
