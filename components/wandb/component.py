"""The WandB component: one document's infra pieces, and their summarised status.

What the W&B operator's reconcile loop did in four steps (finalize, write, read, infer) per
dependency, and a fifth (summarize) for the whole, happens here in one Pulumi program run: each
enabled piece writes its custom resources and infers its state from their live status; this
component summarises the pieces into ``status`` for the daemon, whose requeue hint decides when
the next run reads them again. A disabled piece registers nothing; removing one from the spec is
Pulumi's delete, with the finalize rules in :mod:`components.wandb.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kubernetes import child
from components.common.objects import labels
from components.wandb.builders import PART_OF, Target
from components.wandb.resources import (
    ClickHousePiece,
    KafkaPiece,
    MinIOPiece,
    MySQLPiece,
    PieceArgs,
    RedisPiece,
)
from components.wandb.spec import WandBSpec
from components.wandb.status import PieceStatus, summarize

TYPE_TOKEN = "driftless:wandb:WandB"
KIND = "WandB"


@dataclass(frozen=True)
class WandBArgs:
    """A WandB document, as the component needs it."""

    name: str
    namespace: str
    spec: WandBSpec


class WandB(pulumi.ComponentResource):
    """Strimzi Kafka, Altinity ClickHouse, MinIO, Opstree Redis and Percona MySQL for one W&B."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: WandBArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec
        after: list[pulumi.Resource] = []
        if spec.create_namespace:
            after.append(
                k8s.core.v1.Namespace(
                    f"{name}-namespace",
                    metadata={"name": args.namespace, "labels": labels(args.name, "namespace", PART_OF)},
                    # Deleting a namespace deletes everything in it, retained resources included.
                    opts=child(self, retain_on_delete=spec.retain_on_delete),
                )
            )
        target = Target(name=args.name, namespace=args.namespace, retain=spec.retain_on_delete)
        infra = spec.infra
        pieces: dict[str, KafkaPiece | ClickHousePiece | MinIOPiece | RedisPiece | MySQLPiece] = {}
        if infra.kafka.enabled:
            pieces["kafka"] = KafkaPiece(f"{name}-kafka", PieceArgs(infra.kafka, target, after), child(self))
        if infra.clickhouse.enabled:
            pieces["clickhouse"] = ClickHousePiece(
                f"{name}-clickhouse", PieceArgs(infra.clickhouse, target, after), child(self)
            )
        if infra.minio.enabled:
            pieces["minio"] = MinIOPiece(f"{name}-minio", PieceArgs(infra.minio, target, after), child(self))
        if infra.redis.enabled:
            pieces["redis"] = RedisPiece(f"{name}-redis", PieceArgs(infra.redis, target, after), child(self))
        if infra.mysql.enabled:
            pieces["mysql"] = MySQLPiece(f"{name}-mysql", PieceArgs(infra.mysql, target, after), child(self))
        self.pieces = pieces
        self.status = _summary(pieces)
        self.register_outputs({"status": self.status})


def _summary(pieces: Mapping[str, Any]) -> pulumi.Output[dict[str, Any]]:
    if not pieces:
        return pulumi.Output.from_input(summarize({}))
    names = list(pieces)
    return pulumi.Output.all(*(pieces[n].status for n in names)).apply(
        lambda live: summarize({n: PieceStatus.from_dict(s) for n, s in zip(names, live, strict=True)})
    )
