"""ClickHouse: an Altinity ``ClickHouseInstallation`` of one shard × ``replicas`` replicas.

Write: one cluster, a pod template for the server image and resources, and a data volume claim
template whose ``reclaimPolicy`` keeps the claims (Retain) when the spec retains data, or lets the
operator delete them with the installation (Delete).

Read/infer: the operator's ``status.status`` is ``InProgress`` while it reconciles (Pending),
``Completed`` when every host is reconciled (Healthy), ``Aborted`` when a reconcile failed, with
the reason in ``status.error`` (Error), and ``Terminating`` while being deleted (Unavailable).
``status.errors`` is a history and is not read: an old error on a Completed installation is not a
present problem.
"""

from __future__ import annotations

from typing import Any

from components.wandb.pieces import Target, count, mapping, metadata, resources_block, text, volume_claim_spec
from components.wandb.spec import ClickHouseSpec
from components.wandb.status import PieceStatus, State

PIECE = "clickhouse"
API_VERSION = "clickhouse.altinity.com/v1"
KIND = "ClickHouseInstallation"
CLUSTER_NAME = "default"
POD_TEMPLATE = "clickhouse"
DATA_VOLUME_TEMPLATE = "data"

DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}


def build_installation(spec: ClickHouseSpec, target: Target) -> dict[str, Any]:
    """The ``ClickHouseInstallation``."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(target, PIECE),
        "spec": {
            "defaults": {
                "templates": {"podTemplate": POD_TEMPLATE, "dataVolumeClaimTemplate": DATA_VOLUME_TEMPLATE}
            },
            "configuration": {
                "clusters": [
                    {"name": CLUSTER_NAME, "layout": {"shardsCount": 1, "replicasCount": spec.replicas}}
                ]
            },
            "templates": {
                "podTemplates": [
                    {
                        "name": POD_TEMPLATE,
                        "spec": {
                            "containers": [
                                {
                                    "name": "clickhouse",
                                    "image": spec.image,
                                    "resources": resources_block(spec.resources, DEFAULT_RESOURCES),
                                }
                            ]
                        },
                    }
                ],
                "volumeClaimTemplates": [
                    {
                        "name": DATA_VOLUME_TEMPLATE,
                        "reclaimPolicy": "Retain" if target.retain else "Delete",
                        "spec": volume_claim_spec(spec.storage, spec.storage_class),
                    }
                ],
            },
        },
    }


def infer_clickhouse(status: Any) -> PieceStatus:
    """The ClickHouse piece's state from the installation's live ``status``."""
    found = mapping(status)
    phase = text(found.get("status"))
    hosts = count(found.get("hosts"))
    if not phase:
        return PieceStatus(State.PENDING, "the Altinity operator has not reported on the installation yet")
    if phase == "Completed":
        return PieceStatus(
            State.HEALTHY, "installation completed" + (f" ({hosts} host(s))" if hosts is not None else "")
        )
    if phase == "InProgress":
        action = text(found.get("action"))
        return PieceStatus(State.PENDING, "reconciling" + (f": {action}" if action else ""))
    if phase == "Aborted":
        return PieceStatus(State.ERROR, "reconcile aborted" + _latest_error(found))
    if phase == "Terminating":
        return PieceStatus(State.UNAVAILABLE, "installation is being deleted")
    return PieceStatus(State.PENDING, f"unrecognised installation status {phase!r}")


def _latest_error(found: Any) -> str:
    error = text(found.get("error"))
    return f": {error}" if error else ""
