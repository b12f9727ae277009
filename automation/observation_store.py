"""The observation store: everything the daemon saw outside the repository, persisted.

Sources of change write here (git heads, preview identities, KV v2 versions, registry checks,
the versions of the registries' credentials Secrets) and the reconciler records the images a
component's outputs name (``KindRegistration.images_from_outputs``) and the facts of what it applied
(``KindRegistration.applied_from_outputs``); the reconciler then reads, per
stack, the observations the program gets (:meth:`ObservationStore.for_stack`) and the material of
its fingerprint (:meth:`ObservationStore.fingerprint_material`). Which repositories, previews and
registries a stack uses is what its kinds declare (:mod:`components.inputs`, through the
:class:`~components.registry.KindRegistry` the store is given); the store knows no kind by name.
Each kind of fact has its own small store (:mod:`automation.observed`); this class holds them
behind one lock and persists them together as one file.

What is a fact about the world is shared: a repository's branch heads (keyed by its URL), a KV v2
secret's version, a registry's last check. What a stack's program decided or was told is kept per
stack: preview identities, last good / pinned images, what each document's last ``up`` applied and
the credentials Secrets' versions (each stack reads its own cluster). Two stack files can both
define a document ``api`` of a kind (``staging.yaml`` and ``live.yaml``); each has its own
previews, TTLs and pins, so one stack's ``up`` never moves another's images or fingerprint. Inside
a stack they are keyed as the observations format has them (``"api/feature-new-api"``,
``"api/main"``, ``"api/@{prod}"``, ``"WazuhCluster/siem"``), and a stack is named by its file
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
its documents the first time it is read, unless it already has its own. After the upgrade every
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
from automation.observed.applied import AppliedRecords
from automation.observed.git import GitHeads, HeadsChange
from automation.observed.images import ImageRecords
from automation.observed.migration import Unassigned
from automation.observed.previews import PreviewRecords, preview_json
from automation.observed.registry_checks import RegistryCheck, RegistryChecks
from automation.observed.registry_secrets import SecretVersions, SourceSecret
from automation.observed.vault import VaultVersions
from automation.stack_inputs import stack_of, vault_secrets
from automation.times import iso_precise
from components.documents import StackDocuments
from components.inputs import NEW, RECORDED, ObservedRepository, PreviewIdentity
from components.observations import Observations, PreviewObservation
from components.registry import KindRegistry, default_registry

__all__ = [
    "FORMAT_VERSION",
    "GitObservation",
    "HeadsChange",
    "ObservationStore",
    "ObservationStoreError",
    "RegistryCheck",
    "SourceSecret",
]

log = logging.getLogger("driftless.observations")

# 1: previews and images keyed "<document>/<key>", shared by every stack (read as unassigned);
# 2: previews and images per stack, under "stacks";
# 3: a preview records its identity (branch, slug, expiresAt) beside firstSeen; a stack may hold
#    ``applied`` (optional: a file without it reads as nothing applied yet, and a daemon that predates
#    it drops it, which only postpones the checks that read it to the next successful up).
FORMAT_VERSION = 3


class ObservationStoreError(Exception):
    """The observations file exists but cannot be used."""


@dataclass(frozen=True)
class GitObservation:
    """What one ``ls-remote`` result changed."""

    heads: HeadsChange  # every branch that moved, for logs
    first: bool  # the repository had never been observed
    stacks: frozenset[str]  # the stacks whose documents use a branch that moved (all users when first)


class ObservationStore:
    """Observations persisted as one JSON file; see the module docstring.

    ``registry`` says what each kind observes (by default every domain package's kinds).
    """

    def __init__(self, path: Path, registry: KindRegistry | None = None):
        self.path = Path(path)
        self._registry = registry
        self._lock = threading.RLock()
        self._git = GitHeads()
        self._previews = PreviewRecords()
        self._images = ImageRecords()
        self._applied = AppliedRecords()
        self._unassigned = Unassigned()  # from a version 1 file
        self._vault = VaultVersions()
        self._registries = RegistryChecks()
        self._source_secrets = SecretVersions()
        if self.path.exists():
            self._load()

    @property
    def registry(self) -> KindRegistry:
        """The kinds whose declarations say what a stack observes (read on first use: ``status``
        never needs the domain packages)."""
        if self._registry is None:
            self._registry = default_registry()
        return self._registry

    def repositories(self, documents: StackDocuments) -> list[ObservedRepository]:
        """The git repositories a stack's documents read, as their kinds declare them."""
        return self.registry.repositories(documents)

    # --- git ------------------------------------------------------------------------------

    def git_heads(self, url: str) -> dict[str, str] | None:
        """A repository's last observed heads (branch → commit), or None if never observed."""
        with self._lock:
            return self._git.get(url)

    def set_git_heads(self, url: str, heads: Mapping[str, str]) -> HeadsChange:
        """Record a repository's heads; say what moved compared to the last observation."""
        with self._lock:
            return self._git.set(url, heads)

    def observe_git(
        self,
        url: str,
        heads: Mapping[str, str],
        users: Iterable[tuple[str, ObservedRepository]],
        now: datetime,
    ) -> GitObservation:
        """Record a repository's heads and what they mean for the (stack, document) pairs using it.

        A branch that gets a preview has its identity recorded when it appears (its TTL runs from
        then, its slug is fixed) and forgotten when it disappears (a re-created branch gets a fresh
        preview). The stacks named are those whose documents read a head that moved
        (:meth:`ObservedRepository.used_branches`) or whose previews came or went: a push to any
        other branch, or to one whose preview has expired, changes nothing the program renders. All
        of it under the lock, so a reader never sees heads without their previews.
        """
        with self._lock:
            old = self.git_heads(url)
            for stack, repository in users:
                self._adopt(stack, [repository])
                if old is not None:
                    # Records of the older format are named by the set they were assigned in:
                    # give them their identity before the set changes.
                    self._record_previews(stack, repository, old, now, add_new=False)
            change = self.set_git_heads(url, heads)
            affected = set()
            for stack, repository in users:
                previews_changed = self._forget_deleted(stack, repository, heads)
                previews_changed |= self._record_previews(stack, repository, heads, now)
                expired = self._expired_branches(stack, repository, {*(old or {}), *heads}, now)
                before = {b: (old or {})[b] for b in repository.used_branches(old or {}, expired)}
                after = {b: heads[b] for b in repository.used_branches(heads, expired)}
                if old is None or before != after or previews_changed:
                    affected.add(stack)
            return GitObservation(change, old is None, frozenset(affected))

    # --- previews -------------------------------------------------------------------------

    def preview(self, stack: str, key: str) -> PreviewObservation | None:
        """The stack's record of the preview ``"<document>/<slug>"``, if there is one."""
        with self._lock:
            return self._previews.get(stack, key)

    def first_seen(self, stack: str, key: str) -> datetime | None:
        """When the stack's preview ``"<document>/<slug>"`` was first seen, if it has been."""
        entry = self.preview(stack, key)
        return entry.first_seen if entry is not None else None

    def set_first_seen(self, stack: str, key: str, when: datetime) -> bool:
        """Record a first-seen time alone (the older format, found by its slug) unless ``key`` has a
        record; True when recorded."""
        with self._lock:
            return self._previews.set_first_seen(stack, key, when)

    def forget_preview(self, stack: str, key: str) -> bool:
        """Drop a preview's record (its branch is gone); True when there was one."""
        with self._lock:
            unassigned = self._unassigned.forget_preview(key)
            return self._previews.forget(stack, key) or unassigned

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
            used = self.repositories(documents)
            self._adopt(stack, used)
            for repository in used:
                changed |= self._record_previews(stack, repository, self._git.of(repository.repo_url), now)
        return changed

    def preview_identities(
        self, stack: str, repository: ObservedRepository, now: datetime
    ) -> Mapping[str, PreviewIdentity]:
        """Branch → identity of each observed branch of the repository that gets a preview.

        A branch with no record yet shows as first seen ``now`` (origin ``new``).
        """
        with self._lock:
            self._adopt(stack, [repository])
            heads = self._git.of(repository.repo_url)
            return repository.preview_identities(heads, self._previews.of(stack), now)

    def _record_previews(
        self,
        stack: str,
        repository: ObservedRepository,
        branches: Iterable[str],
        now: datetime,
        *,
        add_new: bool = True,
    ) -> bool:
        """Write down the identities of ``branches`` that have none (or only a first-seen time)."""
        changed = False
        identities = repository.preview_identities(branches, self._previews.of(stack), now)
        for identity in identities.values():
            if identity.origin == RECORDED or (identity.origin == NEW and not add_new):
                continue
            self._previews.put(stack, repository.key_prefix() + identity.slug, identity.to_observation())
            changed = True
        return changed

    def _forget_deleted(self, stack: str, repository: ObservedRepository, heads: Mapping[str, str]) -> bool:
        """Forget the repository's preview records whose branch is gone from ``heads``."""
        prefix = repository.key_prefix()
        gone = [
            key
            for key, entry in self._previews.of(stack).items()
            if key.startswith(prefix) and entry.branch is not None and entry.branch not in heads
        ]
        for key in gone:
            self.forget_preview(stack, key)
        return bool(gone)

    def _expired_branches(
        self, stack: str, repository: ObservedRepository, branches: Iterable[str], now: datetime
    ) -> set[str]:
        identities = repository.preview_identities(branches, self._previews.of(stack), now)
        return {branch for branch, identity in identities.items() if identity.expired(now)}

    # --- images ---------------------------------------------------------------------------

    def record_images(self, stack: str, name: str, images: Mapping[str, Mapping[str, str]]) -> bool:
        """Record images ({key: {image, commit?, builtAt?}}) under ``"<name>/<key>"``; True on change.

        Entries are added or updated, never removed: a key missing from one output keeps its last
        good image, which is what environments fall back to when a build fails.
        """
        with self._lock:
            return self._images.record(stack, name, images)

    def record_outputs(self, stack: str, kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        """Record the images a component's outputs name and the facts of what it applied (as its
        kind's ``images_from_outputs`` and ``applied_from_outputs`` read them) for ``stack``, which
        its program looks up on its next run; True when either changed."""
        registration = self.registry.get(kind)
        if registration is None:
            return False
        changed = False
        if registration.applied_from_outputs is not None:
            facts = registration.applied_from_outputs(outputs)
            changed |= self.record_applied(stack, f"{kind}/{name}", facts)
        if registration.images_from_outputs is not None:
            changed |= self.record_images(stack, name, registration.images_from_outputs(outputs))
        return changed

    # --- applied --------------------------------------------------------------------------

    def record_applied(self, stack: str, subject: str, facts: Mapping[str, Any]) -> bool:
        """Keep ``facts`` as what the last successful ``up`` applied of ``"<Kind>/<name>"``; True on
        change. Empty facts keep the last ones."""
        with self._lock:
            return self._applied.record(stack, subject, facts)

    def applied(self, stack: str, subject: str) -> dict[str, Any] | None:
        """What the stack's last successful ``up`` applied of ``"<Kind>/<name>"``, if recorded."""
        with self._lock:
            return self._applied.of(stack, [subject]).get(subject)

    # --- vault ----------------------------------------------------------------------------

    def vault_version(self, secret: str) -> int | None:
        """The last observed KV v2 ``current_version`` of ``"<mount>/<path>"``."""
        with self._lock:
            return self._vault.get(secret)

    def set_vault_version(self, secret: str, version: int) -> bool:
        """Record a KV v2 secret's current version; True when it differs from the last one."""
        with self._lock:
            return self._vault.set(secret, version)

    # --- registries -----------------------------------------------------------------------

    def registry_check(self, server: str) -> RegistryCheck | None:
        with self._lock:
            return self._registries.get(server)

    def registry_checks(self) -> dict[str, dict[str, Any]]:
        """Every registry's last check, for status: server → {verified, message, checkedAt}.

        A registry whose credentials Secret the daemon has tried to read also has
        ``credentialsSecret``: {secret, resourceVersion (null: unknown), message, checkedAt}; a
        registry that was never verified has only that.
        """
        with self._lock:
            checks = {server: check.as_dict() for server, check in self._registries.all().items()}
            for _, key, read in self._source_secrets.reads():
                entry = checks.setdefault(read.server, {})
                entry.setdefault("credentialsSecret", read.as_dict(key))
            return dict(sorted(checks.items()))

    def component_checks(self, documents: StackDocuments) -> dict[str, tuple[bool, str]]:
        """``"<Kind>/<name>"`` → (passed, message) of the last verification of each registry the
        documents declare (the component using it is the document declaring it); unchecked ones are
        left out."""
        found: dict[str, tuple[bool, str]] = {}
        with self._lock:
            for document, registry in self.registry.registries_by_document(documents):
                check = self._registries.get(registry.server)
                if check is not None:
                    found[document.subject] = (check.verified, check.message)
        return found

    def record_registry_check(self, server: str, check: RegistryCheck) -> bool:
        """Record a verification result; True when ``verified`` flipped (for the log).

        A first result counts as a flip only when it is a failure: until checked, a registry is
        presumed to work. The result is status only: the program never reads it, so it is in no
        stack's observations or fingerprint.
        """
        with self._lock:
            return self._registries.record(server, check)

    # --- registry credentials Secrets -------------------------------------------------------

    def source_secret(self, stack: str, key: str) -> SourceSecret | None:
        """The stack's last read of the credentials Secret ``"<namespace>/<name>"``."""
        with self._lock:
            return self._source_secrets.get(stack, key)

    def record_source_secret(self, stack: str, key: str, read: SourceSecret) -> bool:
        """Record a read of a credentials Secret; True when its known version changed.

        A read that found no version keeps the last known one (the fingerprint never changes
        because a read failed) and only updates the message.
        """
        with self._lock:
            return self._source_secrets.record(stack, key, read)

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
            used = self.repositories(documents)
            previews = {
                repository.key_prefix() + identity.slug: preview_json(identity.to_observation())
                for repository in used
                for identity in self.preview_identities(stack, repository, now).values()
            }
            return Observations.model_validate(
                {
                    "now": iso_precise(now),
                    "git": self._git_of(used),
                    "previews": dict(sorted(previews.items())),
                    "images": self._images_of(stack, used),
                    "applied": self._applied.of(stack, (document.subject for document in documents)),
                }
            )

    def fingerprint_material(
        self, documents: StackDocuments, now: datetime, *, stack: str | None = None
    ) -> dict[str, Any]:
        """Everything observed that can change this stack's render, without ``now`` itself.

        ``now`` only enters through ``expiredPreviews``, so a preview's expiry changes the
        fingerprint exactly once. Only what the program renders from is here: the heads of the
        branches its documents use (a branch whose preview expired or is excluded is not built, so
        a commit on it changes nothing), its live previews' identities, its own images, its Vault
        versions. Registry checks are not (the program never reads them; they are in status), nor
        what was applied: it is the result of the stack's own last ``up``, not a change in the world,
        and counting it would make every ``up`` that applies something new call for another.
        """
        stack = stack if stack is not None else stack_of(documents)
        self.note_previews(documents, now, stack=stack)
        with self._lock:
            used = self.repositories(documents)
            previews: dict[str, Any] = {}
            expired: set[str] = set()
            expired_branches: dict[str, set[str]] = {}
            for repository in used:
                for branch, identity in self.preview_identities(stack, repository, now).items():
                    key = repository.key_prefix() + identity.slug
                    if identity.expired(now):
                        expired.add(key)
                        expired_branches.setdefault(repository.name, set()).add(branch)
                    else:
                        previews[key] = preview_json(identity.to_observation())
            material: dict[str, Any] = {
                "git": self._git_of(used, expired_branches),
                "previews": dict(sorted(previews.items())),
                "expiredPreviews": sorted(expired),
                "images": self._images_of(stack, used),
                "vault": {secret: self._vault.get(secret) for secret in sorted(vault_secrets(documents))},
            }
            # Only known versions, and no key without one: a daemon that cannot read the cluster
            # fingerprints exactly as one that never tried.
            reads = self._source_secrets.of(stack)
            versions = {}
            for registry in self.registry.container_registries(documents):
                secret = registry.credentials_key()
                read = reads.get(secret) if secret is not None else None
                if secret is not None and read is not None and read.resource_version is not None:
                    versions[secret] = read.resource_version
            if versions:
                material["registrySecrets"] = dict(sorted(versions.items()))
            return material

    def _git_of(
        self, used: list[ObservedRepository], expired: Mapping[str, set[str]] | None = None
    ) -> dict[str, dict[str, str]]:
        """URL → the heads of the branches the stack's documents use (URLs with none left out).

        ``expired``: document name → branches whose preview has expired (left out unless deployed
        otherwise).
        """
        branches_of: dict[str, set[str]] = {}
        for repository in used:
            heads = self._git.get(repository.repo_url)
            if heads is not None:
                gone = (expired or {}).get(repository.name, set())
                branches_of.setdefault(repository.repo_url, set()).update(
                    repository.used_branches(heads, gone)
                )
        return {
            url: {branch: self._git.of(url)[branch] for branch in sorted(branches)}
            for url, branches in sorted(branches_of.items())
            if branches
        }

    def _images_of(self, stack: str, used: list[ObservedRepository]) -> dict[str, dict[str, str]]:
        self._adopt(stack, used)
        prefixes = tuple(repository.key_prefix() for repository in used)
        return {
            key: dict(entry)
            for key, entry in sorted(self._images.of(stack).items())
            if prefixes and key.startswith(prefixes)
        }

    def _adopt(self, stack: str, used: Iterable[ObservedRepository]) -> None:
        """Copy a version 1 file's entries of these documents into the stack, unless it has its own."""
        self._unassigned.adopt(stack, tuple(r.key_prefix() for r in used), self._previews, self._images)

    # --- persistence ----------------------------------------------------------------------

    def _parts(self) -> tuple[Any, ...]:
        return (
            self._git,
            self._previews,
            self._images,
            self._applied,
            self._unassigned,
            self._vault,
            self._registries,
            self._source_secrets,
        )

    def save(self) -> None:
        """Write the file atomically if anything changed since the last save."""
        with self._lock:
            if not any(part.dirty for part in self._parts()) and self.path.exists():
                return
            stacks: dict[str, dict[str, Any]] = {}
            for stack in sorted(self._previews.stacks() | self._images.stacks() | self._applied.stacks()):
                entry: dict[str, Any] = {}
                if previews := self._previews.to_json(stack):
                    entry["previews"] = previews
                if images := self._images.to_json(stack):
                    entry["images"] = images
                if applied := self._applied.to_json(stack):
                    entry["applied"] = applied
                if entry:
                    stacks[stack] = entry
            data: dict[str, Any] = {
                "version": FORMAT_VERSION,
                "git": self._git.to_json(),
                "stacks": stacks,
                "vault": self._vault.to_json(),
                "registries": self._registries.to_json(),
            }
            if (secrets := self._source_secrets.to_json()) is not None:
                data["registrySecrets"] = secrets
            if (unassigned := self._unassigned.to_json()) is not None:
                data["unassigned"] = unassigned
            atomic_write(self.path, json.dumps(data, indent=2) + "\n")
            for part in self._parts():
                part.dirty = False

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise TypeError("the top level is not an object")
            version = data.get("version", 1)
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ValueError(f"format version {version!r} is newer than this driftless reads")
            self._git.load(data.get("git", {}))
            if version < 2:
                # Keys without their stack: kept for each stack to adopt (see the module docstring).
                self._unassigned.load(data.get("previews", {}), data.get("images", {}))
                if self._unassigned:
                    self._unassigned.dirty = True  # the next save writes the current format
                    log.info(
                        "observations: a version 1 file: %d preview(s) and %d image(s) without a stack "
                        "are adopted by each stack whose documents they name",
                        len(self._unassigned.previews),
                        len(self._unassigned.images),
                    )
            else:
                for stack, entry in data.get("stacks", {}).items():
                    self._previews.load(stack, entry.get("previews", {}))
                    self._images.load(stack, entry.get("images", {}))
                    self._applied.load(stack, entry.get("applied", {}))
                unassigned = data.get("unassigned", {})
                self._unassigned.load(unassigned.get("previews", {}), unassigned.get("images", {}))
            self._vault.load(data.get("vault", {}))
            self._registries.load(data.get("registries", {}))
            self._source_secrets.load(data.get("registrySecrets", {}))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ObservationStoreError(
                f"{self.path}: cannot read the observations file ({exc}); it holds preview first-seen "
                "times and last good images, so it is not reset automatically: fix or remove it"
            ) from exc
