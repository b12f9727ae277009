"""Whether an environment serves: its Deployment rolled out and available, its Certificate issued.

The component writes each environment's Deployment and cert-manager Certificate, then reads both
back on every run; these functions turn what the read returned (``{metadata, status}``) into a
kstatus-like verdict: ``ready`` ("True", "False" or "Unknown"), a CamelCase reason and a message.
"Unknown" means the object's controller has not reported on what was just written (no status
yet, or a status about an older generation); "False" means it has, and says no.

A Deployment is ready when its controller has observed the current generation, its ``Available``
condition is True and every desired replica is updated, ready and available with no old replica
left (what ``kubectl rollout status`` waits for). A Certificate is ready when its ``Ready``
condition is True for its current generation.

Pure functions; the provider's typed outputs (snake_case keys) and plain API objects (camelCase)
read the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.common.health import FALSE, TRUE, UNKNOWN
from components.common.objects import normalize

DEPLOYMENT_NOT_OBSERVED = "DeploymentNotObserved"
DEPLOYMENT_STALLED = "DeploymentStalled"
DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
DEPLOYMENT_ROLLING_OUT = "DeploymentRollingOut"
DEPLOYMENT_AVAILABLE = "DeploymentAvailable"
CERTIFICATE_NOT_ISSUED = "CertificateNotIssued"
CERTIFICATE_NOT_READY = "CertificateNotReady"
CERTIFICATE_READY = "CertificateReady"
ENVIRONMENT_READY = "EnvironmentReady"


@dataclass(frozen=True)
class Readiness:
    """A verdict on one object or one environment."""

    ready: str  # TRUE | FALSE | UNKNOWN
    reason: str
    message: str

    @property
    def is_ready(self) -> bool:
        return self.ready == TRUE

    def to_json(self) -> dict[str, str]:
        return {"ready": self.ready, "reason": self.reason, "message": self.message}


def deployment_readiness(live: Mapping[str, Any] | None, desired: int) -> Readiness:
    """A Deployment's verdict from its live ``{metadata, status}``, for ``desired`` replicas."""
    metadata, status = _parts(live)
    generation = _number(metadata.get("generation"))
    observed = _number(status.get("observedGeneration"))
    if observed is None or (generation is not None and observed < generation):
        return Readiness(
            UNKNOWN,
            DEPLOYMENT_NOT_OBSERVED,
            "the Deployment controller has not observed the Deployment as last written yet",
        )
    conditions = _conditions(status)
    ready_replicas = _count(status, "readyReplicas")
    counts = f"{ready_replicas}/{desired} replicas ready"
    stalled = _stall(conditions.values())
    if stalled is not None:
        return Readiness(FALSE, DEPLOYMENT_STALLED, f"Deployment {stalled} ({counts})")
    available = conditions.get("Available")
    if available is None or available.get("status") != TRUE:
        detail = _text(available) or "no Available condition"
        return Readiness(FALSE, DEPLOYMENT_UNAVAILABLE, f"Deployment unavailable: {detail} ({counts})")
    updated, total = _count(status, "updatedReplicas"), _count(status, "replicas")
    available_replicas = _count(status, "availableReplicas")
    if updated < desired or total > updated or available_replicas < desired or ready_replicas < desired:
        return Readiness(
            FALSE,
            DEPLOYMENT_ROLLING_OUT,
            f"Deployment rolling out: {updated}/{desired} replicas updated, {available_replicas}/{desired} "
            f"available, {max(total - updated, 0)} old replica(s) left",
        )
    return Readiness(TRUE, DEPLOYMENT_AVAILABLE, f"Deployment available ({counts})")


def certificate_readiness(live: Mapping[str, Any] | None, name: str) -> Readiness:
    """A cert-manager Certificate's verdict from its live ``{metadata, status}``."""
    metadata, status = _parts(live)
    conditions = _conditions(status)
    ready = conditions.get("Ready")
    if ready is None:
        issuing = conditions.get("Issuing")
        detail = f": {_text(issuing)}" if issuing is not None and _text(issuing) else ""
        return Readiness(
            UNKNOWN,
            CERTIFICATE_NOT_ISSUED,
            f"Certificate {name!r} not issued yet, no status from cert-manager{detail}",
        )
    generation = _number(metadata.get("generation"))
    observed = _number(ready.get("observedGeneration"))
    if generation is not None and observed is not None and observed < generation:
        return Readiness(
            UNKNOWN,
            CERTIFICATE_NOT_READY,
            f"Certificate {name!r}: cert-manager has not judged its current spec yet "
            f"(Ready is about generation {observed} of {generation})",
        )
    detail = _text(ready)
    if ready.get("status") == TRUE:
        expiry = status.get("notAfter")
        until = f", valid until {expiry}" if expiry else ""
        return Readiness(TRUE, CERTIFICATE_READY, f"Certificate {name!r} issued{until}")
    verdict = FALSE if ready.get("status") == FALSE else UNKNOWN
    return Readiness(
        verdict, CERTIFICATE_NOT_READY, f"Certificate {name!r} not ready: {detail or 'no reason given'}"
    )


def environment_readiness(deployment: Readiness, certificate: Readiness) -> Readiness:
    """Ready when both are; otherwise the first problem's reason and every problem's message."""
    problems = [r for r in (deployment, certificate) if not r.is_ready]
    if not problems:
        return Readiness(TRUE, ENVIRONMENT_READY, f"{deployment.message}; {certificate.message}")
    verdict = FALSE if any(p.ready == FALSE for p in problems) else UNKNOWN
    return Readiness(verdict, problems[0].reason, "; ".join(p.message for p in problems))


def _parts(live: Mapping[str, Any] | None) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    plain = normalize(live) if isinstance(live, Mapping) else {}
    metadata, status = plain.get("metadata"), plain.get("status")
    return (
        metadata if isinstance(metadata, Mapping) else {},
        status if isinstance(status, Mapping) else {},
    )


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    found = status.get("conditions")
    items = found if isinstance(found, list) else []
    return {str(c["type"]): c for c in items if isinstance(c, Mapping) and "type" in c}


def _stall(conditions: Iterable[Mapping[str, Any]]) -> str | None:
    """What stopped a rollout for good: a passed progress deadline or a replica failure."""
    for condition in conditions:
        kind, state, reason = condition.get("type"), condition.get("status"), condition.get("reason")
        if kind == "Progressing" and state == FALSE and reason == "ProgressDeadlineExceeded":
            return f"progress deadline exceeded: {_text(condition) or reason}"
        if kind == "ReplicaFailure" and state == TRUE:
            return f"replica failure: {_text(condition) or 'no reason given'}"
    return None


def _text(condition: Mapping[str, Any] | None) -> str:
    if condition is None:
        return ""
    return str(condition.get("message") or condition.get("reason") or "").strip().rstrip(".")


def _number(value: Any) -> int | None:
    # protobuf hands numbers over as floats
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _count(status: Mapping[str, Any], key: str) -> int:
    # Kubernetes omits zero counts
    return _number(status.get(key)) or 0
