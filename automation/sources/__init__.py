"""Sources of change: what can make a stack need an ``up`` besides its file.

``build_sources`` assembles the standard set for a project: stack files and program source
(watchfiles), the git repositories the kinds declare (``git ls-remote``), Vault KV v2 versions
(hvac), preview TTL expiries, the verification of the registries the kinds declare and the
versions of their credentials Secrets (the Kubernetes API). The daemon polls each, and calls
:func:`update_stacks` when stack files were reloaded so the sources follow the new documents
without restarting the file watcher. Git, Vault and registry checks run in the background with timeouts
(``SourceSettings``); :func:`health_report` says which git and Vault targets keep failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from automation.observation_store import ObservationStore
from automation.sources.base import (
    Background,
    Change,
    Reporting,
    Source,
    StackAware,
    TargetHealth,
    Wake,
    health_report,
    merge_changes,
)
from automation.sources.files import FileSource
from automation.sources.git import DEFAULT_TIMEOUT_SECONDS as GIT_TIMEOUT_SECONDS
from automation.sources.git import GitClient, GitError, GitSource
from automation.sources.registry import RegistrySource, Verify
from automation.sources.registry_secrets import RegistrySecretSource
from automation.sources.ttl import TtlSource
from automation.sources.vault import DEFAULT_TIMEOUT_SECONDS as VAULT_TIMEOUT_SECONDS
from automation.sources.vault import VaultSource, client_from_environment
from components.documents import StackDocuments

if TYPE_CHECKING:
    import hvac

__all__ = [
    "Background",
    "Change",
    "FileSource",
    "GitClient",
    "GitError",
    "GitSource",
    "RegistrySecretSource",
    "RegistrySource",
    "Reporting",
    "Source",
    "SourceSettings",
    "StackAware",
    "TargetHealth",
    "TtlSource",
    "VaultSource",
    "build_sources",
    "health_report",
    "merge_changes",
    "update_stacks",
]


@dataclass(frozen=True)
class SourceSettings:
    """Tunables of the standard sources; the defaults are the documented ones."""

    watch_files: bool = True
    # Git remotes, Vault and registries: off for dry runs unless asked for, so a demo or a review
    # render never reaches out to the (usually example) hosts named in the stack files.
    poll_remotes: bool = True
    debounce_ms: int = 1_600
    force_polling: bool | None = None  # None: watchfiles decides (WATCHFILES_FORCE_POLLING, WSL)
    vault_interval_seconds: float = 60
    registry_interval_seconds: float = 300
    registry_verify: Verify | None = None  # None: each registry's kind's own verification
    registry_secret_interval_seconds: float = 60  # credentials Secrets' resourceVersion (kubeconfig)
    git_parallel: int = 4
    git_timeout_seconds: float = GIT_TIMEOUT_SECONDS  # one ls-remote, helpers included
    vault_timeout_seconds: float = VAULT_TIMEOUT_SECONDS  # connect/read, per request


def build_sources(
    project_dir: Path,
    stacks: Mapping[str, StackDocuments],
    store: ObservationStore,
    *,
    vault_client: hvac.Client | None = None,
    git: GitClient | None = None,
    wake: Wake | None = None,
    settings: SourceSettings | None = None,
) -> list[Source]:
    """The standard sources for ``project_dir`` and its loaded stacks.

    ``vault_client`` defaults to one built from ``VAULT_ADDR``/``VAULT_TOKEN``; ``git`` to the
    ``git`` command, each with the settings' timeout; ``wake`` is called from the watcher thread
    when a file changes and from a git, Vault or registry worker when a poll's result arrives.
    """
    settings = settings or SourceSettings()
    sources: list[Source] = []
    if settings.watch_files:
        sources.append(
            FileSource(
                project_dir, debounce_ms=settings.debounce_ms, force_polling=settings.force_polling, wake=wake
            )
        )
    sources.append(TtlSource(stacks, store))
    if not settings.poll_remotes:
        return sources
    owns_vault_client = vault_client is None
    if vault_client is None:
        vault_client = client_from_environment(timeout=settings.vault_timeout_seconds)
    if git is None:
        git = GitClient(timeout=settings.git_timeout_seconds)
    sources += [
        GitSource(stacks, store, client=git, max_parallel=settings.git_parallel, wake=wake),
        VaultSource(
            stacks,
            store,
            client=vault_client,
            interval_seconds=settings.vault_interval_seconds,
            owns_client=owns_vault_client,
            wake=wake,
        ),
        RegistrySource(
            stacks,
            store,
            project_dir=project_dir,
            verify=settings.registry_verify,
            interval_seconds=settings.registry_interval_seconds,
            wake=wake,
        ),
        RegistrySecretSource(
            stacks,
            store,
            project_dir=project_dir,
            interval_seconds=settings.registry_secret_interval_seconds,
            wake=wake,
        ),
    ]
    return sources


def update_stacks(sources: list[Source], stacks: Mapping[str, StackDocuments]) -> None:
    """Hand reloaded stack documents to every source that depends on them."""
    for source in sources:
        if isinstance(source, StackAware):
            source.update_stacks(stacks)
