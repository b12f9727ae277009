"""Status inference: live workload status in, the WazuhCluster's phase and requeue hint out.

Pure functions over the ``status`` blocks Kubernetes reports for StatefulSets and Deployments (the
component reads each workload back on every run and passes its live ``status`` here). The
seed's reconciler set the same things at the end of each pass: a phase (Pending, Creating,
Running, Failed), ``{replicas, readyReplicas, phase}`` per component, and when to look again.

Requeue hints (the seed's table), read by the daemon from ``requeueAfterSeconds``:

- a certificate is due for renewal (the tls provider reports ``ready_for_renewal``, see
  ``certificates.py``): 0, run ``up`` again now so the renewal happens;
- every component Running: 30 s;
- a component Pending or Creating: 10 s, to follow the rollout;
- a component Failed: 30 s; retrying faster cannot fix a failed rollout, a spec change can.

The Job loading rotated indexer users (``builders.indexer_users``) is read back too and shows as
``indexerUsers``: ``Loaded`` once it succeeded, ``Failed`` with the Job's reason when Kubernetes
gave up on it (which fails the cluster: the managers and the dashboard cannot log in to the
indexer with passwords it does not know), ``Loading`` until then (10 s).

What status cannot show: a StatefulSet reports no failure condition, so a crash-looping indexer
stays Creating (never Running) rather than Failed; only a Deployment's ``ProgressDeadlineExceeded``
or any ``ReplicaFailure`` condition makes a component Failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.common.health import from_condition
from components.common.objects import normalize

PENDING = "Pending"
CREATING = "Creating"
RUNNING = "Running"
FAILED = "Failed"

REQUEUE_RUNNING = 30
REQUEUE_NOT_READY = 10
REQUEUE_FAILED = 30
REQUEUE_RENEWAL = 0


@dataclass(frozen=True)
class ComponentStatus:
    """One workload as the seed's ComponentStatus: desired and ready replicas, and a phase."""

    replicas: int
    ready_replicas: int
    phase: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "readyReplicas": self.ready_replicas, "phase": self.phase}


def _int(status: Mapping[str, Any], key: str) -> int:
    # Kubernetes omits zero counts; protobuf hands numbers over as floats.
    value = status.get(key)
    return int(value) if isinstance(value, int | float) else 0


def _failure(conditions: Iterable[Mapping[str, Any]]) -> str | None:
    for condition in conditions:
        kind, state, reason = condition.get("type"), condition.get("status"), condition.get("reason")
        if kind == "Progressing" and state == "False" and reason == "ProgressDeadlineExceeded":
            return str(condition.get("message") or "progress deadline exceeded")
        if kind == "ReplicaFailure" and state == "True":
            return str(condition.get("message") or reason or "replica failure")
    return None


def infer_component(
    desired: int, status: Mapping[str, Any] | None, generation: int | None = None
) -> ComponentStatus:
    """The phase of one StatefulSet or Deployment from its ``status`` block.

    ``desired`` is the replica count we asked for; ``generation`` the object's
    ``metadata.generation`` when known, so a status the controller wrote for an older spec is not
    taken for the current one.
    """
    status = normalize(status or {})
    ready = _int(status, "readyReplicas")
    if not status:
        return ComponentStatus(desired, 0, PENDING, "not observed yet")
    failure = _failure(status.get("conditions") or [])
    if failure is not None:
        return ComponentStatus(desired, ready, FAILED, failure)
    observed = status.get("observedGeneration")
    if generation is not None and isinstance(observed, int | float) and observed < generation:
        return ComponentStatus(desired, ready, CREATING, "controller has not observed the latest spec")
    current, updated = _int(status, "replicas"), _int(status, "updatedReplicas")
    if current == 0 and ready == 0:
        return ComponentStatus(desired, 0, PENDING, "no pods created yet")
    rolling = (
        status.get("currentRevision") is not None
        and status.get("updateRevision") is not None
        and status["currentRevision"] != status["updateRevision"]
    )
    if ready >= desired and updated >= desired and not rolling and _int(status, "unavailableReplicas") == 0:
        return ComponentStatus(desired, ready, RUNNING, f"{ready}/{desired} ready")
    return ComponentStatus(desired, ready, CREATING, f"{ready}/{desired} ready, {updated} updated")


LOADED = "Loaded"
LOADING = "Loading"


@dataclass(frozen=True)
class UsersJobStatus:
    """The Job loading the indexer users: its name, and whether it loaded them."""

    job: str
    phase: str  # LOADING, LOADED or FAILED
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job, "phase": self.phase, "message": self.message}


def infer_users_job(job: str, status: Mapping[str, Any] | None) -> UsersJobStatus:
    """The phase of the users Job from its live ``status`` (conditions Complete and Failed)."""
    status = normalize(status or {})
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            return UsersJobStatus(job, LOADED, "indexer users loaded")
        if condition.get("type") == "Failed":
            detail = condition.get("message") or condition.get("reason") or "the Job failed"
            return UsersJobStatus(job, FAILED, f"loading the indexer users failed: {detail}")
    if _int(status, "succeeded") > 0:
        return UsersJobStatus(job, LOADED, "indexer users loaded")
    failed = _int(status, "failed")
    tries = f", {failed} failed attempt(s) so far" if failed else ""
    return UsersJobStatus(job, LOADING, f"loading the indexer users{tries}")


def cluster_phase(components: Mapping[str, ComponentStatus]) -> str:
    """Failed if any component failed, Running if all run, Pending if none has started."""
    phases = [c.phase for c in components.values()]
    if FAILED in phases:
        return FAILED
    if phases and all(p == RUNNING for p in phases):
        return RUNNING
    if all(p == PENDING for p in phases):
        return PENDING
    return CREATING


def requeue_after(phase: str, renewal_due: bool) -> int:
    """Seconds until the daemon should look again (see the module docstring)."""
    if renewal_due:
        return REQUEUE_RENEWAL
    if phase == RUNNING:
        return REQUEUE_RUNNING
    if phase == FAILED:
        return REQUEUE_FAILED
    return REQUEUE_NOT_READY


def earliest(times: Iterable[str | None]) -> str | None:
    """The earliest of some RFC 3339 timestamps (unknown ones skipped)."""
    parsed = []
    for text in times:
        if not text:
            continue
        try:
            parsed.append((datetime.fromisoformat(text.replace("Z", "+00:00")), text))
        except ValueError:
            continue
    return min(parsed)[1] if parsed else None


def cluster_status(
    components: Mapping[str, ComponentStatus],
    renewal_flags: Iterable[bool | None] = (),
    expiry_times: Iterable[str | None] = (),
    users: UsersJobStatus | None = None,
) -> dict[str, Any]:
    """The WazuhCluster status output: phase, per-component status, certificates, the indexer
    users' loading, requeue hint."""
    phase = cluster_phase(components)
    renewal_due = any(bool(flag) for flag in renewal_flags)
    not_ready = [f"{name}: {c.message}" for name, c in components.items() if c.phase != RUNNING]
    reason = {RUNNING: "AllComponentsReady", FAILED: "ComponentFailed"}.get(phase, "Progressing")
    if users is not None and users.phase != LOADED:
        not_ready.append(f"indexerUsers: {users.message}")
        if users.phase == FAILED and phase != FAILED:
            phase, reason = FAILED, "IndexerUsersFailed"
        elif phase == RUNNING:
            phase, reason = CREATING, "Progressing"
    message = "; ".join(not_ready) if not_ready else "all components ready"
    ready = {
        "type": "Ready",
        "status": "True" if phase == RUNNING else "False",
        "reason": reason,
        "message": message,
    }
    result = {
        **from_condition(ready),
        "phase": phase,
        "components": {name: c.to_dict() for name, c in components.items()},
        "conditions": [ready],
        "certificates": {"renewalDue": renewal_due, "notAfter": earliest(expiry_times)},
        "requeueAfterSeconds": requeue_after(phase, renewal_due),
    }
    if users is not None:
        result["indexerUsers"] = users.to_dict()
    return result
