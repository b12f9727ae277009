"""Git repositories of Projects, polled with ``git ls-remote --heads``.

Each repository is polled at its Project's ``repo.pollIntervalSeconds`` (default 300; the shortest
when several Projects share a repository). ``ls-remote`` asks the server for its branch heads
without cloning, so a poll costs one round trip. A new commit, a new branch or a deleted branch
updates the store's heads and names every stack whose Projects use the repository. A branch that
gets a preview has its first-seen time recorded when it appears (its TTL runs from then) and
forgotten when it disappears (a re-created branch gets a fresh preview).

An unreachable repository keeps its last known heads: a network failure must not look like every
branch being deleted, which would tear down every preview.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from automation.observation_store import ObservationStore
from automation.sources.base import Change, Schedule
from automation.stack_inputs import ProjectInputs, projects
from components.documents import StackDocuments

log = logging.getLogger("driftless.sources.git")

DEFAULT_TIMEOUT_SECONDS = 20.0  # bounds how long one poll can hold up the loop
_HEAD_REF = "refs/heads/"
_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class GitError(Exception):
    """``ls-remote`` failed; the message names the repository (without credentials) and why."""


def redact_url(url: str) -> str:
    """A repository URL safe to log: ``https://user:token@host/x`` → ``https://***@host/x``."""
    return _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", url)


class GitClient:
    """A thin wrapper over the ``git`` command: list a remote's branch heads.

    ``config`` adds ``git -c key=value`` settings, e.g. ``url.<base>.insteadOf`` to reach a mirror;
    credentials belong in git's credential helpers, never here or in a URL.
    """

    def __init__(
        self,
        git: str = "git",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        config: Mapping[str, str] | None = None,
    ):
        self.git = git
        self.timeout = timeout
        self.config = dict(config or {})

    def ls_remote_heads(self, url: str) -> dict[str, str]:
        """Branch name → commit SHA of every branch of the repository at ``url``."""
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",  # never wait for a password on a terminal nobody watches
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GCM_INTERACTIVE": "never",
            "LC_ALL": "C",
        }
        settings = [arg for key, value in self.config.items() for arg in ("-c", f"{key}={value}")]
        command = [self.git, *settings, "ls-remote", "--heads", "--", url]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=self.timeout, env=env, check=False
            )
        except FileNotFoundError as exc:
            raise GitError(
                f"git is not installed (looked for {self.git!r}); install git to poll repositories"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"{redact_url(url)}: git ls-remote timed out after {self.timeout:g}s") from exc
        if result.returncode != 0:
            reason = _last_line(result.stderr) or f"exit status {result.returncode}"
            raise GitError(f"{redact_url(url)}: git ls-remote failed: {redact_url(reason)}")
        return _parse_heads(result.stdout)


def _parse_heads(output: str) -> dict[str, str]:
    heads = {}
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith(_HEAD_REF) and sha:
            heads[ref[len(_HEAD_REF) :]] = sha.strip()
    return heads


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class GitSource:
    """Polls every Project repository of every stack at its own interval."""

    name = "git"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        client: GitClient | None = None,
        max_parallel: int = 4,
    ):
        self._store = store
        self._client = client or GitClient()
        self._schedule = Schedule()
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="driftless-git")
        self.errors: dict[str, str] = {}  # redacted URL -> last error, for status
        self.update_stacks(stacks)

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """Track the repositories of these stacks' Projects from now on."""
        self._projects: dict[str, list[tuple[str, ProjectInputs]]] = {}
        for stack, documents in stacks.items():
            for project in projects(documents):
                self._projects.setdefault(project.repo_url, []).append((stack, project))
        self._schedule.set_keys(
            {
                url: timedelta(seconds=min(p.poll_interval_seconds for _, p in users))
                for url, users in self._projects.items()
            }
        )

    def next_due(self, now: datetime) -> datetime | None:
        return self._schedule.next_due(now)

    def poll(self, now: datetime) -> list[Change]:
        """``ls-remote`` every repository that is due, in parallel; report those that moved."""
        due = self._schedule.due(now)
        if not due:
            return []
        results = dict(zip(due, self._pool.map(self._ls_remote, due), strict=True))
        changes = []
        for url in due:
            self._schedule.done(url, now)
            heads = results[url]
            if heads is None:
                continue
            change = self._observe(url, heads, now)
            if change is not None:
                changes.append(change)
        return changes

    def _ls_remote(self, url: str) -> dict[str, str] | None:
        try:
            heads = self._client.ls_remote_heads(url)
        except GitError as exc:
            self.errors[redact_url(url)] = str(exc)
            log.warning("git poll failed: %s", exc, extra={"repository": redact_url(url)})
            return None
        self.errors.pop(redact_url(url), None)
        return heads

    def _observe(self, url: str, heads: dict[str, str], now: datetime) -> Change | None:
        old_heads = self._store.git_heads(url)
        moved = self._store.set_git_heads(url, heads)
        users = self._projects.get(url, [])
        for _, project in users:
            keys = project.preview_keys(heads)
            # A deleted branch's preview is gone: if the branch comes back it starts a new TTL.
            for gone in set(project.preview_keys(old_heads or {}).values()) - set(keys.values()):
                self._store.forget_preview(gone)
            for key in keys.values():
                self._store.set_first_seen(key, now)
        if not moved and old_heads is not None:
            return None
        detail = f"{redact_url(url)}: " + (moved.describe() or f"first observed ({len(heads)} branches)")
        log.info("git heads changed: %s", detail, extra={"repository": redact_url(url)})
        return Change("git", frozenset(stack for stack, _ in users), detail)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
