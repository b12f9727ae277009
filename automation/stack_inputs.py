"""What a stack reads from outside the repository, extracted from its documents.

The sources of change and the observation store both need to know, for a stack, which git
repositories its documents poll (and how often, and which branches and previews of them they use),
which Vault KV v2 secrets it references and which container registries it uses. The repositories
and registries are what each kind's registration declares (:mod:`components.inputs`); the Vault
references are found in any document's camelCase dump (``spec.model_dump(by_alias=True)``), the
same shape users write in stack files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from components.common.vault import find_references
from components.context import ProgramSettings, StackContext
from components.documents import Document, SpecError, StackDocuments, StackFileError, load_stack_file
from components.observations import Observations
from components.ownership import check_across_stacks
from components.program import context_errors
from components.registry import KindRegistry

# The Kubernetes provider's stack config that picks the cluster an `up` reaches.
CLUSTER_CONFIG_KEYS = ("kubernetes:kubeconfig", "kubernetes:context", "kubernetes:cluster")
PROGRAM_CONFIG_PREFIX = "driftless:"  # the program's own stack config: its options for the domains

ContextOf = Callable[[StackDocuments], StackContext | None]
"""The program's context for a stack's documents, or None when it cannot be known (no context checks)."""


def stack_of(documents: StackDocuments) -> str:
    """The name of the stack whose file these documents were loaded from (``stacks/<name>.yaml``)."""
    return Path(documents.file).stem


def vault_secrets(documents: Iterable[Document]) -> set[str]:
    """The KV v2 secrets (``"<mount>/<path>"``) that a stack's ``vault://`` references read."""
    return {
        secret_key(reference.mount, reference.path)
        for document in documents
        for reference in find_references(_dump(document))
    }


def secret_key(mount: str, path: str) -> str:
    """How a KV v2 secret is named in the store: mounts never contain '/', so this is unambiguous."""
    return f"{mount}/{path}"


def split_secret_key(key: str) -> tuple[str, str]:
    mount, _, path = key.partition("/")
    return mount, path


def stacks_using(stacks: Mapping[str, StackDocuments], extract: Any) -> dict[Any, frozenset[str]]:
    """Invert ``extract(documents) -> iterable of things``: each thing → the stacks that use it."""
    users: dict[Any, set[str]] = {}
    for stack, documents in stacks.items():
        for item in extract(documents):
            users.setdefault(item, set()).add(stack)
    return {item: frozenset(names) for item, names in users.items()}


def _dump(document: Document) -> dict[str, Any]:
    dumped: dict[str, Any] = document.spec.model_dump(by_alias=True)
    return dumped


@dataclass(frozen=True)
class StackSet:
    """Every stack file of a project, for the rules between stacks that deploy to one cluster.

    Stacks are taken to share a cluster unless their ``Pulumi.<stack>.yaml`` give different
    ``kubernetes:kubeconfig``, ``kubernetes:context`` or ``kubernetes:cluster`` values (none at all
    is the current kubeconfig context, for every stack alike).
    """

    project_dir: Path
    stacks_dir: Path

    def files(self) -> list[Path]:
        """Each stack's file, as the daemon names it: ``<stack>.yaml``, else ``<stack>.yml``."""
        if not self.stacks_dir.is_dir():
            return []
        found: dict[str, Path] = {}
        for pattern in ("*.yml", "*.yaml"):
            found.update({path.stem: path for path in self.stacks_dir.glob(pattern)})
        return [found[stem] for stem in sorted(found)]

    def cluster_of(self, stack_file: Path) -> str:
        """What the stack's Pulumi config says about its cluster (JSON; "{}" for the default one)."""
        config = self._config(stack_file)
        chosen = {key: config[key] for key in CLUSTER_CONFIG_KEYS if key in config}
        return json.dumps(chosen, sort_keys=True, default=str)

    def context_of(self, stack_file: Path) -> ContextOf:
        """The program's context for the stack as known before it runs: the project folder and the
        ``driftless:*`` options of its stack config (none when that cannot be read); nothing observed."""

        def context(documents: StackDocuments) -> StackContext | None:
            try:
                config = self._config(stack_file)
                options = {
                    key.removeprefix(PROGRAM_CONFIG_PREFIX): value
                    for key, value in config.items()
                    if key.startswith(PROGRAM_CONFIG_PREFIX) and isinstance(value, str)
                }
            except Exception:  # noqa: BLE001 (a broken stack config is reported once the file loads)
                return None
            settings = ProgramSettings(self.project_dir, options=options)
            return StackContext(stack_file.stem, documents, Observations(), settings)

        return context

    def _config(self, stack_file: Path) -> Any:
        """The ``config`` of the stack's ``Pulumi.<stack>.yaml`` ({} without one)."""
        for suffix in (".yaml", ".yml", ".json"):
            path = self.project_dir / f"Pulumi.{stack_file.stem}{suffix}"
            if path.exists():
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
                return (data.get("config") or {}) if isinstance(data, dict) else {}
        return {}

    def _cluster_or_own(self, stack_file: Path) -> str:
        """The stack's cluster, or one of its own when its config cannot be read (reported elsewhere)."""
        try:
            return self.cluster_of(stack_file)
        except Exception:  # noqa: BLE001
            return json.dumps({"unreadable": str(stack_file)})

    def conflicts(self, registry: KindRegistry | None = None) -> dict[str, list[SpecError]]:
        """Each stack file's errors from namespaces another stack file on its cluster owns too.

        A file with errors of its own still takes part with the documents that did validate; a file
        that cannot be read or parsed at all has no documents to take part with.
        """
        clusters: dict[str, list[StackDocuments]] = {}
        for path in self.files():
            try:
                documents: StackDocuments | None = load_stack_file(path, registry)
                cluster = self.cluster_of(path)
            except StackFileError as exc:
                documents, cluster = exc.documents, self._cluster_or_own(path)
            except Exception:  # noqa: BLE001 (the file's own read reports it; it must not stop the others)
                continue
            if documents is not None:
                clusters.setdefault(cluster, []).append(documents)
        found: dict[str, list[SpecError]] = {}
        for stacks in clusters.values():
            for error in check_across_stacks(stacks, registry):
                found.setdefault(error.file, []).append(error)
        return found

    def load(
        self, stack_file: Path, registry: KindRegistry | None = None, context_of: ContextOf | None = None
    ) -> StackDocuments:
        """Load one stack file of the set; raise :class:`StackFileError` with its own problems, every
        conflict with another stack of its cluster and its context checks, all at once.

        ``context_of`` gives the program's context (by default :meth:`context_of`)."""
        target = stack_file.resolve()
        conflicts = [
            replace(error, file=str(stack_file))
            for file, errors in self.conflicts(registry).items()
            if Path(file).resolve() == target
            for error in errors
        ]
        return check_stack_file(
            lambda: load_stack_file(stack_file, registry),
            conflicts,
            context_of or self.context_of(stack_file),
            registry,
        )


def check_stack_file(
    load: Callable[[], StackDocuments],
    conflicts: Sequence[SpecError],
    context_of: ContextOf,
    registry: KindRegistry | None = None,
) -> StackDocuments:
    """The documents ``load()`` returns, or a :class:`StackFileError` with every problem at once.

    Those of the file, its ``conflicts`` with other stack files, and what the program's context
    checks (``check_in_context``) find in the documents that did validate: the program alone would
    reach those only once everything else is fixed.
    """
    try:
        loaded = load()
    except StackFileError as exc:
        documents, errors = exc.documents, [*exc.errors, *conflicts]
    else:
        if not conflicts:
            return loaded
        documents, errors = loaded, list(conflicts)
    if documents is not None:
        errors.extend(_context_errors(documents, context_of, registry))
    raise StackFileError(errors, documents)


def _context_errors(
    documents: StackDocuments, context_of: ContextOf, registry: KindRegistry | None
) -> list[SpecError]:
    try:
        context = context_of(documents)
        return [] if context is None else context_errors(context, registry)
    except Exception as exc:  # noqa: BLE001 (the program would fail the same way; say so with the rest)
        problem = f"the checks that need the program's context cannot run: {type(exc).__name__}: {exc}"
        return [SpecError(documents.file, None, "", "", problem)]
