"""Fingerprints: one hash per stack of everything that can change what ``up`` would do.

A stack's fingerprint covers its parsed documents (kind, metadata, spec as canonical JSON, so
comments, key order and formatting do not count), the program (``Pulumi.yaml``, whose runtime
options and project config apply to every stack, ``requirements.txt``, ``__main__.py``,
``components/**/*.py`` and what connector packages hold), its stack configuration
(``Pulumi.<stack>.yaml``, minus the keys the daemon itself writes) and the observations the
stack uses (the heads of the branches it builds — not those of a branch whose preview expired or
is excluded —, its live previews' identities and the expired ones' names, last good images,
versions of its Vault secrets and of its Registries' credentials Secrets where the daemon can read
them — the observation store decides, without ``now``).
Equal fingerprint → no operation at all.

The ``driftless.dev/force-reconcile`` annotation is left out: a new token is a request to run
``up --refresh`` once, tracked separately (see :func:`force_tokens`), not a change of desired state.
So is ``driftless.dev/allow-deletions``: a one-off allowance for the deletion guard.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from automation.daemon.deletions import ALLOW_DELETIONS_ANNOTATION
from components.common.archive import package_entries
from components.documents import FORCE_RECONCILE_ANNOTATION, StackDocuments

# Annotations that ask the daemon for something once; they are not desired state.
REQUEST_ANNOTATIONS = frozenset({FORCE_RECONCILE_ANNOTATION, ALLOW_DELETIONS_ANNOTATION})

# Stack config keys the daemon writes itself; their values are paths, not desired state.
DAEMON_CONFIG_KEYS = frozenset({"driftless:stackFile", "driftless:observationsFile"})

# Project files that change what every stack's `up` does: the project (runtime, its options,
# project-level config) and the dependencies the program runs with.
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml", "requirements.txt")


@dataclass(frozen=True)
class Fingerprint:
    """The stack's fingerprint and the digest of each part it is made of."""

    value: str  # "sha256:<hex>"
    parts: Mapping[str, str]


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(data: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def documents_material(documents: StackDocuments) -> list[dict[str, Any]]:
    """Each document as canonical data: what it says, not how it is written."""
    material = []
    for document in documents:
        metadata = document.metadata.model_dump(mode="json", by_alias=True)
        annotations = {
            k: v for k, v in metadata.get("annotations", {}).items() if k not in REQUEST_ANNOTATIONS
        }
        metadata["annotations"] = annotations
        material.append(
            {
                "kind": document.kind,
                "metadata": metadata,
                "spec": document.spec.model_dump(mode="json", by_alias=True),
            }
        )
    return material


def force_tokens(documents: StackDocuments) -> dict[str, str]:
    """``"Kind/name" -> token`` for every document carrying a force-reconcile annotation."""
    return {d.subject: token for d in documents if (token := d.force_reconcile_token)}


class StackConfigError(Exception):
    """A stack's ``Pulumi.<stack>.yaml`` cannot be read; the message names the file (and line)."""


def stack_config_material(project_dir: Path, stack: str) -> dict[str, Any]:
    """The stack's ``Pulumi.<stack>.yaml`` config, without the keys the daemon writes itself."""
    for suffix in (".yaml", ".yml", ".json"):
        path = project_dir / f"Pulumi.{stack}{suffix}"
        if path.exists():
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
                problem = getattr(exc, "problem", None) or str(exc)
                raise StackConfigError(f"{where}: invalid stack config: {problem}") from exc
            config = (data.get("config") or {}) if isinstance(data, dict) else {}
            return {k: v for k, v in config.items() if k not in DAEMON_CONFIG_KEYS}
    return {}


class ProgramSource:
    """The digest of the program's source, re-reading only files whose size or mtime changed."""

    def __init__(self, project_dir: Path):
        self.project_dir = project_dir
        self._cache: dict[Path, tuple[int, int, str]] = {}

    def files(self) -> list[Path]:
        """The project files, ``__main__.py``, ``components/**/*.py``, and what connector packages hold."""
        found = [self.project_dir / name for name in PROJECT_FILES]
        found.append(self.project_dir / "__main__.py")
        components = self.project_dir / "components"
        if components.is_dir():
            found.extend(p for p in components.rglob("*.py") if "__pycache__" not in p.parts)
        found.extend(self._connector_files())
        return sorted({p for p in found if p.is_file()})

    def _connector_files(self) -> list[Path]:
        # A connector_sdk FivetranConnector deploys a zip of connectors/<name> (with common/), so
        # exactly the files that go into those zips are program source too.
        connectors = self.project_dir / "connectors"
        if not connectors.is_dir():
            return []
        shared = [connectors / "common"] if (connectors / "common").is_dir() else []
        files: list[Path] = []
        for folder in sorted(connectors.iterdir()):
            if folder.is_dir() and (folder / "connector.py").is_file():
                files.extend(package_entries(folder, shared).values())
        return files

    def digest(self) -> str:
        entries = []
        for path in self.files():
            stat = path.stat()
            cached = self._cache.get(path)
            if cached is None or cached[:2] != (stat.st_mtime_ns, stat.st_size):
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                self._cache[path] = (stat.st_mtime_ns, stat.st_size, sha)
            entries.append((os.path.relpath(path, self.project_dir), self._cache[path][2]))
        return digest(entries)


def fingerprint(
    documents: StackDocuments,
    *,
    program_digest: str,
    config: Mapping[str, Any],
    observations: Mapping[str, Any],
) -> Fingerprint:
    """Combine the four parts into the stack's fingerprint."""
    parts = {
        "documents": digest(documents_material(documents)),
        "program": program_digest,
        "config": digest(dict(config)),
        "observations": digest(dict(observations)),
    }
    return Fingerprint(digest(parts), parts)


def invalid_file_fingerprint(stack_file: Path, program_digest: str) -> Fingerprint:
    """For a stack file that does not load: its bytes, so any edit counts as a new input."""
    try:
        content = hashlib.sha256(stack_file.read_bytes()).hexdigest()
    except OSError:
        content = "unreadable"
    parts = {"file": f"sha256:{content}", "program": program_digest}
    return Fingerprint(digest(parts), parts)
