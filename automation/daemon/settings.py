"""Daemon settings and per-stack policy: ``driftless.yaml`` at the project root (optional).

```yaml
concurrency: 4                 # operations at once across stacks
maxFailures: 5                 # consecutive failures before a stack is Stalled
debounceSeconds: 1.6           # a stack file is read once its size and mtime rest this long
requeueFloorSeconds: 10        # the soonest a requeue hint brings the next up (a hint of 0: this soon)
drift: {enabled: true, intervalSeconds: 600, remediate: false}
deletionGuard: {maxDocumentLossShare: 0.5}   # hold an up that drops more of the applied documents
backoff: {baseSeconds: 10, factor: 3, capSeconds: 3600}
sources: {gitTimeoutSeconds: 20, vaultTimeoutSeconds: 10}
http: {allowedHosts: [], timeoutSeconds: 10, maxConnections: 32}   # the status endpoint
leases: {namespace: driftless, durationSeconds: 30, renewSeconds: 10}   # run --shard-by-lease
stacks:
  prod: {drift: {intervalSeconds: 300, remediate: true}, deletionGuard: {maxDocumentLossShare: 0.2}}
```

Every field is optional. Unknown fields are errors, so a typo never silently changes behaviour;
errors name the file and the field, as stack files do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from automation.http import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT_SECONDS

SETTINGS_FILE = "driftless.yaml"
DRIFT_INTERVAL_FLOOR = 60  # seconds: a resync floor, as in the Pulumi Kubernetes Operator


def _at_least_floor(value: int) -> int:
    if value < DRIFT_INTERVAL_FLOOR:
        raise ValueError(f"must be >= {DRIFT_INTERVAL_FLOOR} (the drift check floor)")
    return value


DriftInterval = Annotated[int, AfterValidator(_at_least_floor)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class DriftPolicy(_Model):
    """How often to look for drift, and whether to correct it."""

    enabled: bool = Field(default=True, description="run drift checks at all")
    interval_seconds: DriftInterval = Field(default=600, description="seconds between drift checks (>= 60)")
    remediate: bool = Field(
        default=False, description="run `up --refresh` when drift is found; else only report"
    )


class DriftOverride(_Model):
    """A stack's drift policy; unset fields inherit the daemon-wide policy."""

    enabled: bool | None = None
    interval_seconds: DriftInterval | None = None
    remediate: bool | None = None


LossShare = Annotated[float, Field(ge=0, le=1)]


class DeletionGuard(_Model):
    """When an ``up`` would delete what a stack file no longer holds, and needs a person's say-so.

    A file with no documents, when documents were applied, is always held; so is one that lost
    more than ``max_document_loss_share`` of the documents last applied (by ``Kind/name``).
    """

    max_document_loss_share: LossShare = Field(
        default=0.5, description="the largest share of the applied documents one up may delete (0 to 1)"
    )


class DeletionGuardOverride(_Model):
    """A stack's deletion guard; unset fields inherit the daemon-wide guard."""

    max_document_loss_share: LossShare | None = None


class StackPolicy(_Model):
    drift: DriftOverride = Field(default_factory=DriftOverride)
    deletion_guard: DeletionGuardOverride = Field(default_factory=DeletionGuardOverride)


class BackoffPolicy(_Model):
    """Exponential backoff for retryable failures: base × factor^(n-1), capped, with jitter."""

    base_seconds: float = Field(default=10, gt=0)
    factor: float = Field(default=3, ge=1)
    cap_seconds: float = Field(default=3600, gt=0)

    def delay(self, failures: int) -> float:
        """The delay before retry number ``failures`` (1 = after the first failure), before jitter."""
        exponent = max(0, failures - 1)
        try:
            return min(self.cap_seconds, self.base_seconds * self.factor**exponent)
        except OverflowError:
            return self.cap_seconds


class SourcesPolicy(_Model):
    """Hard timeouts of the background polls of git remotes and Vault."""

    git_timeout_seconds: float = Field(
        default=20, gt=0, description="one `git ls-remote`, helpers included, is killed after this"
    )
    vault_timeout_seconds: float = Field(
        default=10, gt=0, description="connect and read timeout of each Vault metadata request"
    )


def _host_names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if not name or any(c.isspace() or c in "/@?#" for c in name):
            raise ValueError(f"{name!r} is not a host name or address (or *)")
        if name.count(":") == 1 or (name.startswith("[") and not name.endswith("]")):
            raise ValueError(f"{name!r}: give the name without a port (any port is accepted)")
    return names


class HttpPolicy(_Model):
    """The status endpoint's limits (``run --http-port``)."""

    allowed_hosts: Annotated[tuple[str, ...], AfterValidator(_host_names)] = Field(
        default=(),
        description="Host names answered besides localhost, 127.0.0.1, [::1] and the bound address; * any",
    )
    timeout_seconds: float = Field(
        default=DEFAULT_TIMEOUT_SECONDS, gt=0, description="a connection's time to send its whole request"
    )
    max_connections: int = Field(
        default=DEFAULT_MAX_CONNECTIONS, ge=1, description="connections served at once; one more gets 503"
    )


class LeasePolicy(_Model):
    """Stacks shared between replicas through Kubernetes Leases (``run --shard-by-lease``)."""

    namespace: str = Field(default="driftless", min_length=1, description="where the Leases live")
    duration_seconds: int = Field(
        default=30, ge=5, description="a replica silent this long loses its stacks to the others"
    )
    renew_seconds: int = Field(default=10, ge=1, description="how often a replica renews its Leases")
    shared_file_backend: bool = Field(
        default=False,
        description="the file:// Pulumi backend is on one volume every replica mounts (else refused)",
    )

    @model_validator(mode="after")
    def _renewed_well_before_expiry(self) -> LeasePolicy:
        if self.renew_seconds * 2 > self.duration_seconds:
            raise ValueError("renewSeconds must be at most half of durationSeconds")
        return self


class DaemonSettings(_Model):
    """Everything ``driftless.yaml`` may set."""

    concurrency: int = Field(default=4, ge=1, description="operations running at once across stacks")
    max_failures: int = Field(default=5, ge=1, description="consecutive failures before a stack stalls")
    history: int = Field(default=20, ge=1, description="runs kept per stack in status")
    grace_period_seconds: float = Field(
        default=30, ge=0, description="on shutdown, how long in-flight operations may finish before cancel"
    )
    requeue_floor_seconds: int = Field(
        default=10,
        ge=1,
        description="the minimum interval between an up and the requeue up a component hint asks for; "
        "a hint of 0 means this soon",
    )
    operation_timeout_seconds: float | None = Field(
        default=None, gt=0, description="cancel an operation running longer than this (None: no limit)"
    )
    debounce_seconds: float = Field(
        default=1.6,
        ge=0,
        description="a stack file is read only once its size and mtime have not changed for this long",
    )
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    deletion_guard: DeletionGuard = Field(default_factory=DeletionGuard)
    backoff: BackoffPolicy = Field(default_factory=BackoffPolicy)
    sources: SourcesPolicy = Field(default_factory=SourcesPolicy)
    http: HttpPolicy = Field(default_factory=HttpPolicy)
    leases: LeasePolicy = Field(default_factory=LeasePolicy)
    stacks: dict[str, StackPolicy] = Field(default_factory=dict)

    def drift_for(self, stack: str) -> DriftPolicy:
        """The daemon-wide drift policy with the stack's overrides applied."""
        override = self.stacks.get(stack, StackPolicy()).drift
        updates = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.drift.model_copy(update=updates)

    def deletion_guard_for(self, stack: str) -> DeletionGuard:
        """The daemon-wide deletion guard with the stack's overrides applied."""
        override = self.stacks.get(stack, StackPolicy()).deletion_guard
        updates = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.deletion_guard.model_copy(update=updates)


class SettingsError(Exception):
    """``driftless.yaml`` is unreadable or invalid; the message lists every problem."""


def load_settings(path: Path | None) -> DaemonSettings:
    """Read ``driftless.yaml``; a missing file means all defaults."""
    if path is None or not path.exists():
        return DaemonSettings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        return DaemonSettings()
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: must be a mapping")
    try:
        return DaemonSettings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = "unknown field" if error["type"] == "extra_forbidden" else error["msg"]
            message = message.removeprefix("Value error, ")
            problems.append(f"{path}: {where}: {message}")
        raise SettingsError("\n".join(problems)) from exc
