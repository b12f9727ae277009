"""The WandB spec: which infra pieces W&B needs, and how big.

One document drives five operators' custom resources: Strimzi Kafka, Altinity ClickHouse, MinIO,
Opstree Redis and Percona Server for MySQL. The first documented fields keep their names and defaults;
the rest (``storageClass``, ``resources``, ``image``, Kafka's replication settings,
``createNamespace``) are optional additions.

Everything an operator would only reject after the ``up`` (or, worse, accept and run badly) is
rejected here, at load time, with the field that is wrong: sizes below one, a Kafka replication
factor the brokers cannot hold, a ``min.insync.replicas`` that leaves no room for one broker to
be down, MinIO pool shapes the MinIO operator refuses, malformed quantities, unknown pieces.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from components.common.spec import DnsSubdomain, ResourceRequirements, SpecModel, StorageSize

# A topic never gets more copies than this, however many brokers there are: three copies survive
# one broker down while another is being restarted, more only costs disk.
MAX_REPLICATION_FACTOR = 3
# Group replication holds at most nine members (a MySQL limit the Percona operator enforces).
MAX_MYSQL_REPLICAS = 9

_KAFKA_VERSION = re.compile(r"^(\d+)\.\d+\.\d+$")
# Strimzi serves ``kafka.strimzi.io/v1`` only in releases that run Kafka 4.x (KRaft only): an
# older version would be refused by the operator after the ``up``, with the cluster never created.
MIN_KAFKA_MAJOR = 4


def _kafka_version(value: str) -> str:
    found = _KAFKA_VERSION.match(value)
    if found is None:
        raise ValueError(f"{value!r} is not a Kafka version (example: '4.2.0')")
    if int(found.group(1)) < MIN_KAFKA_MAJOR:
        raise ValueError(
            f"Kafka {value} is not supported: the Strimzi releases that serve kafka.strimzi.io/v1 "
            f"run Kafka {MIN_KAFKA_MAJOR}.x only (use for example '4.2.0')"
        )
    return value


KafkaVersion = Annotated[str, AfterValidator(_kafka_version)]


def default_replication_factor(replicas: int) -> int:
    """Copies per partition when the spec does not say: one per broker, at most three."""
    return min(MAX_REPLICATION_FACTOR, replicas)


def default_min_in_sync_replicas(replication_factor: int) -> int:
    """In-sync copies a write needs when the spec does not say: all but one, at least one."""
    return max(1, replication_factor - 1)


class KafkaSpec(SpecModel):
    """Strimzi Kafka in KRaft mode: one node pool whose nodes are both controllers and brokers."""

    enabled: bool = Field(default=True, description="Create the Kafka cluster.")
    # Declared before ``replicas`` so the replicas check can see it.
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Copies of each partition and internal topic; default min(3, replicas).",
    )
    replicas: int = Field(default=3, ge=1, description="Kafka nodes (controller and broker each).")
    min_in_sync_replicas: int | None = Field(
        default=None,
        ge=1,
        description="In-sync copies an acks=all write needs; default replicationFactor - 1 (at least 1).",
    )
    storage: StorageSize = Field(default="20Gi", description="Data volume per node.")
    version: KafkaVersion = Field(default="4.2.0", description="Kafka version Strimzi runs (4.0 or later).")
    storage_class: DnsSubdomain | None = Field(default=None, description="StorageClass of the volumes.")
    resources: ResourceRequirements | None = Field(default=None, description="Per-node requests/limits.")

    @field_validator("replicas")
    @classmethod
    def _holds_replication_factor(cls, replicas: int, info: ValidationInfo) -> int:
        factor = info.data.get("replication_factor")
        if factor is not None and factor > replicas:
            raise ValueError(
                f"{replicas} broker(s) cannot hold replicationFactor {factor}: every copy of a "
                f"partition needs its own broker; use at least {factor} replicas or a lower replicationFactor"
            )
        return replicas

    @field_validator("min_in_sync_replicas")
    @classmethod
    def _leaves_room_for_one_down(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None or "replicas" not in info.data:
            return value
        factor = info.data.get("replication_factor") or default_replication_factor(info.data["replicas"])
        highest = default_min_in_sync_replicas(factor)
        if value > highest:
            raise ValueError(
                f"must be <= {highest} with replication factor {factor}: min.insync.replicas must leave "
                "room for one broker to be down, or every acks=all write fails during a rolling restart"
            )
        return value

    @property
    def effective_replication_factor(self) -> int:
        return self.replication_factor or default_replication_factor(self.replicas)

    @property
    def effective_min_in_sync_replicas(self) -> int:
        if self.min_in_sync_replicas is not None:
            return self.min_in_sync_replicas
        return default_min_in_sync_replicas(self.effective_replication_factor)


class ClickHouseSpec(SpecModel):
    """An Altinity ClickHouseInstallation: one shard, ``replicas`` replicas."""

    enabled: bool = Field(default=True, description="Create the ClickHouse installation.")
    replicas: int = Field(default=1, ge=1, description="Replicas of the single shard.")
    storage: StorageSize = Field(default="20Gi", description="Data volume per replica.")
    image: str = Field(default="clickhouse/clickhouse-server:24.8", min_length=1, description="Server image.")
    storage_class: DnsSubdomain | None = Field(default=None, description="StorageClass of the volumes.")
    resources: ResourceRequirements | None = Field(default=None, description="Per-replica requests/limits.")


class MinIOSpec(SpecModel):
    """A MinIO Tenant with one pool of ``servers`` × ``volumesPerServer`` volumes."""

    enabled: bool = Field(default=True, description="Create the MinIO tenant.")
    servers: int = Field(default=4, ge=1, description="MinIO server pods in the pool.")
    volumes_per_server: int = Field(default=1, ge=1, description="Volumes mounted by each server.")
    storage: StorageSize = Field(default="20Gi", description="Size of each volume.")
    image: str = Field(
        default="quay.io/minio/minio:RELEASE.2025-04-08T15-41-24Z", min_length=1, description="Server image."
    )
    storage_class: DnsSubdomain | None = Field(default=None, description="StorageClass of the volumes.")
    resources: ResourceRequirements | None = Field(default=None, description="Per-server requests/limits.")

    @field_validator("volumes_per_server")
    @classmethod
    def _erasure_set_fits(cls, volumes: int, info: ValidationInfo) -> int:
        # The MinIO operator's own rule: two servers need 4 drives and three need 6 in total, or
        # it refuses the pool (erasure coding cannot keep quorum with fewer).
        servers = info.data.get("servers")
        minimum = {2: 4, 3: 6}.get(servers or 0)
        if minimum is not None and servers is not None and servers * volumes < minimum:
            raise ValueError(
                f"{servers} servers × {volumes} volume(s) is {servers * volumes} drives; MinIO needs at "
                f"least {minimum} drives with {servers} servers "
                f"(use volumesPerServer >= {-(-minimum // servers)})"
            )
        return volumes


class RedisSpec(SpecModel):
    """An Opstree standalone Redis."""

    enabled: bool = Field(default=True, description="Create the Redis instance.")
    storage: StorageSize = Field(default="1Gi", description="Data volume.")
    image: str = Field(default="quay.io/opstree/redis:v7.0.15", min_length=1, description="Redis image.")
    storage_class: DnsSubdomain | None = Field(default=None, description="StorageClass of the volume.")
    resources: ResourceRequirements | None = Field(default=None, description="Requests/limits.")


class MySQLSpec(SpecModel):
    """A Percona Server for MySQL cluster (group replication behind MySQL Router)."""

    enabled: bool = Field(default=True, description="Create the MySQL cluster.")
    replicas: int = Field(default=3, ge=1, le=MAX_MYSQL_REPLICAS, description="MySQL members.")
    storage: StorageSize = Field(default="20Gi", description="Data volume per member.")
    image: str = Field(default="percona/percona-server:8.4.5-5", min_length=1, description="Server image.")
    storage_class: DnsSubdomain | None = Field(default=None, description="StorageClass of the volumes.")
    resources: ResourceRequirements | None = Field(default=None, description="Per-member requests/limits.")


class InfraSpec(SpecModel):
    """The pieces; each defaults to enabled with the documented sizes."""

    kafka: KafkaSpec = Field(default_factory=KafkaSpec)
    clickhouse: ClickHouseSpec = Field(default_factory=ClickHouseSpec)
    minio: MinIOSpec = Field(default_factory=MinIOSpec)
    redis: RedisSpec = Field(default_factory=RedisSpec)
    mysql: MySQLSpec = Field(default_factory=MySQLSpec)


class WandBSpec(SpecModel):
    """A WandB document's spec."""

    infra: InfraSpec = Field(default_factory=InfraSpec)
    retain_on_delete: bool = Field(
        default=True,
        description="Keep the data-bearing custom resources and their volumes when removed from the spec.",
    )
    create_namespace: bool = Field(
        default=True,
        description=(
            "Create the target namespace (false: it must exist already). Turning it off later deletes "
            "the namespace, and everything in it, unless retainOnDelete keeps it."
        ),
    )
