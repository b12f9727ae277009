"""What a stack's fingerprint leaves out or takes in, seen from the daemon's cycle.

``run --once --dry-run --poll-remotes`` end to end: real git repositories, a loopback apiserver and
the real sources, observation store, fingerprints, reconciler and offline renderer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from automation.cli import main
from automation.observation_store import ObservationStore
from automation.status_page import render_status_page
from tests.automation.fake_apiserver import FakeApiserver
from tests.automation.sources.stacks import GitRepo, connector, kapsa
from tests.automation.test_end_to_end import REPO_URL, cycle, write

KUBE_TOKEN = "kube-token-for-the-daemon"
PREVIEWS = {"enabled": True, "include": ["feature/*"], "exclude": ["feature/wip-*"], "ttlHours": 24}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    repo = GitRepo(tmp_path / "repos" / "api")
    # git's own configuration maps the Project's https URL to the local repository
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{repo.url}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", REPO_URL)
    return repo


def seed_expired_preview(state: Path, branch: str, slug: str) -> None:
    """A preview whose branch was first seen ten days ago: it expired long before this run."""
    first_seen = datetime.now(UTC) - timedelta(days=10)
    record = {
        "firstSeen": first_seen.isoformat(),
        "branch": branch,
        "slug": slug,
        "expiresAt": (first_seen + timedelta(hours=24)).isoformat(),
    }
    path = state / "dry-run" / "observations.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 3, "stacks": {"apps": {"previews": {f"api/{slug}": record}}}}))


def test_commits_on_branches_with_an_expired_or_excluded_preview_start_no_up(
    tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    args = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]
    write(stacks, "apps", kapsa(url=REPO_URL, previews=PREVIEWS))
    repo.commit("feature/old", "a preview that has expired")
    repo.commit("feature/wip-x", "excluded from previews")
    repo.commit("feature/live", "a live preview")
    seed_expired_preview(tmp_path / "state", "feature/old", "feature-old")

    assert cycle(args, capsys)["apps"].startswith("reconciled")
    assert cycle(args, capsys) == {"apps": "unchanged"}
    store = ObservationStore(tmp_path / "state" / "dry-run" / "observations.json")
    assert store.preview("apps", "api/feature-live") is not None
    assert store.first_seen("apps", "api/feature-old") is not None  # still recorded: stays expired

    repo.commit("feature/old", "work on the expired branch")
    assert cycle(args, capsys) == {"apps": "unchanged"}
    repo.commit("feature/wip-x", "work on the excluded branch")
    assert cycle(args, capsys) == {"apps": "unchanged"}

    repo.commit("feature/live", "work on the live preview's branch")
    assert cycle(args, capsys)["apps"].startswith("reconciled")


def test_an_expired_branch_deleted_and_pushed_again_gets_a_new_preview(
    tmp_path: Path, repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    args = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]
    write(stacks, "apps", kapsa(url=REPO_URL, previews=PREVIEWS))
    repo.commit("feature/old", "a preview that has expired")
    seed_expired_preview(tmp_path / "state", "feature/old", "feature-old")
    assert cycle(args, capsys)["apps"].startswith("reconciled")

    repo.delete_branch("feature/old")
    cycle(args, capsys)
    repo.commit("feature/old", "pushed again")

    assert cycle(args, capsys)["apps"].startswith("reconciled: up")
    store = ObservationStore(tmp_path / "state" / "dry-run" / "observations.json")
    record = store.preview("apps", "api/feature-old")
    assert record is not None
    assert record.expires_at is not None
    assert record.expires_at > datetime.now(UTC)


@pytest.fixture
def apiserver() -> Iterator[FakeApiserver]:
    server = FakeApiserver(KUBE_TOKEN)
    server.write_secret("default", "harbor-push", {".dockerconfigjson": "first"})
    yield server
    server.close()


def test_a_rotated_registry_secret_redeploys_the_stacks_holding_the_registry(
    tmp_path: Path,
    apiserver: FakeApiserver,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(apiserver.kubeconfig(tmp_path / "kubeconfig")))
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    args = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]
    write(stacks, "apps", kapsa(url=REPO_URL))
    write(stacks, "other", [connector("nothing")])

    assert all(o.startswith("reconciled") for o in cycle(args, capsys).values())
    assert cycle(args, capsys) == {"apps": "unchanged", "other": "unchanged"}

    apiserver.write_secret("default", "harbor-push", {".dockerconfigjson": "rotated"})
    after = cycle(args, capsys)

    assert after["other"] == "unchanged"
    assert after["apps"].startswith("reconciled: up")
    assert cycle(args, capsys) == {"apps": "unchanged", "other": "unchanged"}


def test_without_a_kubeconfig_the_registry_secret_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    args = ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]
    write(stacks, "apps", kapsa(url=REPO_URL))

    assert cycle(args, capsys)["apps"].startswith("reconciled")
    assert cycle(args, capsys) == {"apps": "unchanged"}
    store = ObservationStore(tmp_path / "state" / "dry-run" / "observations.json")
    secret = store.registry_checks()["harbor.example.test"]["credentialsSecret"]
    assert secret["resourceVersion"] is None
    assert "no kubeconfig" in secret["message"]

    # `status` says so, beside the stacks
    assert main(["status", "--dry-run", "--state-dir", str(tmp_path / "state")]) == 0
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("registry ")]
    assert line.startswith(
        "registry harbor.example.test: credentials Secret default/harbor-push: version unknown (no kubeconfig"
    )


def test_the_status_page_shows_the_registry_secrets_version() -> None:
    secret = {"secret": "default/harbor-push", "resourceVersion": None, "message": "no kubeconfig: …"}
    page = render_status_page(
        {"stacks": [], "registries": {"harbor.example.test": {"credentialsSecret": secret}}}
    )

    assert "not checked" in page
    assert "credentials Secret default/harbor-push: version unknown (no kubeconfig: …)" in page
