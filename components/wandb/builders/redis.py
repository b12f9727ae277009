"""Redis: an Opstree standalone ``Redis``.

Write: one Redis with a persistent volume; ``storage.keepAfterDelete`` tells the operator to keep
the claim when the Redis is deleted, exactly when the spec retains data.

Read/infer: "ready by running pods" is the signal. The Opstree operator runs exactly that check
itself and, in current releases, reports it on the Redis as ``status.state`` (``Initializing``
while the StatefulSet and pod come up, ``Ready`` once the pod is running and ready, ``Failed``
when it is not) with ``status.reason``. When the Redis carries a state, that is the answer
(source ``Redis status``).

Releases up to the v0.26 CRD snapshot in ``schemas/crds`` write no Redis status at all. Then the
same check is made here on the StatefulSet the operator runs the Redis in (named after the Redis,
in its namespace): ready once ``readyReplicas`` reaches the desired replicas (source
``StatefulSet``). Reading an object that does not exist fails the whole ``up``, and the operator
creates the StatefulSet only when it reconciles the Redis, usually after the ``up`` that created
the Redis has read it back. So the StatefulSet is read only once the operator has put its
finalizer on the Redis, which it does in the same reconcile, just before creating the StatefulSet.
Until then the piece is Pending and says the operator has not picked the Redis up.
"""

from __future__ import annotations

from typing import Any

from components.common.objects import resources_block, volume_claim_spec
from components.wandb.builders import Target, mapping, metadata, text
from components.wandb.spec import RedisSpec
from components.wandb.status import PieceStatus, State

PIECE = "redis"
API_VERSION = "redis.redis.opstreelabs.in/v1beta2"
KIND = "Redis"

# Put on every Redis the operator reconciles, before it creates the Redis's StatefulSet.
OPERATOR_FINALIZER = "redisFinalizer"

FROM_REDIS_STATUS = "Redis status"
FROM_STATEFULSET = "StatefulSet"

DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


def build_redis(spec: RedisSpec, target: Target) -> dict[str, Any]:
    """The standalone ``Redis``."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(target, PIECE),
        "spec": {
            "kubernetesConfig": {
                "image": spec.image,
                "imagePullPolicy": "IfNotPresent",
                "resources": resources_block(spec.resources, DEFAULT_RESOURCES),
            },
            "storage": {
                "keepAfterDelete": target.retain,
                "volumeClaimTemplate": {"spec": volume_claim_spec(spec.storage, spec.storage_class)},
            },
        },
    }


def reports_state(status: Any) -> bool:
    """Whether the operator wrote a ``status.state`` on the Redis (releases after the CRD snapshot)."""
    return bool(text(mapping(status).get("state")))


def operator_has_reconciled(live_metadata: Any) -> bool:
    """Whether the operator has picked this Redis up, and so created (or is creating) its StatefulSet."""
    finalizers = mapping(live_metadata).get("finalizers")
    return isinstance(finalizers, list) and OPERATOR_FINALIZER in finalizers


def infer_redis(status: Any) -> PieceStatus:
    """The Redis piece's state from the Redis's live ``status``."""
    found = mapping(status)
    state = text(found.get("state"))
    reason = text(found.get("reason"))
    if state == "Ready":
        return PieceStatus(State.HEALTHY, reason or "Redis is ready", FROM_REDIS_STATUS)
    if state in ("Initializing", "Bootstrap"):
        return PieceStatus(State.PENDING, reason or "Redis is initializing", FROM_REDIS_STATUS)
    if state == "Failed":
        return PieceStatus(State.UNAVAILABLE, reason or "Redis pod is not ready", FROM_REDIS_STATUS)
    if state:
        return PieceStatus(State.PENDING, f"unrecognised Redis state {state!r}", FROM_REDIS_STATUS)
    return PieceStatus(
        State.PENDING,
        "the Opstree operator has not picked this Redis up yet (no status, no redisFinalizer on it)",
    )


def infer_redis_from_statefulset(name: str, replicas: Any, ready_replicas: Any) -> PieceStatus:
    """The Redis piece's state from its StatefulSet's ``spec.replicas`` and ``status.readyReplicas``."""
    desired = replicas if isinstance(replicas, int) else 1  # Kubernetes' default
    ready = ready_replicas if isinstance(ready_replicas, int) else 0
    counts = f"StatefulSet {name}: {ready}/{desired} pod(s) ready"
    if desired > 0 and ready >= desired:
        return PieceStatus(State.HEALTHY, counts, FROM_STATEFULSET)
    return PieceStatus(State.PENDING, counts + " (the operator reports no Redis status)", FROM_STATEFULSET)
