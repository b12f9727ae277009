"""One small component per infra piece: write its custom resource(s), read their live status
back, infer the piece's state.

Write registers the operator's custom resource (``kubernetes.apiextensions.CustomResource``).
Read is a Pulumi read of that same object, by the written resource's id, on every run: the
written resource's own outputs are only what the provider saw the last time it changed it, and a
requeue ``up`` with nothing to change does not call the provider at all, so an operator's status
would stay frozen at "just created". The read cannot miss: it runs after the write, and the object
it reads is ours. Infer is the piece module's pure function of what was read.

Finalize is Pulumi's part, configured here: when the spec retains data every data-bearing resource
is registered with ``retain_on_delete``, so removing the piece (or the whole document, or
destroying the stack) drops it from the state and leaves it, and its volumes, in the cluster.
Without retention Pulumi deletes them, dependents first:

- the ``Kafka`` depends on its ``KafkaNodePool`` (created after it, deleted before it: Strimzi
  tears the cluster down while the pool, and so the brokers' claims, still exist; then the pool
  goes, and with ``deleteClaim`` its claims);
- the MinIO ``Tenant`` depends on its configuration ``Secret`` (the Secret outlives the pods that
  read it);
- every piece depends on the ``Namespace`` when the stack creates it, so the namespace is deleted
  last (and is itself retained when data is, since deleting it would delete everything inside).

The pieces do not depend on each other and are deleted in parallel. Reads own nothing: dropping
one deletes nothing in the cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.common.kubernetes import child
from components.common.live import read_live
from components.wandb.builders import Target, clickhouse, kafka, minio, mysql, redis
from components.wandb.spec import ClickHouseSpec, KafkaSpec, MinIOSpec, MySQLSpec, RedisSpec

S = TypeVar("S")

KAFKA_TYPE_TOKEN = "driftless:wandb:Kafka"
CLICKHOUSE_TYPE_TOKEN = "driftless:wandb:ClickHouse"
MINIO_TYPE_TOKEN = "driftless:wandb:MinIO"
REDIS_TYPE_TOKEN = "driftless:wandb:Redis"
MYSQL_TYPE_TOKEN = "driftless:wandb:MySQL"


def write(
    name: str, body: Mapping[str, Any], opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """Register the custom resource a builder produced."""
    return k8s.apiextensions.CustomResource(
        name,
        api_version=body["apiVersion"],
        kind=body["kind"],
        metadata=body["metadata"],
        spec=body["spec"],
        opts=opts,
    )


def read_status(
    name: str, written: k8s.apiextensions.CustomResource, body: Mapping[str, Any], parent: pulumi.Resource
) -> pulumi.Output[Any]:
    """The live ``status`` of a written custom resource, read back from the cluster this run."""
    return read_back(name, written, body, parent).apply(lambda live: live["status"])


def read_back(
    name: str, written: k8s.apiextensions.CustomResource, body: Mapping[str, Any], parent: pulumi.Resource
) -> pulumi.Output[dict[str, Any]]:
    """The live object behind a written custom resource (:func:`components.common.live.read_live`)."""
    return read_live(
        name, api_version=body["apiVersion"], kind=body["kind"], id=written.id, opts=child(parent)
    )


def data_options(
    parent: pulumi.Resource, retain: bool, depends_on: Sequence[pulumi.Resource] = ()
) -> pulumi.ResourceOptions:
    """Options for a data-bearing child: kept in the cluster on delete exactly when ``retain``."""
    return child(parent, retain_on_delete=retain, depends_on=list(depends_on))


@dataclass(frozen=True)
class PieceArgs(Generic[S]):
    """A piece's spec, where its resources go, and what they must be created after."""

    spec: S
    target: Target
    depends_on: Sequence[pulumi.Resource] = ()  # the Namespace, when the stack creates it


class KafkaPiece(pulumi.ComponentResource):
    """Strimzi ``KafkaNodePool`` + ``Kafka``; the state from both."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: PieceArgs[KafkaSpec], opts: pulumi.ResourceOptions | None = None):
        super().__init__(KAFKA_TYPE_TOKEN, name, None, opts)
        retain, after = args.target.retain, args.depends_on
        pool_body = kafka.build_node_pool(args.spec, args.target)
        pool = write(f"{name}-nodepool", pool_body, data_options(self, retain, after))
        cluster_body = kafka.build_kafka(args.spec, args.target)
        cluster = write(f"{name}-cluster", cluster_body, data_options(self, retain, [*after, pool]))
        self.status = pulumi.Output.all(
            read_status(f"{name}-cluster-live", cluster, cluster_body, self),
            read_status(f"{name}-nodepool-live", pool, pool_body, self),
        ).apply(lambda live: kafka.infer_kafka(live[0], live[1]).to_dict())
        self.register_outputs({"status": self.status})


class ClickHousePiece(pulumi.ComponentResource):
    """Altinity ``ClickHouseInstallation``, and with replicas the ``ClickHouseKeeperInstallation``
    they coordinate through (created before the installation, deleted after it)."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(
        self, name: str, args: PieceArgs[ClickHouseSpec], opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(CLICKHOUSE_TYPE_TOKEN, name, None, opts)
        retain, after = args.target.retain, list(args.depends_on)
        keeper_status: pulumi.Output[Any] | None = None
        if clickhouse.needs_keeper(args.spec):
            keeper_body = clickhouse.build_keeper(args.spec, args.target)
            keeper = write(f"{name}-keeper", keeper_body, data_options(self, retain, after))
            keeper_status = read_status(f"{name}-keeper-live", keeper, keeper_body, self)
            after.append(keeper)
        body = clickhouse.build_installation(args.spec, args.target)
        installation = write(f"{name}-installation", body, data_options(self, retain, after))
        live = read_status(f"{name}-installation-live", installation, body, self)
        if keeper_status is None:
            self.status = live.apply(lambda found: clickhouse.infer_clickhouse(found).to_dict())
        else:
            self.status = pulumi.Output.all(live, keeper_status).apply(
                lambda found: clickhouse.infer_clickhouse_with_keeper(found[0], found[1]).to_dict()
            )
        self.register_outputs({"status": self.status})


class MinIOPiece(pulumi.ComponentResource):
    """MinIO configuration ``Secret`` (generated root password) + ``Tenant``."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: PieceArgs[MinIOSpec], opts: pulumi.ResourceOptions | None = None):
        super().__init__(MINIO_TYPE_TOKEN, name, None, opts)
        retain, after = args.target.retain, args.depends_on
        password = random.RandomPassword(f"{name}-root-password", length=32, special=False, opts=child(self))
        root_password: pulumi.Output[str] = pulumi.Output.secret(password.result)
        config_env: pulumi.Output[str] = root_password.apply(
            lambda secret: minio.config_env(minio.ROOT_USER, secret)
        )
        config = k8s.core.v1.Secret(
            f"{name}-config",
            metadata=cast(Any, minio.build_config_secret_metadata(args.target)),
            type="Opaque",
            string_data={minio.CONFIG_KEY: config_env},
            # The retained Tenant's pods keep reading this Secret, so it is kept with them.
            opts=data_options(self, retain, after),
        )
        body = minio.build_tenant(args.spec, args.target)
        tenant = write(f"{name}-tenant", body, data_options(self, retain, [*after, config]))
        self.status = read_status(f"{name}-tenant-live", tenant, body, self).apply(
            lambda live: minio.infer_minio(live).to_dict()
        )
        self.register_outputs({"status": self.status})


class RedisPiece(pulumi.ComponentResource):
    """Opstree standalone ``Redis``; its state from the Redis's status, or from its StatefulSet
    when the operator writes none (see :mod:`components.wandb.builders.redis`)."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: PieceArgs[RedisSpec], opts: pulumi.ResourceOptions | None = None):
        super().__init__(REDIS_TYPE_TOKEN, name, None, opts)
        body = redis.build_redis(args.spec, args.target)
        standalone = write(
            f"{name}-standalone", body, data_options(self, args.target.retain, args.depends_on)
        )
        live = read_back(f"{name}-standalone-live", standalone, body, self)
        self.status = live.apply(lambda found: self._infer(name, body["metadata"], found))
        self.register_outputs({"status": self.status})

    def _infer(
        self, name: str, redis_metadata: Mapping[str, Any], found: Mapping[str, Any]
    ) -> dict[str, Any] | pulumi.Output[dict[str, Any]]:
        if redis.reports_state(found["status"]) or not redis.operator_has_reconciled(found["metadata"]):
            return redis.infer_redis(found["status"]).to_dict()
        # Registered here, inside the apply, because whether to read it depends on the live Redis.
        statefulset_name = redis_metadata["name"]
        statefulset = read_live(
            f"{name}-statefulset-live",
            api_version="apps/v1",
            kind="StatefulSet",
            id=f"{redis_metadata['namespace']}/{statefulset_name}",
            opts=child(self),
        )
        return statefulset.apply(
            lambda found: redis.infer_redis_from_statefulset(
                statefulset_name,
                replicas=found["spec"].get("replicas"),
                ready_replicas=found["status"].get("readyReplicas"),
            ).to_dict()
        )


class MySQLPiece(pulumi.ComponentResource):
    """Percona ``PerconaServerMySQL``."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: PieceArgs[MySQLSpec], opts: pulumi.ResourceOptions | None = None):
        super().__init__(MYSQL_TYPE_TOKEN, name, None, opts)
        body = mysql.build_cluster(args.spec, args.target)
        cluster = write(f"{name}-cluster", body, data_options(self, args.target.retain, args.depends_on))
        self.status = read_status(f"{name}-cluster-live", cluster, body, self).apply(
            lambda live: mysql.infer_mysql(live).to_dict()
        )
        self.register_outputs({"status": self.status})
