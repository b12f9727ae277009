"""Git polling against real local repositories: new commits, new and deleted branches are seen."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from automation.sources.git import GitClient, GitError, GitSource, redact_url
from tests.automation.sources.hung import HungServer, Process, descendants, survivors
from tests.automation.sources.stacks import GitRepo, kapsa, load

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
API_URL = "https://git.example.test/acme/api.git"
WEB_URL = "https://git.example.test/acme/web.git"
PREVIEWS = {"enabled": True, "include": ["feature/*"], "exclude": [], "ttlHours": 24}


@pytest.fixture
def api(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repos" / "api")


@pytest.fixture
def web(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repos" / "web")


def client_for(*pairs: tuple[str, GitRepo]) -> GitClient:
    """A real git client; git's own insteadOf maps the Projects' https URLs to the local repos."""
    return GitClient(config={f"url.{repo.url}.insteadOf": url for url, repo in pairs}, timeout=20)


def settle(source: GitSource, now: datetime) -> list[Change]:
    """A poll as the daemon's loop sees it over a few ticks: start what is due, get the results."""
    changes = source.poll(now)
    assert source.wait(timeout=30)
    return changes + source.poll(now)


def test_ls_remote_lists_every_branch_head(api: GitRepo) -> None:
    feature = api.commit("feature/new-api", "work")

    heads = GitClient().ls_remote_heads(api.url)

    assert heads == {"main": api.head("main"), "feature/new-api": feature}


def test_ls_remote_accepts_a_plain_path(api: GitRepo) -> None:
    assert GitClient().ls_remote_heads(str(api.path)) == {"main": api.head("main")}


def test_an_unreachable_repository_is_a_clear_error_without_credentials() -> None:
    url = "https://deploy:s3cr3t-token@127.0.0.1:1/acme/api.git"

    with pytest.raises(GitError) as caught:
        GitClient(timeout=20).ls_remote_heads(url)

    message = str(caught.value)
    assert "127.0.0.1:1/acme/api.git" in message
    assert "s3cr3t-token" not in message
    assert "deploy" not in message


def test_a_missing_git_command_says_to_install_git(api: GitRepo) -> None:
    with pytest.raises(GitError, match="install git"):
        GitClient(git="/nonexistent/git").ls_remote_heads(api.url)


def test_redact_url_hides_user_info_only() -> None:
    assert redact_url("https://u:p@host/x.git") == "https://***@host/x.git"
    assert redact_url("https://host/x.git") == "https://host/x.git"
    assert redact_url("git@github.com:acme/x.git") == "git@github.com:acme/x.git"


def test_new_commits_are_seen_and_name_the_stacks_using_the_repository(
    tmp_path: Path, api: GitRepo, web: GitRepo
) -> None:
    stacks = {
        "one": load("one", kapsa("api", API_URL, poll=60)),
        "two": load("two", kapsa("api", API_URL, poll=60)),
        "three": load("three", kapsa("web", WEB_URL, poll=60)),
    }
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource(stacks, store, client=client_for((API_URL, api), (WEB_URL, web)))

    first = settle(source, T0)
    assert {c.stacks for c in first} == {frozenset({"one", "two"}), frozenset({"three"})}
    assert store.git_heads(API_URL) == {"main": api.head("main")}

    # Nothing new: a poll at the next interval reports nothing.
    assert settle(source, T0 + timedelta(seconds=60)) == []

    new = api.commit("main", "fix")
    changes = settle(source, T0 + timedelta(seconds=120))

    assert [(c.source, c.stacks) for c in changes] == [("git", frozenset({"one", "two"}))]
    assert "main" in changes[0].detail
    assert store.git_heads(API_URL) == {"main": new}
    source.close()


def test_each_repository_is_polled_at_its_own_interval(tmp_path: Path, api: GitRepo, web: GitRepo) -> None:
    stacks = {
        "fast": load("fast", kapsa("api", API_URL, poll=60)),
        "slow": load("slow", kapsa("web", WEB_URL, poll=300)),
    }
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource(stacks, store, client=client_for((API_URL, api), (WEB_URL, web)))
    assert source.next_due(T0) == T0  # never polled: due at once
    settle(source, T0)
    assert source.next_due(T0) == T0 + timedelta(seconds=60)

    api.commit("main", "api change")
    web_head = web.commit("main", "web change")
    # Before the interval nothing is polled, however much changed.
    assert settle(source, T0 + timedelta(seconds=59)) == []
    at_60 = settle(source, T0 + timedelta(seconds=60))
    assert [c.stacks for c in at_60] == [frozenset({"fast"})]
    assert store.git_heads(WEB_URL) != {"main": web_head}  # not due yet

    at_300 = settle(source, T0 + timedelta(seconds=300))
    assert frozenset({"slow"}) in [c.stacks for c in at_300]
    assert store.git_heads(WEB_URL) == {"main": web_head}
    source.close()


def test_new_branch_gets_a_first_seen_time_and_a_deleted_one_disappears(tmp_path: Path, api: GitRepo) -> None:
    stacks = {"dev": load("dev", kapsa("api", API_URL, poll=60, previews=PREVIEWS))}
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource(stacks, store, client=client_for((API_URL, api)))
    settle(source, T0)

    api.commit("feature/new-api", "start")
    api.commit("hotfix", "not a preview")
    seen_at = T0 + timedelta(seconds=60)
    changes = settle(source, seen_at)

    assert [c.stacks for c in changes] == [frozenset({"dev"})]
    assert set(store.git_heads(API_URL) or {}) == {"main", "feature/new-api", "hotfix"}
    assert store.first_seen("dev", "api/feature-new-api") == seen_at
    assert store.first_seen("dev", "api/hotfix") is None  # excluded by the include globs

    # Later polls keep the first-seen time.
    api.commit("feature/new-api", "more")
    settle(source, T0 + timedelta(seconds=120))
    assert store.first_seen("dev", "api/feature-new-api") == seen_at

    api.delete_branch("feature/new-api")
    changes = settle(source, T0 + timedelta(seconds=180))

    assert [c.stacks for c in changes] == [frozenset({"dev"})]
    assert "-feature/new-api" in changes[0].detail
    assert "feature/new-api" not in (store.git_heads(API_URL) or {})
    assert store.first_seen("dev", "api/feature-new-api") is None  # pushed again, it is a new preview
    source.close()


def test_an_unreachable_repository_keeps_its_last_heads(tmp_path: Path, api: GitRepo) -> None:
    stacks = {"dev": load("dev", kapsa("api", API_URL, poll=60, previews=PREVIEWS))}
    store = ObservationStore(tmp_path / "observations.json")
    api.commit("feature/x", "x")
    source = GitSource(stacks, store, client=client_for((API_URL, api)))
    settle(source, T0)
    known = store.git_heads(API_URL)

    shutil.rmtree(api.path)
    changes = settle(source, T0 + timedelta(seconds=60))

    assert changes == []
    assert store.git_heads(API_URL) == known  # a network failure is not "every branch deleted"
    assert store.first_seen("dev", "api/feature-x") == T0
    assert API_URL in source.errors
    source.close()


def test_heads_survive_a_restart_and_unchanged_heads_report_nothing(tmp_path: Path, api: GitRepo) -> None:
    stacks = {"dev": load("dev", kapsa("api", API_URL))}
    path = tmp_path / "observations.json"
    store = ObservationStore(path)
    source = GitSource(stacks, store, client=client_for((API_URL, api)))
    settle(source, T0)
    source.close()
    store.save()

    restarted = GitSource(stacks, ObservationStore(path), client=client_for((API_URL, api)))

    assert settle(restarted, T0 + timedelta(hours=1)) == []
    restarted.close()


def test_updated_stacks_poll_a_new_repository_at_once(tmp_path: Path, api: GitRepo, web: GitRepo) -> None:
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource(
        {"dev": load("dev", kapsa("api", API_URL))}, store, client=client_for((API_URL, api), (WEB_URL, web))
    )
    settle(source, T0)

    source.update_stacks(
        {"dev": load("dev", kapsa("api", API_URL)), "web": load("web", kapsa("web", WEB_URL))}
    )

    assert source.next_due(T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    changes = settle(source, T0 + timedelta(seconds=1))
    assert [c.stacks for c in changes] == [frozenset({"web"})]
    source.close()


def test_a_push_to_a_branch_no_project_uses_names_no_stack(tmp_path: Path, api: GitRepo) -> None:
    stacks = {
        "plain": load("plain", kapsa("api", API_URL, poll=60)),  # previews disabled
        "previews": load("previews", kapsa("api", API_URL, poll=60, previews=PREVIEWS)),
    }
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource(stacks, store, client=client_for((API_URL, api)))
    settle(source, T0)

    api.commit("hotfix", "no environment, no preview glob")
    assert settle(source, T0 + timedelta(seconds=60)) == []
    assert "hotfix" in (store.git_heads(API_URL) or {})  # observed all the same

    api.commit("feature/x", "a preview branch")
    changes = settle(source, T0 + timedelta(seconds=120))
    assert [c.stacks for c in changes] == [frozenset({"previews"})]

    api.commit("main", "the dev environment's branch")
    changes = settle(source, T0 + timedelta(seconds=180))
    assert [c.stacks for c in changes] == [frozenset({"plain", "previews"})]
    source.close()


def slow_git(tmp_path: Path, seconds: float) -> tuple[Path, Path]:
    """A ``git`` that takes ``seconds`` before running the real one (a slow remote); its call log."""
    real = shutil.which("git")
    assert real is not None, "install git (apt-get install git)"
    calls = tmp_path / "git-calls"
    script = tmp_path / "slow-git"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\nsleep {seconds}\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    return script, calls


def test_a_slow_remote_does_not_block_poll(tmp_path: Path, api: GitRepo) -> None:
    script, calls = slow_git(tmp_path, 2)
    client = GitClient(git=str(script), config={f"url.{api.url}.insteadOf": API_URL}, timeout=20)
    stacks = {"dev": load("dev", kapsa("api", API_URL, poll=60))}
    store = ObservationStore(tmp_path / "observations.json")
    woken = threading.Event()
    source = GitSource(stacks, store, client=client, wake=woken.set)

    started = time.monotonic()
    assert source.poll(T0) == []  # started, not waited for
    assert source.poll(T0 + timedelta(seconds=1)) == []  # under way: not started twice
    assert time.monotonic() - started < 1.0
    assert store.git_heads(API_URL) is None

    assert woken.wait(timeout=30)  # the loop is woken when the result arrives...
    assert source.next_due(T0 + timedelta(seconds=3)) == T0 + timedelta(seconds=3)
    changes = source.poll(T0 + timedelta(seconds=3))  # ...and applies it on its own thread

    assert [(c.source, c.stacks) for c in changes] == [("git", frozenset({"dev"}))]
    assert store.git_heads(API_URL) == {"main": api.head("main")}
    assert len(calls.read_text().splitlines()) == 1
    assert source.next_due(T0 + timedelta(seconds=3)) == T0 + timedelta(seconds=60)
    source.close()


def hung_repository(server: HungServer) -> str:
    """A repository URL on the hung server: git reaches it through its git-remote-http helper."""
    return f"{server.url}/acme/api.git"


def git_processes() -> list[Process]:
    return [p for p in descendants() if p.name.startswith("git")]


@pytest.fixture
def hung() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def test_a_hung_remote_times_out_and_leaves_no_git_process_behind(hung: HungServer) -> None:
    client = GitClient(timeout=2)
    outcome: list[BaseException] = []

    def poll() -> None:
        try:
            client.ls_remote_heads(hung_repository(hung))
        except GitError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    assert hung.connected.wait(15)  # git's helper sent its request and waits for an answer
    seen = git_processes()
    assert "git-remote-http" in {p.name for p in seen}
    thread.join(15)

    assert not thread.is_alive()
    assert "timed out after 2s" in str(outcome[0])
    assert survivors(seen) == []  # the helper died with git, its group killed as one
    assert git_processes() == []


def test_close_kills_the_polls_under_way_and_stops_the_workers(tmp_path: Path, hung: HungServer) -> None:
    # The daemon stops: a poll of a hung remote must neither delay it nor outlive it.
    client = GitClient(config={f"url.{hung_repository(hung)}.insteadOf": API_URL}, timeout=600)
    store = ObservationStore(tmp_path / "observations.json")
    source = GitSource({"dev": load("dev", kapsa("api", API_URL))}, store, client=client)

    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("driftless-git")}

    before = workers()
    assert source.poll(T0) == []
    assert hung.connected.wait(15)
    started = workers() - before
    assert started  # the poll runs on a worker
    seen = git_processes()
    assert "git-remote-http" in {p.name for p in seen}

    closing = threading.Thread(target=source.close)
    closing.start()
    closing.join(15)  # far less than the 600 s timeout the command had left

    assert not closing.is_alive()
    assert survivors(seen) == []
    assert not any(t.is_alive() for t in started)
    assert store.git_heads(API_URL) is None
    assert source.errors == {}  # stopped on purpose: no failure of the repository
    assert source.poll(T0 + timedelta(hours=1)) == []  # closed: nothing new is started
    assert git_processes() == []
    assert workers() - before == set()


def test_a_client_closed_before_a_command_starts_runs_nothing(api: GitRepo) -> None:
    client = GitClient()
    client.close()

    with pytest.raises(GitError, match="not started"):
        client.ls_remote_heads(api.url)
    assert git_processes() == []


def test_a_repository_whose_polls_keep_failing_is_reported_stale(tmp_path: Path, api: GitRepo) -> None:
    stacks = {"dev": load("dev", kapsa("api", API_URL, poll=60))}
    source = GitSource(stacks, ObservationStore(tmp_path / "o.json"), client=client_for((API_URL, api)))
    settle(source, T0)
    [healthy] = source.health()
    assert (healthy.target, healthy.failures, healthy.last_success, healthy.stale) == (API_URL, 0, T0, False)

    shutil.rmtree(api.path)
    for minute in (1, 2):
        settle(source, T0 + timedelta(minutes=minute))
    assert not source.health()[0].stale  # two failures: could be a blip
    settle(source, T0 + timedelta(minutes=3))

    [stale] = source.health()
    assert stale.stale
    assert stale.failures == 3
    assert stale.last_success == T0  # what the daemon works with is this old
    assert "git ls-remote failed" in (stale.last_error or "")
    assert stale.to_json()["consecutiveFailures"] == 3
    source.close()
