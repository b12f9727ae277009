"""Small stack files for the tests of ``render --all`` and its cache: quick to render, valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DOMAIN_POOL = {
    "kind": "DomainPool",
    "metadata": {"name": "apps"},
    "spec": {"baseDomain": "apps.example.test", "clusterIssuer": "letsencrypt-prod"},
}
REGISTRY = {
    "kind": "Registry",
    "metadata": {"name": "harbor"},
    "spec": {
        "server": "registry.example.test",
        "repositoryPrefix": "team",
        "credentialsSecret": "harbor-push",
    },
}


def project(name: str) -> dict[str, Any]:
    """A Project whose namespace (its name) another stack's Project of that name would own too."""
    return {
        "kind": "Project",
        "metadata": {"name": name},
        "spec": {
            "repo": {"url": f"https://git.example.test/{name}.git"},
            "domainPool": "apps",
            "registry": "harbor",
            "port": 8080,
            "environments": [{"name": "dev", "branch": "main"}],
        },
    }


def write_stack(directory: Path, name: str, *documents: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        yaml.safe_dump_all(documents or (DOMAIN_POOL, REGISTRY), sort_keys=False), encoding="utf-8"
    )
    return path
