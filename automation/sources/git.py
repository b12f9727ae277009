"""Git repositories of Projects, polled with ``git ls-remote --heads``.

Each repository is polled at its Project's ``repo.pollIntervalSeconds`` (default 300; the shortest
when several Projects share a repository). ``ls-remote`` asks the server for its branch heads
without cloning, so a poll costs one round trip. A new commit, a new branch or a deleted branch
updates the store's heads and names every stack whose Projects use a branch that moved. A branch
that gets a preview has its first-seen time recorded when it appears (its TTL runs from then) and
forgotten when it disappears (a re-created branch gets a fresh preview).

``ls-remote`` runs on worker threads, never on the daemon's loop: ``poll`` starts the polls that
are due and returns at once with the results that have arrived since the last call (a slow or
unreachable remote can take up to the client's timeout). The results are applied to the store on
the caller's thread, in ``poll``, at the time the poll was started; ``wake`` is called when a
result arrives so the loop comes back for it at once. ``close`` lets the polls under way finish
(each bounded by the timeout), applies them and stops the workers, so a one-shot run that polls
once and closes still sees every head it asked for.

An unreachable repository keeps its last known heads: a network failure must not look like every
branch being deleted, which would tear down every preview.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import datetime, timedelta

from automation.observation_store import ObservationStore
from automation.sources.base import Change, Schedule, Wake
from automation.stack_inputs import ProjectInputs, projects
from components.documents import StackDocuments

log = logging.getLogger("driftless.sources.git")

DEFAULT_TIMEOUT_SECONDS = 20.0  # bounds how long one ls-remote runs (on a worker, not the loop)
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


_Result = tuple[dict[str, str] | None, str | None]  # (heads, None) or (None, the error)


class GitSource:
    """Polls every Project repository of every stack at its own interval, in the background."""

    name = "git"

    def __init__(
        self,
        stacks: Mapping[str, StackDocuments],
        store: ObservationStore,
        *,
        client: GitClient | None = None,
        max_parallel: int = 4,
        wake: Wake | None = None,
    ):
        self._store = store
        self._client = client or GitClient()
        self._schedule = Schedule()
        self._pool = ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="driftless-git")
        self._wake = wake
        # URL -> (its ls-remote under way or done but not yet applied, when the poll started)
        self._running: dict[str, tuple[Future[_Result], datetime]] = {}
        self._arrived = threading.Event()  # some result is waiting to be applied
        self._closed = False
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
        if self._arrived.is_set():
            return now
        return self._schedule.next_due(now, skip=self._running.keys())

    def poll(self, now: datetime) -> list[Change]:
        """Apply the results that arrived, start the polls that are due; never waits for git."""
        changes = self._apply_arrived()
        if self._closed:
            return changes
        for url in self._schedule.due(now):
            if url in self._running:
                continue  # still under way: due again once its result is applied
            self._schedule.done(url, now)
            future = self._pool.submit(self._ls_remote, url)
            self._running[url] = (future, now)
            future.add_done_callback(self._result_arrived)
        return changes

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every poll under way has a result (for one-shot callers and tests)."""
        _, not_done = wait_for([future for future, _ in self._running.values()], timeout=timeout)
        return not not_done

    def _result_arrived(self, future: Future[_Result]) -> None:
        self._arrived.set()
        if self._wake is not None and not future.cancelled():
            self._wake()

    def _apply_arrived(self) -> list[Change]:
        """Apply finished polls to the store, on the caller's thread; the changes they made."""
        self._arrived.clear()
        changes = []
        for url, (future, started) in list(self._running.items()):
            if not future.done():
                continue
            del self._running[url]
            if future.cancelled():
                continue
            heads, error = future.result()
            if error is not None:
                self.errors[redact_url(url)] = error
                continue
            self.errors.pop(redact_url(url), None)
            assert heads is not None
            change = self._observe(url, heads, started)
            if change is not None:
                changes.append(change)
        return changes

    def _ls_remote(self, url: str) -> _Result:
        """On a worker thread: only the ``git`` call, nothing shared is touched."""
        try:
            return self._client.ls_remote_heads(url), None
        except GitError as exc:
            log.warning("git poll failed: %s", exc, extra={"repository": redact_url(url)})
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken poll must not kill the worker or the loop
            log.error("git poll crashed: %s: %s", type(exc).__name__, redact_url(str(exc)))
            return None, f"{redact_url(url)}: {type(exc).__name__}"

    def _observe(self, url: str, heads: dict[str, str], now: datetime) -> Change | None:
        observed = self._store.observe_git(url, heads, self._projects.get(url, []), now)
        if not observed.heads and not observed.first:
            return None
        detail = f"{redact_url(url)}: " + (
            observed.heads.describe() or f"first observed ({len(heads)} branches)"
        )
        if not observed.stacks:
            log.debug("git heads changed, no stack uses those branches: %s", detail)
            return None
        log.info("git heads changed: %s", detail, extra={"repository": redact_url(url)})
        return Change("git", observed.stacks, detail)

    def close(self) -> None:
        """Let the polls under way finish, apply them, and stop the workers."""
        self._closed = True
        self._pool.shutdown(wait=True)
        self._apply_arrived()
