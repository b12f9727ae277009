"""Stack documents for the Kapsa tests: the documented example, as dicts to vary per test."""

from __future__ import annotations

import copy
from typing import Any

import pytest

REPO = "https://git.corp.com/acme/api.git"

DOMAIN_POOL: dict[str, Any] = {
    "kind": "DomainPool",
    "metadata": {"name": "apps-pool"},
    "spec": {"baseDomain": "apps.corp.com", "clusterIssuer": "letsencrypt-prod"},
}
REGISTRY: dict[str, Any] = {
    "kind": "Registry",
    "metadata": {"name": "harbor"},
    "spec": {
        "server": "harbor.corp.com",
        "repositoryPrefix": "myapp",
        "credentialsSecret": "harbor-push-credentials",
    },
}
PROJECT: dict[str, Any] = {
    "kind": "Project",
    "metadata": {"name": "api"},
    "spec": {
        "repo": {"url": REPO, "pollIntervalSeconds": 300},
        "domainPool": "apps-pool",
        "registry": "harbor",
        "port": 8080,
        "environments": [
            {"name": "dev", "branch": "main", "autoSync": True, "replicas": 1},
            {
                "name": "prod",
                "branch": "main",
                "autoSync": False,
                "replicas": 3,
                "secretRefs": [{"name": "api-secrets-prod"}],
            },
        ],
        "previewEnvironments": {"enabled": True, "include": ["*"], "exclude": ["main"], "ttlHours": 168},
    },
}


@pytest.fixture
def documents() -> list[dict[str, Any]]:
    """The documented DomainPool, Registry and Project (previews enabled), fresh for each test."""
    return copy.deepcopy([DOMAIN_POOL, REGISTRY, PROJECT])


@pytest.fixture
def project(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The Project document of ``documents`` (edit it in place)."""
    return documents[2]
