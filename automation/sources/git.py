"""Git repositories the stacks' documents read, polled with ``git ls-remote --heads``.

Which repositories a document reads, and how often each is polled, is what its kind declares
(``KindRegistration.observes_repositories``: for a Kapsa Project its ``repo.url`` every
``repo.pollIntervalSeconds``, default 300); the shortest interval wins when several documents
share a repository. ``ls-remote`` asks the server for its branch heads
without cloning, so a poll costs one round trip. A new commit, a new branch or a deleted branch
updates the store's heads and names every stack whose documents use a branch that moved. A branch
that gets a preview has its first-seen time recorded when it appears (its TTL runs from then) and
forgotten when it disappears (a re-created branch gets a fresh preview).

``ls-remote`` runs on worker threads, never on the daemon's loop: ``poll`` starts the polls that
are due and returns at once with the results that have arrived since the last call. The results
are applied to the store on the caller's thread, in ``poll``, at the time the poll was started;
``wake`` is called when a result arrives so the loop comes back for it at once. A one-shot run
polls, ``wait``s, and polls again to apply what arrived.

Each ``git`` runs in a process group of its own (a new session) with a hard timeout
(``sources.gitTimeoutSeconds`` in ``driftless.yaml``, default 20 s). On timeout the whole group is
killed, so the helpers git starts (``git-remote-https`` and its kin, which a hung server would
otherwise keep alive) die with it; ``close`` kills every command still running the same way, so a
stopping daemon leaves no git process behind and never waits for a remote.

An unreachable repository keeps its last known heads: a network failure must not look like every
branch being deleted, which would tear down every preview. A repository whose polls keep failing
is reported stale in :meth:`GitSource.health`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import datetime, timedelta

from automation.observation_store import ObservationStore
from automation.sources.base import Change, HealthBook, Schedule, TargetHealth, Wake
from components.documents import StackDocuments
from components.inputs import ObservedRepository

log = logging.getLogger("driftless.sources.git")

DEFAULT_TIMEOUT_SECONDS = 20.0  # bounds how long one ls-remote runs, helpers included
_HEAD_REF = "refs/heads/"
_CREDENTIALS_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


class GitError(Exception):
    """``ls-remote`` failed; the message names the repository (without credentials) and why."""


class GitStoppedError(GitError):
    """The client was closed while (or before) the command ran: it was killed, or never started."""


def redact_url(url: str) -> str:
    """A repository URL safe to log: ``https://user:token@host/x`` → ``https://***@host/x``."""
    return _CREDENTIALS_IN_URL.sub(r"\g<scheme>***@", url)


class GitClient:
    """A thin wrapper over the ``git`` command: list a remote's branch heads.

    ``config`` adds ``git -c key=value`` settings, e.g. ``url.<base>.insteadOf`` to reach a mirror;
    credentials belong in git's credential helpers, never here or in a URL. Each command runs in a
    process group of its own and is killed, group and all, after ``timeout`` seconds or when the
    client is closed.
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
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self._closed = False

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
        process = self._start(command, env, url)
        try:
            stdout, stderr = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"{redact_url(url)}: git ls-remote timed out after {self.timeout:g}s") from exc
        finally:
            with self._lock:  # from here on close() leaves this process to us
                self._running.discard(process)
                stopped = self._closed
            # On a timeout, a close or any other exit: nothing of this command outlives the call.
            _kill_group(process)
        if stopped and process.returncode != 0:
            raise GitStoppedError(f"{redact_url(url)}: git ls-remote stopped: the poll was closed")
        if process.returncode != 0:
            reason = _last_line(stderr) or f"exit status {process.returncode}"
            raise GitError(f"{redact_url(url)}: git ls-remote failed: {redact_url(reason)}")
        return _parse_heads(stdout)

    def close(self) -> None:
        """Kill every command under way (group and all) and start none from now on."""
        with self._lock:
            self._closed = True
            for process in self._running:
                if process.returncode is None:  # not reaped yet: its pid is still its group's id
                    _signal_group(process)

    def _start(self, command: list[str], env: dict[str, str], url: str) -> subprocess.Popen[str]:
        with self._lock:  # so close() either sees this process or this call sees close()
            if self._closed:
                raise GitStoppedError(f"{redact_url(url)}: git ls-remote not started: the poll was closed")
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    start_new_session=True,  # its own process group: killed as one, helpers included
                )
            except FileNotFoundError as exc:
                raise GitError(
                    f"git is not installed (looked for {self.git!r}); install git to poll repositories"
                ) from exc
            self._running.add(process)
            return process


def _signal_group(process: subprocess.Popen[str]) -> None:
    """SIGKILL the process group ``process`` leads (its pid is the group's id: a new session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the whole group has exited
        os.killpg(process.pid, signal.SIGKILL)


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Kill what is left of the command's group, reap it and close its pipes."""
    if process.poll() is None:
        _signal_group(process)
    elif _group_alive(process.pid):
        _signal_group(process)  # git exited but left a helper running
    process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    # Helpers orphaned by git's death are re-parented to init, or to this process when it is
    # init (a container's PID 1) or a subreaper: then reaping them is ours to do.
    while True:
        try:
            os.waitpid(-process.pid, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


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
_STOPPED = "stopped"  # the error of a poll killed by close(): no failure of the repository


class GitSource:
    """Polls every repository the stacks' documents read, each at its own interval, in the background."""

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
        self._health = HealthBook(self.name)  # by redacted URL
        self.update_stacks(stacks)

    @property
    def errors(self) -> dict[str, str]:
        """Redacted URL → why its last poll failed, for every repository whose last poll failed."""
        return self._health.errors()

    def health(self) -> list[TargetHealth]:
        return self._health.report()

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        """Track the repositories of these stacks' documents from now on."""
        self._users: dict[str, list[tuple[str, ObservedRepository]]] = {}
        for stack, documents in stacks.items():
            for repository in self._store.repositories(documents):
                self._users.setdefault(repository.repo_url, []).append((stack, repository))
        self._schedule.set_keys(
            {
                url: timedelta(seconds=min(p.poll_interval_seconds for _, p in users))
                for url, users in self._users.items()
            }
        )
        self._health.track(redact_url(url) for url in self._users)

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
            self._health.started(redact_url(url), now)
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
                if error != _STOPPED:
                    self._health.failed(redact_url(url), error)
                continue
            assert heads is not None
            self._health.succeeded(redact_url(url), started)
            change = self._observe(url, heads, started)
            if change is not None:
                changes.append(change)
        return changes

    def _ls_remote(self, url: str) -> _Result:
        """On a worker thread: only the ``git`` call, nothing shared is touched."""
        try:
            return self._client.ls_remote_heads(url), None
        except GitStoppedError:
            return None, _STOPPED
        except GitError as exc:
            log.warning("git poll failed: %s", exc, extra={"repository": redact_url(url)})
            return None, str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken poll must not kill the worker or the loop
            log.error("git poll crashed: %s: %s", type(exc).__name__, redact_url(str(exc)))
            return None, f"{redact_url(url)}: {type(exc).__name__}"

    def _observe(self, url: str, heads: dict[str, str], now: datetime) -> Change | None:
        observed = self._store.observe_git(url, heads, self._users.get(url, []), now)
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
        """Kill the polls under way (each git's whole process group), stop the workers, apply what
        had arrived. Returns promptly whatever the remotes are doing."""
        self._closed = True
        self._client.close()
        self._pool.shutdown(wait=True, cancel_futures=True)  # the workers' commands are dead: quick
        self._apply_arrived()
