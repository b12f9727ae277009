"""What Kapsa documents read from outside the repository, declared for the daemon (components.inputs).

A Project polls its repository: the branches its permanent environments deploy and, with previews
enabled, every branch its ``previewEnvironments`` globs select, each with the identity the daemon
records when it first sees the branch. A Registry is verified with its credentials Secret. A
Project's ``lastGoodImages`` and ``pinnedImages`` outputs are kept for its next run.

These read the camelCase dump of a validated spec (``spec.model_dump(by_alias=True)``), the shape
users write in stack files, so they depend on the contract's field names, not on one spec model's
attribute names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from components.documents import Document
from components.inputs import DEFAULT_POLL_INTERVAL_SECONDS, ObservedRegistry
from components.kapsa.previews import PreviewIdentity, matches, preview_identities
from components.kapsa.registry_check import credentials_from_docker_config, verify_registry
from components.observations import PreviewObservation

DEFAULT_TTL_HOURS = 168
CLUSTER_BUILDER_OPTION = "kapsaClusterBuilder"
DEFAULT_CLUSTER_BUILDER = "default"
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# A Project's outputs the daemon keeps: {branch: image} and {"@{<env>}": image} (pinned environments).
IMAGE_OUTPUTS = ("lastGoodImages", "pinnedImages")


class KapsaOptions(BaseModel):
    """Kapsa's stack config: ``driftless:kapsaClusterBuilder``, the kpack ClusterBuilder of every Image."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    cluster_builder: str = Field(default=DEFAULT_CLUSTER_BUILDER, alias="kapsaClusterBuilder")

    @field_validator("cluster_builder", mode="before")
    @classmethod
    def _default_when_empty(cls, value: Any) -> Any:
        return value or DEFAULT_CLUSTER_BUILDER

    @field_validator("cluster_builder")
    @classmethod
    def _kubernetes_name(cls, value: str) -> str:
        if len(value) > 253 or not _K8S_NAME.match(value):
            raise ValueError(
                f"config driftless:{CLUSTER_BUILDER_OPTION}: {value!r} is not a Kubernetes object name"
            )
        return value


@dataclass(frozen=True)
class PreviewPolicy:
    """A Project's ``previewEnvironments``: which branches get a preview, and for how long."""

    enabled: bool = False
    include: tuple[str, ...] = ("*",)
    exclude: tuple[str, ...] = ("main",)
    ttl_hours: float = DEFAULT_TTL_HOURS

    def wants(self, branch: str) -> bool:
        """True when ``branch`` gets a preview: enabled, matches an include and no exclude."""
        return self.enabled and matches(branch, self.include, self.exclude)


@dataclass(frozen=True)
class ProjectInputs:
    """One Project document's outside inputs (a :class:`components.inputs.ObservedRepository`)."""

    name: str
    repo_url: str
    poll_interval_seconds: int
    previews: PreviewPolicy
    environments: tuple[str, ...] = ()  # permanent environment names: never a preview's slug
    branches: tuple[str, ...] = ()  # the branches the permanent environments deploy

    def used_branches(self, branches: Iterable[str], expired: Iterable[str] = ()) -> set[str]:
        """Which of ``branches`` the program builds or deploys for this Project.

        Those its permanent environments deploy, and, with previews enabled, every branch matching
        the include globs and no exclude glob, except those whose preview has ``expired`` (the
        program lists an expired preview's branch, never its head). The program never looks at the
        head of any other branch, so a push to one must not change the stack's fingerprint.
        """
        gone = set(expired)
        return {b for b in branches if b in self.branches or (self.previews.wants(b) and b not in gone)}

    def preview_identities(
        self, branches: Iterable[str], recorded: Mapping[str, PreviewObservation], now: datetime
    ) -> dict[str, PreviewIdentity]:
        """Branch → identity of every branch of ``branches`` that gets a preview.

        Exactly what the Kapsa program resolves from the same records
        (:func:`components.kapsa.previews.preview_identities`): the recorded identity of a branch
        seen before, a new one (first seen ``now``) otherwise.
        """
        wanted = [b for b in branches if self.previews.wants(b)]
        if not wanted:
            return {}
        return preview_identities(
            self.name,
            wanted,
            recorded,
            environments=self.environments,
            ttl=timedelta(hours=self.previews.ttl_hours),
            now=now,
        )

    def key_prefix(self) -> str:
        """Preview and image observation keys of this project start with this (``"<project>/..."``)."""
        return f"{self.name}/"


def project_repositories(document: Document) -> Iterator[ProjectInputs]:
    """A Project's repository, with its poll interval and preview policy."""
    spec = _dump(document)
    repo = spec.get("repo") or {}
    url = repo.get("url")
    if not isinstance(url, str) or not url:
        return  # the Project model requires it; nothing to poll otherwise
    interval = repo.get("pollIntervalSeconds") or DEFAULT_POLL_INTERVAL_SECONDS
    environments = [e for e in spec.get("environments") or () if isinstance(e, Mapping)]
    yield ProjectInputs(
        name=document.name,
        repo_url=url,
        poll_interval_seconds=int(interval),
        previews=_preview_policy(spec.get("previewEnvironments")),
        environments=tuple(e["name"] for e in environments if "name" in e),
        # ProjectSpec.branch_of: an environment's branch, by default the repository's
        branches=tuple(sorted({b for e in environments if (b := e.get("branch") or repo.get("branch"))})),
    )


def registry_servers(document: Document) -> Iterator[ObservedRegistry]:
    """A Registry's server, verified with its credentials Secret."""
    spec = _dump(document)
    server = spec.get("server")
    if isinstance(server, str) and server:
        secret = spec.get("credentialsSecret")
        yield ObservedRegistry(
            document.name,
            server,
            bool(spec.get("insecure", False)),
            credentials_namespace=str(spec.get("credentialsNamespace") or "default"),
            credentials_secret=secret if isinstance(secret, str) and secret else None,
            verify=verify_registry,
            read_credentials=credentials_from_docker_config,
        )


def project_images(outputs: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The images a Project's outputs name, by key: ``lastGoodImages`` ({branch: image}) and
    ``pinnedImages`` ({"@{<env>}": the image each pinned environment runs})."""
    images: dict[str, Mapping[str, Any]] = {}
    for output in IMAGE_OUTPUTS:
        found = outputs.get(output)
        if isinstance(found, Mapping):
            images.update(found)
    return images


def _preview_policy(raw: Any) -> PreviewPolicy:
    if not isinstance(raw, Mapping):
        return PreviewPolicy()
    defaults = PreviewPolicy()
    include, exclude = raw.get("include"), raw.get("exclude")
    return PreviewPolicy(
        enabled=bool(raw.get("enabled", False)),
        include=tuple(include) if isinstance(include, list) else defaults.include,
        exclude=tuple(exclude) if isinstance(exclude, list) else defaults.exclude,
        ttl_hours=float(raw.get("ttlHours") or DEFAULT_TTL_HOURS),
    )


def _dump(document: Document) -> dict[str, Any]:
    dumped: dict[str, Any] = document.spec.model_dump(by_alias=True)
    return dumped
