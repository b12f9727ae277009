"""Preview identities over successive observations: recorded once, never renamed, never revived.

Each step is what the daemon does: ``git ls-remote`` of a real repository (the git source), the
observation store's record, and the Kapsa program's plan from the observations file the store
writes for the stack (read back through the file format, as the program reads it).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.observation_store import ObservationStore
from automation.sources.git import GitSource
from automation.sources.ttl import TtlSource
from components.documents import StackDocuments
from components.kapsa.previews import PreviewPlan, plan_previews
from components.kapsa.slugs import branch_hash
from components.kapsa.spec import ProjectSpec
from components.observations import Observations
from tests.automation.sources.stacks import GitRepo, kapsa, load
from tests.automation.sources.test_git import client_for, settle

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
URL = "https://git.example.test/acme/api.git"
PREVIEWS = {"enabled": True, "include": ["feature/*"], "exclude": [], "ttlHours": 24}
LOWER, UPPER, THIRD = "feature/new-api", "feature/New-API", "feature/NEW-api"


class Daemon:
    """The pieces of the daemon that observe a repository and hand previews to the program."""

    def __init__(self, tmp_path: Path, repo: GitRepo, previews: dict | None = None):
        self.tmp_path = tmp_path
        self.repo = repo
        self.stack: StackDocuments = load("dev", kapsa("api", URL, previews=previews or PREVIEWS))
        self.store = ObservationStore(tmp_path / "state" / "observations.json")
        self.git = GitSource({"dev": self.stack}, self.store, client=client_for((URL, repo)))

    def poll(self, now: datetime) -> None:
        settle(self.git, now)
        self.store.save()

    def observations(self, now: datetime) -> Observations:
        path = self.tmp_path / "observations-dev.json"
        path.write_text(self.store.for_stack(self.stack, now).to_json())
        return Observations.load(path)

    def plan(self, now: datetime) -> PreviewPlan:
        (project,) = [d for d in self.stack if d.kind == "Project"]
        assert isinstance(project.spec, ProjectSpec)
        return plan_previews("api", project.spec, self.observations(now))

    def restart(self) -> None:
        self.git.close()
        self.store = ObservationStore(self.store.path)
        self.git = GitSource({"dev": self.stack}, self.store, client=client_for((URL, self.repo)))


def live(plan: PreviewPlan) -> dict[str, tuple[str, datetime, datetime]]:
    return {p.branch: (p.slug, p.first_seen, p.expires_at) for p in plan.active}


def suffixed(branch: str) -> str:
    return f"feature-new-api-{branch_hash(branch)}"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repos" / "api")


@pytest.fixture
def daemon(tmp_path: Path, repo: GitRepo):
    daemon = Daemon(tmp_path, repo)
    yield daemon
    daemon.git.close()


def test_a_branch_that_slugs_alike_does_not_rename_a_live_preview(repo: GitRepo, daemon: Daemon) -> None:
    repo.commit(LOWER, "work")
    daemon.poll(T0)
    assert live(daemon.plan(T0)) == {LOWER: ("feature-new-api", T0, T0 + timedelta(hours=24))}

    later = T0 + timedelta(hours=2)
    repo.commit(UPPER, "the same name, other case")
    daemon.poll(later)

    # the existing preview keeps its URL, first-seen time and expiry; the newcomer is suffixed
    assert live(daemon.plan(later)) == {
        LOWER: ("feature-new-api", T0, T0 + timedelta(hours=24)),
        UPPER: (suffixed(UPPER), later, later + timedelta(hours=24)),
    }


def test_an_expired_preview_is_not_revived_by_a_colliding_branch(repo: GitRepo, daemon: Daemon) -> None:
    repo.commit(LOWER, "work")
    daemon.poll(T0)
    expired_at = T0 + timedelta(hours=24)
    assert [p.branch for p in daemon.plan(expired_at).expired] == [LOWER]

    # a colliding branch appears after the expiry: the old bug renamed the expired preview and
    # counted it first seen now, bringing it back under a new URL
    later = expired_at + timedelta(hours=1)
    repo.commit(UPPER, "collides")
    daemon.poll(later)
    plan = daemon.plan(later)

    assert live(plan) == {UPPER: (suffixed(UPPER), later, later + timedelta(hours=24))}
    assert [(p.branch, p.slug, p.first_seen) for p in plan.expired] == [(LOWER, "feature-new-api", T0)]

    # new commits on the expired branch, a restart, a third look-alike: it stays expired
    repo.commit(LOWER, "more work")
    daemon.restart()
    even_later = later + timedelta(hours=3)
    repo.commit(THIRD, "another look-alike")
    daemon.poll(even_later)
    plan = daemon.plan(even_later)
    assert [(p.branch, p.slug) for p in plan.expired] == [(LOWER, "feature-new-api")]
    assert live(plan) == {
        UPPER: (suffixed(UPPER), later, later + timedelta(hours=24)),
        THIRD: (suffixed(THIRD), even_later, even_later + timedelta(hours=24)),
    }


def test_an_expired_branch_comes_back_only_when_deleted_and_pushed_again(
    repo: GitRepo, daemon: Daemon
) -> None:
    repo.commit(LOWER, "work")
    repo.commit(UPPER, "both at once: both suffixed")
    daemon.poll(T0)
    assert {b: slug for b, (slug, _, _) in live(daemon.plan(T0)).items()} == {
        LOWER: suffixed(LOWER),
        UPPER: suffixed(UPPER),
    }

    deleted_at = T0 + timedelta(hours=30)
    assert {p.branch for p in daemon.plan(deleted_at).expired} == {LOWER, UPPER}
    repo.delete_branch(LOWER)
    daemon.poll(deleted_at)
    assert [p.branch for p in daemon.plan(deleted_at).expired] == [UPPER]

    pushed_at = deleted_at + timedelta(hours=1)
    repo.commit(LOWER, "pushed again")
    daemon.poll(pushed_at)
    plan = daemon.plan(pushed_at)

    # a new preview, under the plain slug the deleted one no longer holds
    assert live(plan) == {LOWER: ("feature-new-api", pushed_at, pushed_at + timedelta(hours=24))}
    assert [(p.branch, p.slug) for p in plan.expired] == [(UPPER, suffixed(UPPER))]


def test_the_ttl_is_the_one_recorded_when_the_branch_was_first_seen(tmp_path: Path, repo: GitRepo) -> None:
    repo.commit(LOWER, "work")
    first = Daemon(tmp_path, repo)
    first.poll(T0)
    first.git.close()

    # the stack file now says 48 h: the running preview keeps its expiry, a new branch gets 48 h
    longer = Daemon(tmp_path, repo, previews={**PREVIEWS, "ttlHours": 48})
    later = T0 + timedelta(hours=1)
    repo.commit("feature/b", "new")
    longer.poll(later)
    assert live(longer.plan(later)) == {
        LOWER: ("feature-new-api", T0, T0 + timedelta(hours=24)),
        "feature/b": ("feature-b", later, later + timedelta(hours=48)),
    }
    ttl = TtlSource({"dev": longer.stack}, longer.store)
    assert ttl.next_due(later) == T0 + timedelta(hours=24)
    longer.git.close()


def test_an_observations_file_of_the_older_format_keeps_its_previews(tmp_path: Path, repo: GitRepo) -> None:
    lower, upper = repo.commit(LOWER, "a"), repo.commit(UPPER, "b")
    seen = T0 - timedelta(hours=5)
    # written before identities were recorded: keys hold the slugs of the whole set, first seen only
    state = tmp_path / "state"
    state.mkdir()
    (state / "observations.json").write_text(
        json.dumps(
            {
                "version": 2,
                "git": {URL: {"main": repo.head("main"), LOWER: lower, UPPER: upper}},
                "stacks": {
                    "dev": {
                        "previews": {
                            f"api/{suffixed(LOWER)}": {"firstSeen": seen.isoformat()},
                            f"api/{suffixed(UPPER)}": {"firstSeen": T0.isoformat()},
                        }
                    }
                },
            }
        )
    )
    daemon = Daemon(tmp_path, repo)
    expected = {
        LOWER: (suffixed(LOWER), seen, seen + timedelta(hours=24)),
        UPPER: (suffixed(UPPER), T0, T0 + timedelta(hours=24)),
    }
    assert live(daemon.plan(T0)) == expected

    # the first read records the identities; a branch deleted later no longer renames the other
    daemon.store.save()
    saved = json.loads(daemon.store.path.read_text())["stacks"]["dev"]["previews"]
    assert saved[f"api/{suffixed(LOWER)}"]["branch"] == LOWER
    repo.delete_branch(UPPER)
    daemon.poll(T0 + timedelta(hours=1))
    assert live(daemon.plan(T0 + timedelta(hours=1))) == {LOWER: expected[LOWER]}
    daemon.git.close()
