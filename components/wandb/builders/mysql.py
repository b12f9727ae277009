"""MySQL: a Percona ``PerconaServerMySQL`` (group replication behind MySQL Router).

Write: ``replicas`` group-replication members on persistent volumes, a MySQL Router in front
(HAProxy and Orchestrator are for async replication and stay off), backups off. Fewer than three
members, or fewer than two routers, is what Percona calls unsafe: the matching ``unsafeFlags`` are
set exactly then, so a one-member dev cluster is allowed on purpose. The operator generates the
users' passwords into ``<name>-secrets``. Percona refuses cluster names over 22 characters, so a
longer document name is shortened (a prefix and a hash of the whole, stable across runs). When
data is not retained the ``percona.com/delete-mysql-pvc`` finalizer has the operator delete the
claims with the cluster.

Read/infer: ``status.state`` is ``ready`` (Healthy), ``initializing`` (Pending; also while a member
is being replaced), ``paused``/``stopping`` (Unavailable) or ``error`` (Error, with the newest true
condition's message).
"""

from __future__ import annotations

import hashlib
from typing import Any

from components.common.objects import resources_block, volume_claim_spec
from components.wandb.builders import Target, conditions, count, mapping, metadata, text
from components.wandb.spec import MySQLSpec
from components.wandb.status import PieceStatus, State

PIECE = "mysql"
API_VERSION = "ps.percona.com/v1"
KIND = "PerconaServerMySQL"
# Percona derives object names from the cluster's and refuses cluster names longer than this.
MAX_NAME_LENGTH = 22
_HASH_LENGTH = 5

ROUTER_IMAGE = "percona/percona-mysql-router:8.4.5"
TOOLKIT_IMAGE = "percona/percona-toolkit:3.7.0"
SAFE_MYSQL_SIZE = 3
SAFE_PROXY_SIZE = 2
MAX_ROUTERS = 3

DELETE_PODS_IN_ORDER = "percona.com/delete-mysql-pods-in-order"
DELETE_CLAIMS = "percona.com/delete-mysql-pvc"

DEFAULT_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
ROUTER_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}


def cluster_name(target: Target) -> str:
    """The document's name, or (when longer than Percona allows) a stable shortening of it."""
    if len(target.name) <= MAX_NAME_LENGTH:
        return target.name
    digest = hashlib.sha256(target.name.encode()).hexdigest()[:_HASH_LENGTH]
    stem = target.name[: MAX_NAME_LENGTH - _HASH_LENGTH - 1].rstrip("-")
    return f"{stem}-{digest}"


def router_size(spec: MySQLSpec) -> int:
    """One router per member, at most three."""
    return min(spec.replicas, MAX_ROUTERS)


def build_cluster(spec: MySQLSpec, target: Target) -> dict[str, Any]:
    """The ``PerconaServerMySQL``."""
    meta = metadata(target, PIECE, name=cluster_name(target))
    meta["finalizers"] = [DELETE_PODS_IN_ORDER] + ([] if target.retain else [DELETE_CLAIMS])
    routers = router_size(spec)
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": meta,
        "spec": {
            "unsafeFlags": {
                "mysqlSize": spec.replicas < SAFE_MYSQL_SIZE,
                "proxySize": routers < SAFE_PROXY_SIZE,
            },
            "mysql": {
                "clusterType": "group-replication",
                "autoRecovery": True,
                "image": spec.image,
                "size": spec.replicas,
                "resources": resources_block(spec.resources, DEFAULT_RESOURCES),
                "volumeSpec": {"persistentVolumeClaim": volume_claim_spec(spec.storage, spec.storage_class)},
            },
            "proxy": {
                "router": {
                    "enabled": True,
                    "image": ROUTER_IMAGE,
                    "size": routers,
                    "resources": {kind: dict(values) for kind, values in ROUTER_RESOURCES.items()},
                },
                "haproxy": {"enabled": False},
            },
            "orchestrator": {"enabled": False},
            "backup": {"enabled": False},
            "toolkit": {"image": TOOLKIT_IMAGE},
        },
    }


def infer_mysql(status: Any) -> PieceStatus:
    """The MySQL piece's state from the cluster's live ``status``."""
    found = mapping(status)
    state = text(found.get("state"))
    members = _members(found)
    if state == "ready":
        return PieceStatus(State.HEALTHY, "cluster is ready" + members)
    if state == "initializing":
        return PieceStatus(State.PENDING, "cluster is initializing" + members)
    if state in ("paused", "stopping"):
        return PieceStatus(State.UNAVAILABLE, f"cluster is {state}")
    if state == "error":
        return PieceStatus(State.ERROR, _newest_true_condition(found) or "the operator reports an error")
    if state:
        return PieceStatus(State.PENDING, f"unrecognised cluster state {state!r}")
    return PieceStatus(State.PENDING, "the Percona operator has not reported on the cluster yet")


def _members(found: Any) -> str:
    mysql = mapping(found.get("mysql"))
    ready, size = count(mysql.get("ready")), count(mysql.get("size"))
    if size is None:
        return ""
    return f" (mysql {ready or 0}/{size} ready)"


def _newest_true_condition(found: Any) -> str:
    true = [c for c in conditions(found) if c.get("status") == "True" and text(c.get("message"))]
    true.sort(key=lambda c: text(c.get("lastTransitionTime")))
    return text(true[-1].get("message")) if true else ""
