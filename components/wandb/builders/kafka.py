"""Kafka: a Strimzi ``Kafka`` in KRaft mode plus the ``KafkaNodePool`` that holds its nodes.

Write: the Kafka carries the node-pool and KRaft annotations, two internal listeners (plain 9092,
TLS 9093) and the replication settings sized from the spec; the single node pool runs every node
as controller and broker with one persistent-claim volume in a JBOD, whose claim Strimzi deletes
with the pool only when the spec does not retain data.

Read/infer: Strimzi reports on ``status.conditions``. ``Ready=True`` is Healthy; ``NotReady`` with
reason ``Creating`` is a cluster still being deployed (Pending); any other ``NotReady`` reason is
the name of the exception that stopped the reconcile (``InvalidResourceException``,
``UnsupportedKafkaVersionException``...) and needs a person (Error); ``Ready=False`` means the
cluster is not serving (Unavailable). The node pool's own ``NotReady`` is an error too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.common.objects import resources_block
from components.wandb.builders import Target, condition, conditions, describe, mapping, metadata, text
from components.wandb.spec import KafkaSpec
from components.wandb.status import PieceStatus, State

PIECE = "kafka"
API_VERSION = "kafka.strimzi.io/v1"
KAFKA_KIND = "Kafka"
NODE_POOL_KIND = "KafkaNodePool"
NODE_POOL_NAME = "kafka"  # pods are <document>-kafka-<n>

NODE_POOLS_ANNOTATION = "strimzi.io/node-pools"
KRAFT_ANNOTATION = "strimzi.io/kraft"
CLUSTER_LABEL = "strimzi.io/cluster"

PLAIN_PORT = 9092
TLS_PORT = 9093

DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "2Gi"}}


def replication_config(spec: KafkaSpec) -> dict[str, int]:
    """Broker settings for internal and default topics, sized from the spec."""
    factor = spec.effective_replication_factor
    in_sync = spec.effective_min_in_sync_replicas
    return {
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": in_sync,
        "default.replication.factor": factor,
        "min.insync.replicas": in_sync,
    }


def build_kafka(spec: KafkaSpec, target: Target) -> dict[str, Any]:
    """The Strimzi ``Kafka``: cluster-wide settings; its nodes come from the node pool."""
    return {
        "apiVersion": API_VERSION,
        "kind": KAFKA_KIND,
        "metadata": metadata(
            target,
            PIECE,
            annotations={NODE_POOLS_ANNOTATION: "enabled", KRAFT_ANNOTATION: "enabled"},
        ),
        "spec": {
            "kafka": {
                "version": spec.version,
                "listeners": [
                    {"name": "plain", "port": PLAIN_PORT, "type": "internal", "tls": False},
                    {"name": "tls", "port": TLS_PORT, "type": "internal", "tls": True},
                ],
                "config": replication_config(spec),
            },
        },
    }


def build_node_pool(spec: KafkaSpec, target: Target) -> dict[str, Any]:
    """The ``KafkaNodePool``: ``replicas`` dual-role nodes, one persistent volume each."""
    volume: dict[str, Any] = {
        "id": 0,
        "type": "persistent-claim",
        "size": spec.storage,
        # KRaft metadata lives on the same volume as the data.
        "kraftMetadata": "shared",
        # Strimzi deletes the claims with the pool only when we are not asked to keep data.
        "deleteClaim": not target.retain,
    }
    if spec.storage_class is not None:
        volume["class"] = spec.storage_class
    return {
        "apiVersion": API_VERSION,
        "kind": NODE_POOL_KIND,
        "metadata": metadata(target, PIECE, name=NODE_POOL_NAME, labels_extra={CLUSTER_LABEL: target.name}),
        "spec": {
            "replicas": spec.replicas,
            "roles": ["controller", "broker"],
            "storage": {"type": "jbod", "volumes": [volume]},
            "resources": resources_block(spec.resources, DEFAULT_RESOURCES),
        },
    }


def infer_kafka(kafka_status: Any, pool_status: Any = None) -> PieceStatus:
    """The Kafka piece's state from the Kafka's and the node pool's live ``status``."""
    kafka = mapping(kafka_status)
    pool = mapping(pool_status)

    pool_failure = condition(pool, "NotReady")
    if pool_failure is not None and pool_failure.get("status") == "True":
        return PieceStatus(State.ERROR, "node pool: " + _explain(pool_failure))

    if not conditions(kafka):
        return PieceStatus(State.PENDING, "Strimzi has not reported on the Kafka cluster yet")

    ready = condition(kafka, "Ready")
    if ready is not None and ready.get("status") == "True":
        return PieceStatus(State.HEALTHY, _ready_message(kafka))

    not_ready = condition(kafka, "NotReady")
    if not_ready is not None and not_ready.get("status") == "True":
        if text(not_ready.get("reason")) == "Creating":
            return PieceStatus(State.PENDING, _explain(not_ready) or "Kafka cluster is being deployed")
        return PieceStatus(State.ERROR, _explain(not_ready))

    if ready is not None and ready.get("status") == "False":
        return PieceStatus(State.UNAVAILABLE, _explain(ready) or "Kafka cluster is not ready")
    return PieceStatus(State.PENDING, "Kafka cluster has no Ready condition yet")


def _explain(found: Mapping[str, Any]) -> str:
    return describe(text(found.get("reason")), text(found.get("message")))


def _ready_message(kafka: Mapping[str, Any]) -> str:
    message = "Kafka cluster is ready"
    version = text(kafka.get("kafkaVersion"))
    if version:
        message += f" (Kafka {version})"
    warnings = [c for c in conditions(kafka) if c.get("type") == "Warning" and c.get("status") == "True"]
    if warnings:
        message += f"; {len(warnings)} warning(s), first: {_explain(warnings[0])}"
    return message
