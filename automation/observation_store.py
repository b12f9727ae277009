"""The observation store: everything the daemon saw outside the repository, persisted.

Sources of change write here (git heads, preview identities, KV v2 versions, registry checks,
the versions of the Registries' credentials Secrets) and the reconciler records each Project's
last good images; the reconciler then reads, per stack, the observations the program gets
(:meth:`ObservationStore.for_stack`) and the material of its fingerprint
(:meth:`ObservationStore.fingerprint_material`).

What is a fact about the world is shared: a repository's branch heads (keyed by its URL), a KV v2
secret's version, a registry's last check. What a stack's program decided or was told is kept per
stack: preview identities, last good / pinned images and the credentials Secrets' versions (each
stack reads its own cluster). Two stack files can both define ``Project/api`` (``staging.yaml``
and ``live.yaml``); each has its own previews, TTLs and pins, so one stack's ``up`` never moves
another's images or fingerprint. Inside a stack they are keyed as the observations format has them
(``"api/feature-new-api"``, ``"api/main"``, ``"api/@{prod}"``), and a stack is named by its file
(``stacks/<name>.yaml``).

It is persisted because some of it cannot be observed again: a preview's identity (branch, slug,
first-seen time and expiry, recorded once when its branch is first seen and never changed until
the branch is deleted) decides its name and when it expires, and a last good image is what
environments fall back to when a build fails. The file is JSON, replaced atomically (write a
temporary file, fsync, ``os.replace``), so a crash leaves either the old or the new file, never
half of one. A file that cannot be parsed stops the daemon with a clear error instead of being
reset silently, because resetting it would lose that history.

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
from automation.stack_inputs import ProjectInputs, projects, registries, stack_of, vault_secrets
from automation.times import iso_precise, utc
from automation.times import parse as parse_time
from components.documents import StackDocuments
from components.kapsa.previews import NEW, RECORDED, PreviewIdentity, preview_key
from components.observations import Observations, PreviewObservation

log = logging.getLogger("driftless.observations")

# 1: previews and images keyed "<project>/<key>", shared by every stack (read as unassigned);
# 2: previews and images per stack, under "stacks";
# 3: a preview records its identity (branch, slug, expiresAt) beside firstSeen.
FORMAT_VERSION = 3


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


@dataclass(frozen=True)
class SourceSecret:
    """The last read of a Registry's credentials Secret for one stack (its version, no data)."""

    server: str  # the Registry's server, for status
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


class ObservationStore:
    """Observations persisted as one JSON file; see the module docstring."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._git: dict[str, dict[str, str]] = {}
        self._previews: dict[
            str, dict[str, PreviewObservation]
        ] = {}  # stack -> "<project>/<slug>" -> identity
        self._images: dict[str, dict[str, dict[str, str]]] = {}  # stack -> "<project>/<key>" -> image
        self._unassigned_previews: dict[str, PreviewObservation] = {}  # from a version 1 file
        self._unassigned_images: dict[str, dict[str, str]] = {}
        self._vault: dict[str, int] = {}
        self._registries: dict[str, RegistryCheck] = {}
        self._source_secrets: dict[str, dict[str, SourceSecret]] = {}  # stack -> "<ns>/<name>" -> read
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

        A branch that gets a preview has its identity recorded when it appears (its TTL runs from
        then, its slug is fixed) and forgotten when it disappears (a re-created branch gets a fresh
        preview). The stacks named are those whose Projects read a head that moved
        (:meth:`ProjectInputs.used_branches`) or whose previews came or went: a push to any other
        branch, or to one whose preview has expired, changes nothing the program renders. All of it
        under the lock, so a reader never sees heads without their previews.
        """
        with self._lock:
            old = self.git_heads(url)
            for stack, project in users:
                self._adopt(stack, [project])
                if old is not None:
                    # Records of the older format are named by the set they were assigned in:
                    # give them their identity before the set changes.
                    self._record_previews(stack, project, old, now, add_new=False)
            change = self.set_git_heads(url, heads)
            affected = set()
            for stack, project in users:
                previews_changed = self._forget_deleted(stack, project, heads)
                previews_changed |= self._record_previews(stack, project, heads, now)
                expired = self._expired_branches(stack, project, {*(old or {}), *heads}, now)
                before = {b: (old or {})[b] for b in project.used_branches(old or {}, expired)}
                after = {b: heads[b] for b in project.used_branches(heads, expired)}
                if old is None or before != after or previews_changed:
                    affected.add(stack)
            return GitObservation(change, old is None, frozenset(affected))

    # --- previews -------------------------------------------------------------------------

    def preview(self, stack: str, key: str) -> PreviewObservation | None:
        """The stack's record of the preview ``"<project>/<slug>"``, if there is one."""
        with self._lock:
            return self._previews.get(stack, {}).get(key)

    def first_seen(self, stack: str, key: str) -> datetime | None:
        """When the stack's preview ``"<project>/<slug>"`` was first seen, if it has been."""
        entry = self.preview(stack, key)
        return entry.first_seen if entry is not None else None

    def set_first_seen(self, stack: str, key: str, when: datetime) -> bool:
        """Record a first-seen time alone (the older format, found by its slug) unless ``key`` has a
        record; True when recorded."""
        with self._lock:
            previews = self._previews.setdefault(stack, {})
            if key in previews:
                return False
            previews[key] = PreviewObservation(firstSeen=utc(when))
            self._dirty = True
            return True

    def forget_preview(self, stack: str, key: str) -> bool:
        """Drop a preview's record (its branch is gone); True when there was one."""
        with self._lock:
            unassigned = self._unassigned_previews.pop(key, None)
            if self._previews.get(stack, {}).pop(key, None) is None and unassigned is None:
                return False
            self._dirty = True
            return True

    def note_previews(self, documents: StackDocuments, now: datetime, *, stack: str | None = None) -> bool:
        """Record the identity of every wanted preview branch not yet recorded, first seen ``now``.

        The observations format says a branch without a record is first seen at ``now``; writing
        that down the first time the daemon uses it is what lets the preview expire ``ttlHours``
        later, even when previews were enabled in the stack file after the branch was already
        observed. A record of the older format (first seen only) gets its branch, slug and expiry.
        """
        stack = stack if stack is not None else stack_of(documents)
        changed = False
        with self._lock:
            stack_projects = projects(documents)
            self._adopt(stack, stack_projects)
            for project in stack_projects:
                changed |= self._record_previews(stack, project, self._git.get(project.repo_url, {}), now)
        return changed

    def preview_identities(
        self, stack: str, project: ProjectInputs, now: datetime
    ) -> dict[str, PreviewIdentity]:
        """Branch → identity of each observed branch of the project that gets a preview.

        A branch with no record yet shows as first seen ``now`` (origin ``new``).
        """
        with self._lock:
            self._adopt(stack, [project])
            heads = self._git.get(project.repo_url, {})
            return project.preview_identities(heads, self._previews.get(stack, {}), now)

    def _record_previews(
        self,
        stack: str,
        project: ProjectInputs,
        branches: Iterable[str],
        now: datetime,
        *,
        add_new: bool = True,
    ) -> bool:
        """Write down the identities of ``branches`` that have none (or only a first-seen time)."""
        records = self._previews.setdefault(stack, {})
        changed = False
        for identity in project.preview_identities(branches, records, now).values():
            if identity.origin == RECORDED or (identity.origin == NEW and not add_new):
                continue
            records[preview_key(project.name, identity.slug)] = identity.to_observation()
            changed = True
        self._dirty |= changed
        return changed

    def _forget_deleted(self, stack: str, project: ProjectInputs, heads: Mapping[str, str]) -> bool:
        """Forget the project's preview records whose branch is gone from ``heads``."""
        prefix = project.key_prefix()
        gone = [
            key
            for key, entry in self._previews.get(stack, {}).items()
            if key.startswith(prefix) and entry.branch is not None and entry.branch not in heads
        ]
        for key in gone:
            self.forget_preview(stack, key)
        return bool(gone)

    def _expired_branches(
        self, stack: str, project: ProjectInputs, branches: Iterable[str], now: datetime
    ) -> set[str]:
        identities = project.preview_identities(branches, self._previews.get(stack, {}), now)
        return {branch for branch, identity in identities.items() if identity.expired(now)}

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
        """Every registry's last check, for status: server → {verified, message, checkedAt}.

        A Registry whose credentials Secret the daemon has tried to read also has
        ``credentialsSecret``: {secret, resourceVersion (null: unknown), message, checkedAt}; a
        Registry that was never verified has only that.
        """
        with self._lock:
            checks = {server: check.as_dict() for server, check in self._registries.items()}
            for stack in sorted(self._source_secrets):
                for key, read in sorted(self._source_secrets[stack].items()):
                    entry = checks.setdefault(read.server, {})
                    entry.setdefault("credentialsSecret", read.as_dict(key))
            return dict(sorted(checks.items()))

    # --- registry credentials Secrets -------------------------------------------------------

    def source_secret(self, stack: str, key: str) -> SourceSecret | None:
        """The stack's last read of the credentials Secret ``"<namespace>/<name>"``."""
        with self._lock:
            return self._source_secrets.get(stack, {}).get(key)

    def record_source_secret(self, stack: str, key: str, read: SourceSecret) -> bool:
        """Record a read of a credentials Secret; True when its known version changed.

        A read that found no version keeps the last known one (the fingerprint never changes
        because a read failed) and only updates the message.
        """
        with self._lock:
            reads = self._source_secrets.setdefault(stack, {})
            previous = reads.get(key)
            known = previous.resource_version if previous is not None else None
            if read.resource_version is None and known is not None:
                read = SourceSecret(
                    read.server, known, f"{read.message} (last known version kept)", read.checked_at
                )
            if read != previous:
                reads[key] = read
                self._dirty = True
            return read.resource_version != known

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
            previews = {
                preview_key(project.name, identity.slug): _preview_json(identity.to_observation())
                for project in stack_projects
                for identity in self.preview_identities(stack, project, now).values()
            }
            return Observations.model_validate(
                {
                    "now": iso_precise(now),
                    "git": self._git_of(stack_projects),
                    "previews": dict(sorted(previews.items())),
                    "images": self._images_of(stack, stack_projects),
                }
            )

    def fingerprint_material(
        self, documents: StackDocuments, now: datetime, *, stack: str | None = None
    ) -> dict[str, Any]:
        """Everything observed that can change this stack's render, without ``now`` itself.

        ``now`` only enters through ``expiredPreviews``, so a preview's expiry changes the
        fingerprint exactly once. Only what the program renders from is here: the heads of the
        branches its Projects build (a branch whose preview expired or is excluded is not built, so
        a commit on it changes nothing), its live previews' identities, its own images, its Vault
        versions. Registry checks are not (the program never reads them; they are in status).
        """
        stack = stack if stack is not None else stack_of(documents)
        self.note_previews(documents, now, stack=stack)
        with self._lock:
            stack_projects = projects(documents)
            previews: dict[str, Any] = {}
            expired: set[str] = set()
            expired_branches: dict[str, set[str]] = {}
            for project in stack_projects:
                for branch, identity in self.preview_identities(stack, project, now).items():
                    key = preview_key(project.name, identity.slug)
                    if identity.expired(now):
                        expired.add(key)
                        expired_branches.setdefault(project.name, set()).add(branch)
                    else:
                        previews[key] = _preview_json(identity.to_observation())
            material: dict[str, Any] = {
                "git": self._git_of(stack_projects, expired_branches),
                "previews": dict(sorted(previews.items())),
                "expiredPreviews": sorted(expired),
                "images": self._images_of(stack, stack_projects),
                "vault": {secret: self._vault.get(secret) for secret in sorted(vault_secrets(documents))},
            }
            # Only known versions, and no key without one: a daemon that cannot read the cluster
            # fingerprints exactly as one that never tried.
            reads = self._source_secrets.get(stack, {})
            versions = {}
            for registry in registries(documents):
                secret = registry.credentials_key()
                read = reads.get(secret) if secret is not None else None
                if secret is not None and read is not None and read.resource_version is not None:
                    versions[secret] = read.resource_version
            if versions:
                material["registrySecrets"] = dict(sorted(versions.items()))
            return material

    def _git_of(
        self, stack_projects: list[ProjectInputs], expired: Mapping[str, set[str]] | None = None
    ) -> dict[str, dict[str, str]]:
        """URL → the heads of the branches the stack's Projects use (URLs with none left out).

        ``expired``: project name → branches whose preview has expired (left out unless an
        environment deploys them).
        """
        used: dict[str, set[str]] = {}
        for project in stack_projects:
            heads = self._git.get(project.repo_url)
            if heads is not None:
                gone = (expired or {}).get(project.name, set())
                used.setdefault(project.repo_url, set()).update(project.used_branches(heads, gone))
        return {
            url: {branch: self._git[url][branch] for branch in sorted(branches)}
            for url, branches in sorted(used.items())
            if branches
        }

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
        for key, preview in self._unassigned_previews.items():
            if key.startswith(prefixes) and key not in previews:
                previews[key] = preview
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
                "registries": {server: check.as_dict() for server, check in sorted(self._registries.items())},
            }
            if self._source_secrets:
                data["registrySecrets"] = {
                    stack: {
                        key: read.as_dict(key) | {"server": read.server}
                        for key, read in sorted(reads.items())
                    }
                    for stack, reads in sorted(self._source_secrets.items())
                    if reads
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
            self._source_secrets = {
                stack: {
                    key: SourceSecret(
                        server=str(entry["server"]),
                        resource_version=_optional_text(entry, "resourceVersion"),
                        message=str(entry.get("message", "")),
                        checked_at=parse_time(entry["checkedAt"]),
                    )
                    for key, entry in reads.items()
                }
                for stack, reads in data.get("registrySecrets", {}).items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ObservationStoreError(
                f"{self.path}: cannot read the observations file ({exc}); it holds preview first-seen "
                "times and last good images, so it is not reset automatically: fix or remove it"
            ) from exc


def _preview_json(entry: PreviewObservation) -> dict[str, str]:
    """A preview record as the observations format writes it (a field not recorded is left out)."""
    found = {"firstSeen": iso_precise(entry.first_seen)}
    if entry.branch is not None:
        found["branch"] = entry.branch
    if entry.slug is not None:
        found["slug"] = entry.slug
    if entry.expires_at is not None:
        found["expiresAt"] = iso_precise(entry.expires_at)
    return found


def _previews_json(previews: Mapping[str, PreviewObservation]) -> dict[str, dict[str, str]]:
    return {key: _preview_json(entry) for key, entry in sorted(previews.items())}


def _parse_previews(raw: Mapping[str, Any]) -> dict[str, PreviewObservation]:
    """Preview records; one with only ``firstSeen`` (versions 1 and 2) is found by its slug."""
    found = {}
    for key, entry in raw.items():
        expires_at = entry.get("expiresAt")
        found[key] = PreviewObservation(
            firstSeen=parse_time(entry["firstSeen"]),
            branch=_optional_text(entry, "branch"),
            slug=_optional_text(entry, "slug"),
            expiresAt=parse_time(expires_at) if expires_at is not None else None,
        )
    return found


def _optional_text(entry: Mapping[str, Any], field: str) -> str | None:
    value = entry.get(field)
    if value is None or (isinstance(value, str) and value):
        return value
    raise TypeError(f"{field} is {value!r}, not a non-empty string")


def _parse_images(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    return {key: dict(entry) for key, entry in raw.items()}
