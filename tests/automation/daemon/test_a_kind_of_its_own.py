"""A kind that exists only in this test: the daemon observes, fingerprints, reconciles and reports
it from its registration alone, as it does the domains' kinds.

``Site`` deploys one branch of a git repository: it declares the repository (the daemon polls a real
local one with ``git ls-remote``) and the image its outputs name (the daemon keeps it for the next
run). Nothing in the daemon names it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest

from automation.daemon.offline_driver import OfflineDriver
from automation.observation_store import ObservationStore
from automation.sources.git import GitClient, GitSource
from components.common.spec import SpecModel
from components.context import StackContext
from components.documents import Document
from components.inputs import GitRepository
from components.registry import KindRegistration, KindRegistry
from tests.automation.daemon.helpers import render_with, write_stack

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.test",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


class SiteSpec(SpecModel):
    repo: str
    branch: str = "main"


class Site(pulumi.ComponentResource):
    """One resource holding the commit it deploys; its status names the image built from it."""

    def __init__(self, name: str, spec: SiteSpec, commit: str | None):
        super().__init__("driftless:test:Site", name, None, None)
        pulumi.CustomResource(
            "driftless-test:index:Item",
            f"{name}-deployment",
            {"commit": commit or "none yet"},
            pulumi.ResourceOptions(parent=self),
        )
        status: dict[str, Any] = {"ready": "True" if commit else "False", "reason": "Deployed"}
        if commit:
            status["deployed"] = {spec.branch: {"image": f"registry.example.test/{name}:{commit[:12]}"}}
        self.status = pulumi.Output.from_input(status)
        self.register_outputs({"status": self.status})


def _site(document: Document) -> SiteSpec:
    assert isinstance(document.spec, SiteSpec)
    return document.spec


def create_site(document: Document, context: StackContext) -> pulumi.ComponentResource:
    spec = _site(document)
    return Site(document.name, spec, context.observations.git.get(spec.repo, {}).get(spec.branch))


def site_repository(document: Document) -> Iterable[GitRepository]:
    spec = _site(document)
    yield GitRepository(document.name, spec.repo, (spec.branch,), poll_interval_seconds=60)


def deployed_images(outputs: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    deployed = outputs.get("deployed")
    return deployed if isinstance(deployed, Mapping) else {}


SITES = KindRegistry(
    [
        KindRegistration(
            kind="Site",
            spec_model=SiteSpec,
            create=create_site,
            namespaced=False,
            observes_repositories=site_repository,
            images_from_outputs=deployed_images,
        )
    ]
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def commit(repo: Path, branch: str, message: str) -> str:
    git(repo, "checkout", "-q", "-B", branch)
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "site.git"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    return path


def test_a_kind_registered_in_a_test_is_observed_fingerprinted_reconciled_and_reported(
    make_reconciler, layout, clock, repo
):
    url = str(repo)
    first = commit(repo, "main", "first")
    write_stack(
        layout.stacks_dir / "web.yaml", {"kind": "Site", "metadata": {"name": "www"}, "spec": {"repo": url}}
    )
    store = ObservationStore(layout.state_dir / "observations.json", registry=SITES)
    reconciler = make_reconciler(
        OfflineDriver(layout.state_dir, render=render_with(SITES)), observations=store, registry=SITES
    )
    loaded = {name: inputs.documents for name, inputs in reconciler.load_inputs().items() if inputs.documents}
    git_source = GitSource(loaded, store, client=GitClient(timeout=20))

    def poll_git() -> list[str]:
        """One poll of the repository (its interval later), applied; the stacks it changed."""
        clock.advance(60)
        git_source.poll(clock.now())
        assert git_source.wait(timeout=30)
        return sorted(stack for change in git_source.poll(clock.now()) for stack in change.stacks or ())

    def settle() -> list[str]:
        """Cycle until nothing changes: the states of the stack, cycle after cycle."""
        states = [{o.stack: o.state for o in reconciler.cycle()}["web"]]
        while states[-1] != "unchanged" and len(states) < 4:
            states.append({o.stack: o.state for o in reconciler.cycle()}["web"])
        return states

    try:
        assert poll_git() == ["web"]
        documents = loaded["web"]
        assert store.fingerprint_material(documents, clock.now())["git"] == {url: {"main": first}}

        # the image the up's outputs named is kept under "<document>/<key>" and is an input of the
        # next run: one more up, then nothing
        assert settle() == ["reconciled", "reconciled", "unchanged"]
        image = store.for_stack(documents, clock.now()).images["www/main"].image
        assert image == f"registry.example.test/www:{first[:12]}"

        # a push to a branch the document does not deploy changes nothing it renders
        commit(repo, "feature", "elsewhere")
        assert poll_git() == []
        assert settle() == ["unchanged"]

        second = commit(repo, "main", "second")
        assert poll_git() == ["web"]
        assert store.fingerprint_material(documents, clock.now())["git"] == {url: {"main": second}}
        assert settle() == ["reconciled", "reconciled", "unchanged"]

        web = {stack["name"]: stack for stack in reconciler.status_document()["stacks"]}["web"]
        assert web["phase"] == "Ready", web
        assert web["lastOperation"]["trigger"] == "InputChanged", web
        assert [(c["kind"], c["name"]) for c in web["components"]] == [("Site", "www")], web
    finally:
        git_source.close()
