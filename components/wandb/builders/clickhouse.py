"""ClickHouse: an Altinity ``ClickHouseInstallation`` of one shard × ``replicas`` replicas.

Write: one cluster, a pod template for the server image and resources, and a data volume claim
template whose ``reclaimPolicy`` keeps the claims (Retain) when the spec retains data, or lets the
operator delete them with the installation (Delete).

Replicas copy each other through a coordination service (ZooKeeper, or ClickHouse Keeper); without
one a ``Replicated*MergeTree`` table cannot even be created. So with ``replicas > 1`` the piece
also writes a ``ClickHouseKeeperInstallation`` of three Keeper nodes (a quorum that survives one
down) and points the installation's ``configuration.zookeeper`` at the Service the operator
creates for it, ``keeper-<name>``. One replica needs no Keeper and gets none.

Read/infer: the operator's ``status.status`` is ``InProgress`` while it reconciles (Pending),
``Completed`` when every host is reconciled (Healthy), ``Aborted`` when a reconcile failed, with
the reason in ``status.error`` (Error), and ``Terminating`` while being deleted (Unavailable).
``status.errors`` is a history and is not read: an old error on a Completed installation is not a
present problem. The Keeper installation reports the same way; the piece is the worse of the two.
"""

from __future__ import annotations

from typing import Any

from components.common.objects import resources_block, volume_claim_spec
from components.wandb.builders import Target, count, mapping, metadata, text
from components.wandb.spec import ClickHouseSpec
from components.wandb.status import PieceStatus, State

PIECE = "clickhouse"
API_VERSION = "clickhouse.altinity.com/v1"
KIND = "ClickHouseInstallation"
CLUSTER_NAME = "default"
POD_TEMPLATE = "clickhouse"
DATA_VOLUME_TEMPLATE = "data"

DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}}

KEEPER_API_VERSION = "clickhouse-keeper.altinity.com/v1"
KEEPER_KIND = "ClickHouseKeeperInstallation"
KEEPER_REPLICAS = 3
KEEPER_PORT = 2181  # the operator's default client port
KEEPER_IMAGE = "clickhouse/clickhouse-keeper:24.8"
KEEPER_STORAGE = "10Gi"
KEEPER_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def needs_keeper(spec: ClickHouseSpec) -> bool:
    """Replicas need a coordination service to replicate; a single server does not."""
    return spec.replicas > 1


def keeper_service(target: Target) -> str:
    """The client Service the Altinity operator creates for a Keeper installation: ``keeper-<name>``."""
    return f"keeper-{target.name}"


def build_keeper(spec: ClickHouseSpec, target: Target) -> dict[str, Any]:
    """The ``ClickHouseKeeperInstallation`` the replicas coordinate through (see the module docstring)."""
    return {
        "apiVersion": KEEPER_API_VERSION,
        "kind": KEEPER_KIND,
        "metadata": metadata(target, PIECE, labels_extra={"app.kubernetes.io/component": "keeper"}),
        "spec": {
            "defaults": {
                "templates": {"podTemplate": POD_TEMPLATE, "dataVolumeClaimTemplate": DATA_VOLUME_TEMPLATE}
            },
            "configuration": {
                "clusters": [{"name": CLUSTER_NAME, "layout": {"replicasCount": KEEPER_REPLICAS}}]
            },
            "templates": {
                "podTemplates": [
                    {
                        "name": POD_TEMPLATE,
                        "spec": {
                            "containers": [
                                {
                                    "name": "clickhouse-keeper",
                                    "image": KEEPER_IMAGE,
                                    "resources": KEEPER_RESOURCES,
                                }
                            ]
                        },
                    }
                ],
                "volumeClaimTemplates": [
                    {
                        "name": DATA_VOLUME_TEMPLATE,
                        "reclaimPolicy": "Retain" if target.retain else "Delete",
                        "spec": volume_claim_spec(KEEPER_STORAGE, spec.storage_class),
                    }
                ],
            },
        },
    }


def build_installation(spec: ClickHouseSpec, target: Target) -> dict[str, Any]:
    """The ``ClickHouseInstallation``; with replicas, pointed at the Keeper of :func:`build_keeper`."""
    configuration: dict[str, Any] = {
        "clusters": [{"name": CLUSTER_NAME, "layout": {"shardsCount": 1, "replicasCount": spec.replicas}}]
    }
    if needs_keeper(spec):
        configuration["zookeeper"] = {"nodes": [{"host": keeper_service(target), "port": KEEPER_PORT}]}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": metadata(target, PIECE),
        "spec": {
            "defaults": {
                "templates": {"podTemplate": POD_TEMPLATE, "dataVolumeClaimTemplate": DATA_VOLUME_TEMPLATE}
            },
            "configuration": configuration,
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
    return _infer(status, "installation")


def infer_clickhouse_with_keeper(status: Any, keeper_status: Any) -> PieceStatus:
    """The piece's state when it has a Keeper: the worse of the installation's and the Keeper's."""
    installation = _infer(status, "installation")
    keeper = _infer(keeper_status, "keeper installation")
    if keeper.state.severity > installation.state.severity:
        return PieceStatus(keeper.state, f"keeper: {keeper.message}")
    return installation


def _infer(status: Any, what: str) -> PieceStatus:
    found = mapping(status)
    phase = text(found.get("status"))
    hosts = count(found.get("hosts"))
    if not phase:
        return PieceStatus(State.PENDING, f"the Altinity operator has not reported on the {what} yet")
    if phase == "Completed":
        return PieceStatus(
            State.HEALTHY, f"{what} completed" + (f" ({hosts} host(s))" if hosts is not None else "")
        )
    if phase == "InProgress":
        action = text(found.get("action"))
        return PieceStatus(State.PENDING, "reconciling" + (f": {action}" if action else ""))
    if phase == "Aborted":
        return PieceStatus(State.ERROR, "reconcile aborted" + _latest_error(found))
    if phase == "Terminating":
        return PieceStatus(State.UNAVAILABLE, f"{what} is being deleted")
    return PieceStatus(State.PENDING, f"unrecognised {what} status {phase!r}")


def _latest_error(found: Any) -> str:
    error = text(found.get("error"))
    return f": {error}" if error else ""
