"""The daemon end to end: ``run --once --dry-run --poll-remotes`` against a Vault faked at the wire
(its KV v2 metadata endpoints) and real local git repositories.

Each cycle goes through the real sources, observation store, fingerprints, reconciler and offline
renderer; only the remote systems are stand-ins.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from automation.cli import main
from tests.automation.sources.fakes import FakeVault
from tests.automation.sources.stacks import GitRepo, connector, kapsa

TOKEN = "hvs.end-to-end-token-0123456789"
SALESFORCE = "vault://secret/fivetran/salesforce#password"
WORKDAY = "vault://secret/fivetran/workday#client_secret"
REPO_URL = "https://git.example.test/acme/api.git"


def write(stacks: Path, name: str, documents: list[dict]) -> None:
    (stacks / f"{name}.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))


def cycle(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """One ``run --once`` cycle: each stack's outcome line, by stack."""
    assert main(["run", "--once", "--dry-run", "--poll-remotes", "--http-port", "0", *args]) == 0
    outcomes = {}
    for line in capsys.readouterr().out.strip().splitlines():
        stack, _, outcome = line.partition(": ")
        outcomes[stack] = outcome
    return outcomes


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, list[str]]:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    return stacks, ["--stacks-dir", str(stacks), "--state-dir", str(tmp_path / "state")]


def test_a_vault_rotation_redeploys_only_the_stacks_that_use_the_secret(
    project, capsys, monkeypatch: pytest.MonkeyPatch
):
    vault = FakeVault(TOKEN)
    vault.write("secret", "fivetran/salesforce")
    vault.write("secret", "fivetran/workday")
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    stacks, args = project
    write(stacks, "sales", [connector("sfdc", SALESFORCE)])
    write(stacks, "hr", [connector("workday", WORKDAY)])
    write(stacks, "plain", [connector("nothing")])
    try:
        first = cycle(args, capsys)
        assert all(outcome.startswith("reconciled") for outcome in first.values()), first
        assert cycle(args, capsys) == {"hr": "unchanged", "plain": "unchanged", "sales": "unchanged"}

        vault.write("secret", "fivetran/salesforce")  # rotated: version 2
        after_rotation = cycle(args, capsys)
    finally:
        vault.close()

    assert after_rotation["hr"] == "unchanged"
    assert after_rotation["plain"] == "unchanged"
    assert after_rotation["sales"].startswith("reconciled")
    assert TOKEN not in capsys.readouterr().err


def test_a_new_commit_in_a_real_git_repository_redeploys_its_project(
    project, tmp_path, capsys, monkeypatch: pytest.MonkeyPatch
):
    repo = GitRepo(tmp_path / "repos" / "api")
    # git's own configuration maps the Project's https URL to the local repository
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{repo.url}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", REPO_URL)
    stacks, args = project
    write(stacks, "apps", kapsa(url=REPO_URL))
    write(stacks, "other", [connector("nothing")])

    assert cycle(args, capsys)["apps"].startswith("reconciled")
    assert cycle(args, capsys) == {"apps": "unchanged", "other": "unchanged"}

    repo.commit("main", "a new feature")
    after_commit = cycle(args, capsys)

    assert after_commit["other"] == "unchanged"
    assert after_commit["apps"].startswith("reconciled")
    assert "to update" in after_commit["apps"]
    assert " 0 to update" not in after_commit["apps"]  # the kpack Image's revision moved


@pytest.fixture
def twins(project, tmp_path, monkeypatch: pytest.MonkeyPatch) -> tuple[GitRepo, list[str]]:
    """staging.yaml and live.yaml both define Project/api on one real repository.

    The stacks share a cluster, so each Project has a namespace of its own.
    """
    repo = GitRepo(tmp_path / "repos" / "api")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{repo.url}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", REPO_URL)
    stacks, args = project
    environments = [{"name": "dev"}, {"name": "prod", "autoSync": False}]
    for name in ("staging", "live"):
        documents = kapsa(url=REPO_URL, environments=environments)
        documents[-1]["metadata"]["namespace"] = f"api-{name}"
        write(stacks, name, documents)
    return repo, args


def test_a_push_to_a_branch_no_project_uses_redeploys_nothing(twins, capsys):
    repo, args = twins
    assert all(o.startswith("reconciled") for o in cycle(args, capsys).values())

    repo.commit("hotfix", "nobody deploys this branch")  # no environment, previews disabled
    assert cycle(args, capsys) == {"live": "unchanged", "staging": "unchanged"}

    repo.commit("main", "the branch dev and prod deploy")
    assert all(o.startswith("reconciled") for o in cycle(args, capsys).values())


def test_one_stacks_images_never_change_another_stack(twins, tmp_path, capsys):
    from automation.observation_store import ObservationStore

    _, args = twins
    assert all(o.startswith("reconciled") for o in cycle(args, capsys).values())

    # staging's up reports the image its pinned prod runs (the offline renderer has no kpack
    # builds, so it is recorded here as the operation would record it)
    store = ObservationStore(tmp_path / "state" / "dry-run" / "observations.json")
    pinned = {"image": "harbor.example.test/acme/api@sha256:" + "1" * 64, "commit": "1" * 40}
    assert store.record_outputs("staging", "Project", "api", {"pinnedImages": {"@{prod}": pinned}})
    store.save()

    after = cycle(args, capsys)
    assert after["live"] == "unchanged"
    assert after["staging"].startswith("reconciled")
    live = json.loads((tmp_path / "state" / "dry-run" / "observations" / "live.json").read_text())
    staging = json.loads((tmp_path / "state" / "dry-run" / "observations" / "staging.json").read_text())
    assert staging["images"]["api/@{prod}"]["commit"] == "1" * 40
    assert "api/@{prod}" not in live.get("images", {})
