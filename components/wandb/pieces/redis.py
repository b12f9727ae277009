"""Redis: an Opstree standalone ``Redis``.

Write: one Redis with a persistent volume; ``storage.keepAfterDelete`` tells the operator to keep
the claim when the Redis is deleted, exactly when the spec retains data.

Read/infer, and what the operator offers: "ready by running pods" is the signal. The Opstree
operator runs exactly that check itself and, in current releases, reports it on the Redis as
``status.state`` (``Initializing`` while the StatefulSet and pod come up, ``Ready`` once the pod is
running and ready, ``Failed`` when it is not) with ``status.reason``. That is what is read here,
from the Redis's own outputs. Releases up to the v0.26 CRD snapshot in ``schemas/crds`` declare an
empty ``status``: there the operator reports nothing, the piece stays Pending and says why.

Reading the operator's StatefulSet or pods directly was ruled out: ``StatefulSet.get`` fails the
whole ``up`` while the operator has not created them yet (always, on the first run).
"""

from __future__ import annotations

from typing import Any

from components.wandb.pieces import Target, mapping, metadata, resources_block, text, volume_claim_spec
from components.wandb.spec import RedisSpec
from components.wandb.status import PieceStatus, State

PIECE = "redis"
API_VERSION = "redis.redis.opstreelabs.in/v1beta2"
KIND = "Redis"

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


def infer_redis(status: Any) -> PieceStatus:
    """The Redis piece's state from the Redis's live ``status``."""
    found = mapping(status)
    state = text(found.get("state"))
    reason = text(found.get("reason"))
    if state == "Ready":
        return PieceStatus(State.HEALTHY, reason or "Redis is ready")
    if state in ("Initializing", "Bootstrap"):
        return PieceStatus(State.PENDING, reason or "Redis is initializing")
    if state == "Failed":
        return PieceStatus(State.UNAVAILABLE, reason or "Redis pod is not ready")
    if state:
        return PieceStatus(State.PENDING, f"unrecognised Redis state {state!r}")
    return PieceStatus(
        State.PENDING,
        "the Opstree operator has not reported a state for this Redis "
        "(releases before Redis status.state report none; readiness is its running-pod check)",
    )
