"""MinIO: a ``Tenant`` with one pool of ``servers`` × ``volumesPerServer`` volumes.

Write: the Tenant and the configuration it cannot start without: ``spec.configuration`` names a
Secret whose ``config.env`` exports the root credentials (the password is generated and kept a
Pulumi secret by the component). TLS auto-certificates are off: like Kafka's plain listener and
Redis, the store is reached inside the cluster.

Read/infer: the operator's health monitor reports ``status.healthStatus``: green (every drive
online) is Healthy, yellow (write quorum but drives offline) Degraded, red (no quorum)
Unavailable. Before the first health check only ``status.currentState`` says where provisioning
is (Pending), unless it names a condition the operator cannot get past on its own (Error).

Finalize: the MinIO operator never deletes a Tenant's volume claims. When data is not retained the
claims go with the namespace (if this stack created it); a piece removed on its own leaves them.
"""

from __future__ import annotations

from typing import Any

from components.common.objects import resources_block, volume_claim_spec
from components.wandb.builders import Target, count, mapping, metadata, text
from components.wandb.spec import MinIOSpec
from components.wandb.status import PieceStatus, State

PIECE = "minio"
API_VERSION = "minio.min.io/v2"
KIND = "Tenant"
POOL_NAME = "pool-0"
ROOT_USER = "wandb-admin"
CONFIG_KEY = "config.env"

DEFAULT_RESOURCES = {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}}

# currentState values that wait for a person, not for time (operator pkg/controller constants).
_STUCK_STATES = (
    "Statefulset not controlled by operator",
    "Another MinIO Tenant already exists in the namespace",
    "Different versions across MinIO Pools",
    "Different versions across MinIO Zones",
    "Pool Decommissioning Not Allowed",
    "Tenant credentials are not set properly",
    "Please set the credentials",
)


def config_secret_name(target: Target) -> str:
    return f"{target.name}-minio-env"


def config_env(root_user: str, root_password: str) -> str:
    """The ``config.env`` the MinIO operator sources into the server pods."""
    return f'export MINIO_ROOT_USER="{root_user}"\nexport MINIO_ROOT_PASSWORD="{root_password}"\n'


def build_config_secret_metadata(target: Target) -> dict[str, Any]:
    """Metadata of the configuration Secret (its data is a secret Output, set by the component)."""
    return metadata(target, PIECE, name=config_secret_name(target))


def build_tenant(spec: MinIOSpec, target: Target) -> dict[str, Any]:
    """The ``Tenant``."""
    pool: dict[str, Any] = {
        "name": POOL_NAME,
        "servers": spec.servers,
        "volumesPerServer": spec.volumes_per_server,
        "volumeClaimTemplate": {
            "metadata": {"name": "data"},
            "spec": volume_claim_spec(spec.storage, spec.storage_class),
        },
        "resources": resources_block(spec.resources, DEFAULT_RESOURCES),
    }
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(target, PIECE),
        "spec": {
            "image": spec.image,
            "configuration": {"name": config_secret_name(target)},
            "requestAutoCert": False,
            "pools": [pool],
        },
    }


def infer_minio(status: Any) -> PieceStatus:
    """The MinIO piece's state from the Tenant's live ``status``."""
    found = mapping(status)
    health = text(found.get("healthStatus")).lower()
    state = text(found.get("currentState"))
    detail = text(found.get("healthMessage"))
    if not found:
        return PieceStatus(State.PENDING, "the MinIO operator has not reported on the tenant yet")
    if state.startswith(_STUCK_STATES):
        return PieceStatus(State.ERROR, state)
    drives = _drives(found)
    if health == "green":
        return PieceStatus(State.HEALTHY, "tenant is healthy" + drives)
    if health == "yellow":
        return PieceStatus(State.DEGRADED, (detail or "reduced redundancy: some drives are offline") + drives)
    if health == "red":
        return PieceStatus(State.UNAVAILABLE, (detail or "no quorum: the tenant cannot serve") + drives)
    if state == "Initialized":
        return PieceStatus(State.PENDING, "tenant initialized; waiting for the first health check")
    return PieceStatus(State.PENDING, state or "tenant is being provisioned")


def _drives(found: Any) -> str:
    online, offline = count(found.get("drivesOnline")), count(found.get("drivesOffline"))
    if online is None:
        return ""
    return f" ({online} drive(s) online, {offline or 0} offline)"
