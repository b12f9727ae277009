"""What a stack's components say of their own health, read from the stack outputs of an ``up``.

Every component exports its status as ``<Kind>/<name>``, and every status carries the same three
fields next to its domain ones: ``ready`` (``"True"``, ``"False"`` or ``"Unknown"``), ``reason``
and ``message``. Only those are read here, so the daemon judges health without knowing any kind.
A status the engine could not compute (a preview) or that lacks the fields counts as Unknown:
never as ready. Pure functions; :mod:`.transitions` turns the result into the stack's ``Ready``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel
from pydantic.dataclasses import dataclass

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"
READY_VALUES = (TRUE, FALSE, UNKNOWN)

OFFLINE = "Offline"
OFFLINE_MESSAGE = "dry-run: the offline render cannot read live status, so health is unknown"


def _ready_value(value: Any) -> str:
    return value if value in READY_VALUES else UNKNOWN


# camelCase in the stored status and in /stacks, like the status around them
_SHAPE = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


@dataclass(frozen=True, config=_SHAPE)
class ComponentHealth:
    """One document's component: its kind and name, and what its status says of its health."""

    kind: str
    name: str
    ready: Annotated[str, BeforeValidator(_ready_value)]  # True | False | Unknown
    reason: str
    message: str

    @property
    def subject(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True, config=_SHAPE)
class Preview:
    """A preview environment a component reports, with where it is served and until when."""

    component: str  # "<Kind>/<name>"
    slug: str
    branch: str
    url: str
    expires_at: str | None


def _subjects(outputs: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(kind, name, status)`` for every ``<Kind>/<name>`` output, in a stable order."""
    found = []
    for key in sorted(outputs):
        kind, slash, name = key.partition("/")
        if slash and kind and name:
            found.append((kind, name, outputs[key]))
    return found


def component_health(outputs: Mapping[str, Any], *, live: bool) -> list[ComponentHealth]:
    """Each component's health from the outputs of an ``up``; all Unknown when nothing was live."""
    return [_health_of(kind, name, status, live) for kind, name, status in _subjects(outputs)]


def _health_of(kind: str, name: str, status: Any, live: bool) -> ComponentHealth:
    if not live:
        return ComponentHealth(kind, name, UNKNOWN, OFFLINE, OFFLINE_MESSAGE)
    if not isinstance(status, Mapping):
        return ComponentHealth(kind, name, UNKNOWN, "StatusNotComputed", "the engine gave no status")
    if status.get("ready") not in READY_VALUES:
        return ComponentHealth(kind, name, UNKNOWN, "HealthNotReported", "the status carries no ready field")
    reason, message = str(status.get("reason", "")), str(status.get("message", ""))
    return ComponentHealth(kind, name, str(status["ready"]), reason, message)


VERIFIED, VERIFICATION_FAILED = "Verified", "VerificationFailed"


def checked(subject: str, passed: bool, message: str) -> ComponentHealth:
    """The daemon's own verification of a component, outside any ``up`` (a registry's credentials)."""
    kind, _, name = subject.partition("/")
    if passed:
        return ComponentHealth(kind, name, TRUE, VERIFIED, message)
    return ComponentHealth(kind, name, FALSE, VERIFICATION_FAILED, message)


def with_checks(components: list[ComponentHealth], checks: list[ComponentHealth]) -> list[ComponentHealth]:
    """The components as the last ``up`` reported them, each one the daemon's own check failed for
    in its place: a failed check holds the stack back however healthy the component says it is."""
    failed = {check.subject: check for check in checks if check.ready != TRUE}
    return [failed.get(component.subject, component) for component in components]


def not_ready(components: list[ComponentHealth]) -> list[ComponentHealth]:
    """The components holding a stack back: any not ready, except those only a dry run left unknown."""
    return [c for c in components if c.ready != TRUE and c.reason != OFFLINE]


def not_ready_message(components: list[ComponentHealth]) -> str:
    """``1 of 3 component(s) not ready: Kind/name (False, Reason): message; …``."""
    holding = not_ready(components)
    details = "; ".join(
        f"{c.subject} ({c.ready}, {c.reason})" + (f": {c.message}" if c.message else "") for c in holding
    )
    return f"{len(holding)} of {len(components)} component(s) not ready: {details}"


def previews(outputs: Mapping[str, Any]) -> list[Preview]:
    """Every preview any component reports under ``previews`` (``{slug: {branch, url, expiresAt}}``)."""
    found = []
    for kind, name, status in _subjects(outputs):
        reported = status.get("previews") if isinstance(status, Mapping) else None
        if not isinstance(reported, Mapping):
            continue
        for slug, preview in sorted(reported.items()):
            if isinstance(preview, Mapping):
                expires = preview.get("expiresAt")
                found.append(
                    Preview(
                        f"{kind}/{name}",
                        str(slug),
                        str(preview.get("branch", "")),
                        str(preview.get("url", "")),
                        str(expires) if expires else None,
                    )
                )
    return found
