"""Kafka piece: the Strimzi bodies, and the state read from Strimzi's status payloads."""

from __future__ import annotations

import pytest

from components.wandb.builders import Target
from components.wandb.builders.kafka import build_kafka, build_node_pool, infer_kafka
from components.wandb.spec import KafkaSpec
from components.wandb.status import State
from tests.components.wandb import payloads

TARGET = Target(name="wandb", namespace="ml", retain=True)


@pytest.mark.parametrize(
    ("kafka", "pool", "state", "in_message"),
    [
        (payloads.KAFKA_READY, payloads.KAFKA_POOL_READY, State.HEALTHY, "ready (Kafka 4.1.0)"),
        (
            payloads.KAFKA_READY_WITH_WARNING,
            payloads.KAFKA_POOL_READY,
            State.HEALTHY,
            "KafkaStorage: The storage size",
        ),
        (
            payloads.KAFKA_CREATING,
            payloads.KAFKA_POOL_READY,
            State.PENDING,
            "Creating: Kafka cluster is being deployed",
        ),
        (
            payloads.KAFKA_FAILED,
            None,
            State.ERROR,
            "UnsupportedKafkaVersionException: Unsupported Kafka.spec.kafka.version",
        ),
        (
            payloads.KAFKA_NOT_SERVING,
            payloads.KAFKA_POOL_READY,
            State.UNAVAILABLE,
            "TimeoutException: Brokers did not roll",
        ),
        (
            payloads.KAFKA_CREATING,
            payloads.KAFKA_POOL_FAILED,
            State.ERROR,
            "node pool: InvalidResourceException",
        ),
        ({"observedGeneration": 1}, None, State.PENDING, "not reported"),
        ({}, None, State.PENDING, "not reported"),
        (None, None, State.PENDING, "not reported"),
    ],
)
def test_state_from_strimzi_status(kafka, pool, state, in_message):
    inferred = infer_kafka(kafka, pool)
    assert inferred.state is state
    assert in_message in inferred.message


def test_the_kafka_runs_kraft_on_node_pools_with_internal_listeners():
    body = build_kafka(KafkaSpec(), TARGET)
    assert body["metadata"]["annotations"]["strimzi.io/node-pools"] == "enabled"
    assert body["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    listeners = {(entry["port"], entry["type"], entry["tls"]) for entry in body["spec"]["kafka"]["listeners"]}
    assert listeners == {(9092, "internal", False), (9093, "internal", True)}


@pytest.mark.parametrize(("replicas", "factor", "in_sync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (6, 3, 2)])
def test_replication_settings_are_sized_from_the_brokers(replicas: int, factor: int, in_sync: int):
    config = build_kafka(KafkaSpec(replicas=replicas), TARGET)["spec"]["kafka"]["config"]
    assert config == {
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": in_sync,
        "default.replication.factor": factor,
        "min.insync.replicas": in_sync,
    }


def test_the_node_pool_belongs_to_the_cluster_and_holds_every_node():
    pool = build_node_pool(KafkaSpec(replicas=5, storage="50Gi", storage_class="fast"), TARGET)
    assert (
        pool["metadata"]["labels"]["strimzi.io/cluster"]
        == build_kafka(KafkaSpec(), TARGET)["metadata"]["name"]
    )
    assert pool["spec"]["replicas"] == 5
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
    assert pool["spec"]["storage"]["type"] == "jbod"
    (volume,) = pool["spec"]["storage"]["volumes"]
    assert (volume["type"], volume["size"], volume["class"]) == ("persistent-claim", "50Gi", "fast")


@pytest.mark.parametrize("retain", [True, False])
def test_claims_are_deleted_with_the_pool_only_when_data_is_not_retained(retain: bool):
    pool = build_node_pool(KafkaSpec(), Target("wandb", "ml", retain=retain))
    assert pool["spec"]["storage"]["volumes"][0]["deleteClaim"] is (not retain)
