"""Daemon settings and per-stack policy: ``driftless.yaml`` at the project root (optional).

```yaml
concurrency: 4                 # operations at once across stacks
maxFailures: 5                 # consecutive failures before a stack is Stalled
drift: {enabled: true, intervalSeconds: 600, remediate: false}
backoff: {baseSeconds: 10, factor: 3, capSeconds: 3600}
stacks:
  prod: {drift: {intervalSeconds: 300, remediate: true}}
```

Every field is optional. Unknown fields are errors, so a typo never silently changes behaviour;
errors name the file and the field, as stack files do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

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


class StackPolicy(_Model):
    drift: DriftOverride = Field(default_factory=DriftOverride)


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


class DaemonSettings(_Model):
    """Everything ``driftless.yaml`` may set."""

    concurrency: int = Field(default=4, ge=1, description="operations running at once across stacks")
    max_failures: int = Field(default=5, ge=1, description="consecutive failures before a stack stalls")
    history: int = Field(default=20, ge=1, description="runs kept per stack in status")
    grace_period_seconds: float = Field(
        default=30, ge=0, description="on shutdown, how long in-flight operations may finish before cancel"
    )
    requeue_floor_seconds: int = Field(
        default=60, ge=1, description="the earliest a requeue hint may ask for"
    )
    operation_timeout_seconds: float | None = Field(
        default=None, gt=0, description="cancel an operation running longer than this (None: no limit)"
    )
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    backoff: BackoffPolicy = Field(default_factory=BackoffPolicy)
    stacks: dict[str, StackPolicy] = Field(default_factory=dict)

    def drift_for(self, stack: str) -> DriftPolicy:
        """The daemon-wide drift policy with the stack's overrides applied."""
        override = self.stacks.get(stack, StackPolicy()).drift
        updates = {k: v for k, v in override.model_dump().items() if v is not None}
        return self.drift.model_copy(update=updates)


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
