"""The WandB spec: its documented defaults, and every bad input rejected with file, line and field."""

from __future__ import annotations

import textwrap

import pytest

from components.documents import StackFileError, load_stack_text
from components.registry import KindRegistry
from components.wandb import KINDS
from components.wandb.spec import WandBSpec

REGISTRY = KindRegistry(KINDS)


def load(text: str):
    return load_stack_text(textwrap.dedent(text).lstrip(), "stacks/prod.yaml", REGISTRY)


def errors_of(text: str) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load(text)
    return [str(error) for error in caught.value.errors]


def test_an_empty_spec_gets_the_sizes_spec_documents():
    (document,) = load(
        """
        kind: WandB
        metadata: {name: wandb}
        """
    )
    spec = document.spec
    assert isinstance(spec, WandBSpec)
    infra = spec.infra
    assert (infra.kafka.enabled, infra.kafka.replicas, infra.kafka.storage, infra.kafka.version) == (
        True,
        3,
        "20Gi",
        "4.2.0",
    )
    assert (infra.clickhouse.replicas, infra.clickhouse.storage) == (1, "20Gi")
    assert (infra.minio.servers, infra.minio.volumes_per_server, infra.minio.storage) == (4, 1, "20Gi")
    assert infra.redis.storage == "1Gi"
    assert (infra.mysql.replicas, infra.mysql.storage) == (3, "20Gi")
    assert spec.retain_on_delete is True
    assert document.namespace == "wandb"


def test_the_spec_example_loads_as_written():
    (document,) = load(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            kafka:      {enabled: true, replicas: 3, storage: 20Gi, version: "4.2.0"}
            clickhouse: {enabled: true, replicas: 1, storage: 20Gi}
            minio:      {enabled: true, servers: 4, volumesPerServer: 1, storage: 20Gi}
            redis:      {enabled: true, storage: 1Gi}
            mysql:      {enabled: true, replicas: 3, storage: 20Gi}
          retainOnDelete: true
        """
    )
    assert document.spec.infra.minio.volumes_per_server == 1


@pytest.mark.parametrize(
    ("piece", "field"),
    [("kafka", "replicas"), ("clickhouse", "replicas"), ("minio", "servers"), ("mysql", "replicas")],
)
def test_sizes_below_one_are_rejected_at_their_line(piece: str, field: str):
    errors = errors_of(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec:
          infra:
            {piece}:
              {field}: 0
        """
    )
    assert errors == [f"stacks/prod.yaml:6: WandB/wandb: spec.infra.{piece}.{field}: must be >= 1"]


def test_more_mysql_members_than_group_replication_holds_are_rejected():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            mysql: {replicas: 10}
        """
    )
    assert errors == ["stacks/prod.yaml:5: WandB/wandb: spec.infra.mysql.replicas: must be <= 9"]


def test_kafka_replicas_that_cannot_hold_the_replication_factor_are_rejected():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            kafka:
              replicationFactor: 3
              replicas: 2
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith(
        "stacks/prod.yaml:7: WandB/wandb: spec.infra.kafka.replicas: 2 broker(s) cannot hold"
    )
    assert "replicationFactor 3" in errors[0]


def test_min_in_sync_replicas_must_leave_room_for_one_broker_down():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            kafka: {replicas: 3, minInSyncReplicas: 3}
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith(
        "stacks/prod.yaml:5: WandB/wandb: spec.infra.kafka.minInSyncReplicas: must be <= 2 with replication factor 3"
    )


@pytest.mark.parametrize(
    ("replicas", "factor", "in_sync"),
    [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)],
)
def test_replication_defaults_follow_the_broker_count(replicas: int, factor: int, in_sync: int):
    (document,) = load(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec: {{infra: {{kafka: {{replicas: {replicas}}}}}}}
        """
    )
    kafka = document.spec.infra.kafka
    assert (kafka.effective_replication_factor, kafka.effective_min_in_sync_replicas) == (factor, in_sync)


def test_a_single_broker_may_require_its_only_copy_in_sync():
    (document,) = load(
        """
        kind: WandB
        metadata: {name: wandb}
        spec: {infra: {kafka: {replicas: 1, minInSyncReplicas: 1}}}
        """
    )
    assert document.spec.infra.kafka.effective_min_in_sync_replicas == 1


@pytest.mark.parametrize("size", ["20 Gi", "twenty", "20GB", "0Gi", "-5Gi"])
def test_malformed_or_empty_storage_is_rejected(size: str):
    errors = errors_of(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec:
          infra:
            redis:
              storage: "{size}"
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith("stacks/prod.yaml:6: WandB/wandb: spec.infra.redis.storage: ")
    assert repr(size) in errors[0]


def test_malformed_resource_quantities_are_rejected():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            clickhouse:
              resources: {requests: {memory: lots}}
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith(
        "stacks/prod.yaml:6: WandB/wandb: spec.infra.clickhouse.resources.requests.memory: 'lots' is not"
    )


def test_unknown_pieces_and_fields_are_rejected():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            postgres: {enabled: true}
            kafka: {replica: 3}
        """
    )
    assert errors == [
        "stacks/prod.yaml:5: WandB/wandb: spec.infra.postgres: unknown field",
        "stacks/prod.yaml:6: WandB/wandb: spec.infra.kafka.replica: unknown field",
    ]


@pytest.mark.parametrize(("servers", "volumes"), [(2, 1), (3, 1)])
def test_minio_pools_the_operator_refuses_are_rejected(servers: int, volumes: int):
    errors = errors_of(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec:
          infra:
            minio: {{servers: {servers}, volumesPerServer: {volumes}}}
        """
    )
    assert len(errors) == 1
    assert errors[0].startswith("stacks/prod.yaml:5: WandB/wandb: spec.infra.minio.volumesPerServer: ")
    assert f"{servers} servers" in errors[0]


@pytest.mark.parametrize(("servers", "volumes"), [(1, 1), (2, 2), (3, 2), (4, 1)])
def test_minio_pools_the_operator_accepts_load(servers: int, volumes: int):
    (document,) = load(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec: {{infra: {{minio: {{servers: {servers}, volumesPerServer: {volumes}}}}}}}
        """
    )
    assert (
        document.spec.infra.minio.servers * document.spec.infra.minio.volumes_per_server == servers * volumes
    )


def test_a_malformed_kafka_version_is_rejected():
    errors = errors_of(
        """
        kind: WandB
        metadata: {name: wandb}
        spec:
          infra:
            kafka: {version: latest}
        """
    )
    assert errors == [
        "stacks/prod.yaml:5: WandB/wandb: spec.infra.kafka.version: 'latest' is not a Kafka version (example: '4.2.0')"
    ]


@pytest.mark.parametrize("version", ["3.8.0", "3.9.1", "2.8.2"])
def test_kafka_before_4_is_refused_because_strimzi_v1_cannot_run_it(version: str):
    errors = errors_of(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec:
          infra:
            kafka: {{replicas: 3, version: "{version}"}}
        """
    )
    assert errors == [
        f"stacks/prod.yaml:5: WandB/wandb: spec.infra.kafka.version: Kafka {version} is not supported: "
        "the Strimzi releases that serve kafka.strimzi.io/v1 run Kafka 4.x only (use for example '4.2.0')"
    ]


@pytest.mark.parametrize("version", ["4.0.0", "4.2.0", "5.0.1"])
def test_kafka_4_and_later_load(version: str):
    (document,) = load(
        f"""
        kind: WandB
        metadata: {{name: wandb}}
        spec: {{infra: {{kafka: {{version: "{version}"}}}}}}
        """
    )
    assert document.spec.infra.kafka.version == version
