"""What a kind reads from outside the repository, declared in generic shapes the daemon polls.

A :class:`~components.registry.KindRegistration` declares, for each document of its kind, the git
repositories it reads branch heads of (:class:`ObservedRepository`), the container registries it
pushes to with their credentials Secret (:class:`ObservedRegistry`), and what of its component's
outputs the daemon keeps as images (:data:`ImagesFromOutputs`) and what it keeps as the facts last
applied (:data:`AppliedFromOutputs`). The daemon polls, records and
fingerprints exactly what the kinds declare and knows none of them by name; the program then
renders from what was observed (:mod:`components.observations`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from components.observations import PreviewObservation

DEFAULT_POLL_INTERVAL_SECONDS = 300

# Where a preview identity comes from (PreviewIdentity.origin); a kind's identities use these values.
RECORDED = "recorded"  # a complete record: branch, slug, first seen, expiry
NEW = "new"  # no record yet: first seen now


class PreviewIdentity(Protocol):
    """Who a preview is, fixed when its branch is first seen."""

    @property
    def branch(self) -> str: ...

    @property
    def slug(self) -> str: ...

    @property
    def first_seen(self) -> datetime: ...

    @property
    def expires_at(self) -> datetime: ...

    @property
    def origin(self) -> str: ...

    def expired(self, now: datetime) -> bool: ...

    def to_observation(self) -> PreviewObservation: ...


class ObservedRepository(Protocol):
    """A git repository one document reads branch heads of.

    Its observation keys (previews, images) start with :meth:`key_prefix`, ``"<document name>/"``.
    """

    @property
    def name(self) -> str: ...

    @property
    def repo_url(self) -> str: ...

    @property
    def poll_interval_seconds(self) -> int: ...

    def used_branches(self, branches: Iterable[str], expired: Iterable[str] = ()) -> set[str]:
        """Which of ``branches`` the program reads the head of (a push to any other changes nothing);
        a branch whose preview has ``expired`` is left out unless deployed otherwise."""
        ...

    def preview_identities(
        self, branches: Iterable[str], recorded: Mapping[str, PreviewObservation], now: datetime
    ) -> Mapping[str, PreviewIdentity]:
        """Branch → identity of each of ``branches`` that gets a preview (none without previews)."""
        ...

    def key_prefix(self) -> str: ...


@dataclass(frozen=True)
class GitRepository:
    """A repository whose listed branches a document deploys, without previews."""

    name: str
    repo_url: str
    branches: tuple[str, ...]
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS

    def used_branches(self, branches: Iterable[str], expired: Iterable[str] = ()) -> set[str]:
        return {b for b in branches if b in self.branches}

    def preview_identities(
        self, branches: Iterable[str], recorded: Mapping[str, PreviewObservation], now: datetime
    ) -> Mapping[str, PreviewIdentity]:
        return {}

    def key_prefix(self) -> str:
        return f"{self.name}/"


class RegistryVerification(Protocol):
    @property
    def verified(self) -> bool: ...

    @property
    def message(self) -> str: ...


# verify(server, username, password, scheme="https"|"http") -> an object with .verified and .message
VerifyRegistry = Callable[..., RegistryVerification]
# (``.dockerconfigjson`` document, server) -> (username, password) for the server, or None
CredentialsFromDockerConfig = Callable[[bytes, str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class ObservedRegistry:
    """A container registry one document uses, and the credentials Secret it uses it with."""

    name: str
    server: str
    insecure: bool = False  # plain HTTP (a local registry)
    credentials_namespace: str = "default"
    credentials_secret: str | None = None
    # How the daemon checks that the Secret's credentials are accepted: the kind's own functions.
    verify: VerifyRegistry | None = field(default=None, compare=False, repr=False)
    read_credentials: CredentialsFromDockerConfig | None = field(default=None, compare=False, repr=False)

    def credentials_key(self) -> str | None:
        """``"<namespace>/<name>"`` of the credentials Secret, or None when the document names none."""
        if self.credentials_secret is None:
            return None
        return f"{self.credentials_namespace}/{self.credentials_secret}"


ImagesFromOutputs = Callable[[Mapping[str, Any]], Mapping[str, Mapping[str, Any]]]
"""A component's outputs → the images the daemon keeps for it (key → ``{image, commit, builtAt}``),
recorded under ``"<document name>/<key>"`` and handed back to the program on its next run."""

AppliedFromOutputs = Callable[[Mapping[str, Any]], Mapping[str, Any]]
"""A component's outputs → the facts of what its last successful ``up`` applied (e.g. a replica
count), which the program cannot know by itself. The daemon keeps them per stack under the document's
``"<Kind>/<name>"``, replacing the previous ones, and hands them back as the observations' ``applied``
section on the next run; a kind's ``check_in_context`` may then refuse a change unsafe from there."""
