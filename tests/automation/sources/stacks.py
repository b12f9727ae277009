"""Test helpers: real stack documents (through the real loader and spec models) and real git repos."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.documents import StackDocuments, load_stack_text
from components.fivetran.spec import FivetranConnectorSpec
from components.kapsa.spec import DomainPoolSpec, ProjectSpec, RegistrySpec
from components.registry import KindRegistration, KindRegistry


def _not_rendered(document: Any, context: Any) -> Any:
    pytest.fail("these tests load documents; they never run the program")


# The real spec models of the kinds the daemon's sources read; the loader validates with them
# exactly as it does for a stack file.
KINDS = KindRegistry(
    [
        KindRegistration("Project", ProjectSpec, _not_rendered),
        KindRegistration("DomainPool", DomainPoolSpec, _not_rendered, namespaced=False),
        KindRegistration("Registry", RegistrySpec, _not_rendered, namespaced=False),
        KindRegistration("FivetranConnector", FivetranConnectorSpec, _not_rendered),
    ]
)


def load(name: str, documents: Sequence[dict[str, Any]]) -> StackDocuments:
    """Documents as a user writes them in ``stacks/<name>.yaml``, validated by the real loader."""
    text = yaml.safe_dump_all(list(documents), sort_keys=False)
    return load_stack_text(text, f"stacks/{name}.yaml", KINDS)


def kapsa(
    project: str = "api",
    url: str = "https://git.example.test/acme/api.git",
    *,
    poll: int = 300,
    previews: dict[str, Any] | None = None,
    server: str = "harbor.example.test",
    environments: Sequence[dict[str, Any]] = ({"name": "dev", "branch": "main"},),
) -> list[dict[str, Any]]:
    """A Project with its DomainPool and Registry."""
    spec: dict[str, Any] = {
        "repo": {"url": url, "pollIntervalSeconds": poll},
        "domainPool": "pool",
        "registry": "harbor",
        "environments": list(environments),
    }
    if previews is not None:
        spec["previewEnvironments"] = previews
    return [
        {
            "kind": "DomainPool",
            "metadata": {"name": "pool"},
            "spec": {"baseDomain": "apps.example.test", "clusterIssuer": "le"},
        },
        {
            "kind": "Registry",
            "metadata": {"name": "harbor"},
            "spec": {"server": server, "repositoryPrefix": "acme", "credentialsSecret": "harbor-push"},
        },
        {"kind": "Project", "metadata": {"name": project}, "spec": spec},
    ]


def connector(name: str, *references: str) -> dict[str, Any]:
    """A FivetranConnector whose auth reads the given ``vault://`` references."""
    return {
        "kind": "FivetranConnector",
        "metadata": {"name": name},
        "spec": {
            "groupId": "decent_dropsy",
            "service": "salesforce",
            "destinationSchema": {"name": name},
            "auth": {f"secret{index}": reference for index, reference in enumerate(references)},
        },
    }


class GitRepo:
    """A real git repository on disk, driven with the git command."""

    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.commit("main", "initial")

    def git(self, *args: str) -> str:
        result = subprocess.run(
            [
                "git",
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.test",
                "-c",
                "commit.gpgsign=false",
                *args,
            ],
            cwd=self.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def commit(self, branch: str, message: str) -> str:
        """A new commit on ``branch`` (created from the current HEAD if missing); its SHA."""
        branches = self.git("branch", "--list", branch)
        self.git("checkout", "--quiet", *(() if branches else ("-b",)), branch)
        (self.path / "log.txt").open("a").write(message + "\n")
        self.git("add", "log.txt")
        self.git("commit", "--quiet", "-m", message)
        return self.head(branch)

    def head(self, branch: str) -> str:
        return self.git("rev-parse", f"refs/heads/{branch}")

    def delete_branch(self, branch: str) -> None:
        self.git("checkout", "--quiet", "main")
        self.git("branch", "--quiet", "-D", branch)

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()
