"""Registry credentials Secrets: a rotation redeploys the copies in the project namespaces.

The registries a kind declares (``KindRegistration.observes_registries``) name a credentials
Secret that ``up`` copies into the namespaces using it (a Kapsa Project copies its Registry's);
nothing else would bring a rotated Secret there. This source reads, on an interval (default 60 s),
the ``metadata.resourceVersion`` of each such Secret through the Kubernetes API
(:mod:`automation.kube`: the daemon's kubeconfig, with the context the stack's config
names) and records it for every stack holding that registry. The version is part of those stacks'
fingerprint material, so a rotation makes exactly them run ``up``. Only the metadata is asked for
here (the registry check, :mod:`automation.sources.registry`, reads the same Secret on the same
cluster, through :func:`cluster_of` and :class:`ClusterClients`, for the credentials it verifies).

Without a kubeconfig, or when the Secret cannot be read, the version is unknown: the fingerprint
keeps whatever was last known (nothing, at first), so it never changes for that reason, and status
says so (``credentialsSecret`` of the Registry in ``registries``, and ``sources``). Reads run on a
background thread with the request's timeout, never on the daemon's loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from automation.kube import (
    DEFAULT_TIMEOUT_SECONDS,
    KubeconfigMissingError,
    KubernetesClient,
    KubernetesError,
    cluster_access,
)
from automation.observation_store import ObservationStore, SourceSecret
from automation.sources.background import BackgroundJob
from automation.sources.base import Change, HealthBook, TargetHealth, Wake
from automation.stack_inputs import StackSet
from components.documents import StackDocuments
from components.inputs import ObservedRegistry
from components.registry import KindRegistry

log = logging.getLogger("driftless.sources.registry_secrets")

DEFAULT_INTERVAL_SECONDS = 60

# The stack config a cluster is chosen by -> its "kubernetes:*" keys (what StackSet.cluster_of gives).
ClusterOf = Callable[[StackDocuments], Mapping[str, Any]]


@dataclass(frozen=True)
class SecretTarget:
    """One Secret on one cluster (as one stack's config reaches it)."""

    cluster: str  # canonical JSON of the stack's kubernetes:* config ("{}": the daemon's default)
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def label(self) -> str:
        config = json.loads(self.cluster)
        where = config.get("kubernetes:context") or config.get("kubernetes:cluster")
        return f"{self.key} (context {where})" if where else self.key


def cluster_of(project_dir: Path | None, documents: StackDocuments) -> str:
    """The cluster a stack's Registries are read on: its ``kubernetes:*`` config, as canonical JSON
    (``"{}"``: the kubeconfig's current context)."""
    if project_dir is None:
        return "{}"
    try:
        return StackSet(project_dir, project_dir / "stacks").cluster_of(Path(documents.file))
    except Exception:  # noqa: BLE001 (a broken stack config is that stack's error, reported by its read)
        return "{}"


def registry_secrets(
    project_dir: Path | None, stacks: Mapping[str, StackDocuments], kinds: KindRegistry
) -> Iterator[tuple[str, ObservedRegistry, SecretTarget]]:
    """``(stack, registry, its credentials Secret)`` for every registry the stacks' documents use
    (as their kinds declare them) with a credentials Secret."""
    for stack, documents in stacks.items():
        cluster = cluster_of(project_dir, documents)
        for registry in kinds.container_registries(documents):
            if registry.credentials_secret is not None:
                secret = SecretTarget(cluster, registry.credentials_namespace, registry.credentials_secret)
                yield stack, registry, secret


class ClusterClients:
    """One client per cluster for one sweep; a cluster that cannot be reached fails the same way
    for every Secret on it, without being tried again."""

    def __init__(self, environ: Mapping[str, str] | None, timeout: float):
        self._environ = environ
        self._timeout = timeout
        self._clients: dict[str, KubernetesClient | KubernetesError | KubeconfigMissingError] = {}

    def client(self, cluster: str) -> KubernetesClient:
        """Raises :class:`KubeconfigMissingError` or :class:`KubernetesError` (no credential in either)."""
        if cluster not in self._clients:
            try:
                access = cluster_access(json.loads(cluster), self._environ)
                self._clients[cluster] = KubernetesClient(access, self._timeout)
            except (KubeconfigMissingError, KubernetesError) as exc:
                self._clients[cluster] = exc
        found = self._clients[cluster]
        if isinstance(found, Exception):
            raise found
        return found


_Read = tuple[str | None, str]  # the resourceVersion (None: unknown), and what the read said


class RegistrySecretSource:
    """Polls the resourceVersion of every Registry's credentials Secret, in the background."""

    name = "registry-secret"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        project_dir: Path | None = None,
        environ: Mapping[str, str] | None = None,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        wake: Wake | None = None,
    ):
        self._store = store
        self._project_dir = project_dir
        self._environ = environ
        self._interval = timedelta(seconds=interval_seconds)
        self._timeout = timeout
        self._next: datetime | None = None
        self._sweep: BackgroundJob[tuple[datetime, dict[SecretTarget, _Read]]] = BackgroundJob(
            "registry-secret", wake
        )
        self._health = HealthBook(self.name)
        self._unknown: dict[SecretTarget, str] = {}  # why each version is unknown, to warn once per reason
        self.update_stacks(stacks)

    def health(self) -> list[TargetHealth]:
        return self._health.report()

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """Read the credentials Secrets of these stacks' Registries from now on."""
        self._users: dict[SecretTarget, set[tuple[str, str]]] = {}  # target -> {(stack, registry server)}
        for stack, registry, target in registry_secrets(self._project_dir, stacks, self._store.registry):
            self._users.setdefault(target, set()).add((stack, registry.server))
        self._health.track(target.label() for target in self._users)
        self._next = None  # a new Registry is read at the next poll, not an interval later

    def next_due(self, now: datetime) -> datetime | None:
        if self._sweep.ready:
            return now
        if not self._users or self._sweep.running:
            return None if not self._users else self._next
        return self._next or now

    def poll(self, now: datetime) -> list[Change]:
        """Apply the last sweep's versions; start a sweep when due. Never waits for an apiserver."""
        changes = self._apply(self._sweep.take())
        if not self._users or self._sweep.running or (self._next is not None and now < self._next):
            return changes
        targets = sorted(self._users, key=lambda t: (t.cluster, t.key))
        if self._sweep.start(lambda: (now, self._read_all(targets))):
            self._next = now + self._interval
            for target in targets:
                self._health.started(target.label(), now)
        return changes

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no sweep is under way (for one-shot callers and tests)."""
        return self._sweep.wait(timeout)

    def close(self) -> None:
        self._sweep.close()

    def _read_all(self, targets: list[SecretTarget]) -> dict[SecretTarget, _Read]:
        """On the sweep's thread: each Secret's version, or why it is unknown."""
        reads: dict[SecretTarget, _Read] = {}
        clusters = ClusterClients(self._environ, self._timeout)
        for target in targets:
            try:
                reader = clusters.client(target.cluster)
                version = reader.secret_resource_version(target.namespace, target.name)
                reads[target] = (version, f"read from {reader.access.server}")
            except (KubeconfigMissingError, KubernetesError) as exc:
                reads[target] = (None, str(exc))
        return reads

    def _apply(self, swept: tuple[datetime, dict[SecretTarget, _Read]] | None) -> list[Change]:
        """Record a sweep's versions on the caller's thread; one change per rotated Secret."""
        if swept is None:
            return []
        started, reads = swept
        changes = []
        for target, (version, message) in sorted(reads.items(), key=lambda item: item[0].key):
            users = self._users.get(target)
            if users is None:
                continue  # no stack holds this Registry any more
            if version is None:
                self._health.failed(target.label(), message)
            else:
                self._health.succeeded(target.label(), started)
            moved = set()
            for stack, server in sorted(users):
                previous = self._store.source_secret(stack, target.key)
                record = SourceSecret(server, version, message, started)
                if self._store.record_source_secret(stack, target.key, record):
                    moved.add(stack)
                    if previous is not None and previous.resource_version is not None:
                        log.info(
                            "registry credentials Secret %s rotated (resourceVersion %s -> %s) for stack %s",
                            target.key,
                            previous.resource_version,
                            version,
                            stack,
                        )
            if version is None and self._unknown.get(target) != message:
                log.warning(
                    "registry credentials Secret %s: version unknown: %s",
                    target.key,
                    message,
                    extra={"secret": target.key},
                )
            self._unknown[target] = message if version is None else ""
            if moved:
                changes.append(
                    Change(self.name, frozenset(moved), f"{target.key}: resourceVersion {version}")
                )
        return changes
