"""The WandB component through the real program and render: what it registers, what it keeps on
delete, and the status it reports from the operators' live status."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from automation.render.render import RenderedResource
from tests.components.wandb import payloads
from tests.harness import RenderedGraph

KAFKA = "kubernetes:kafka.strimzi.io/v1:Kafka"
NODE_POOL = "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"
CLICKHOUSE = "kubernetes:clickhouse.altinity.com/v1:ClickHouseInstallation"
KEEPER = "kubernetes:clickhouse-keeper.altinity.com/v1:ClickHouseKeeperInstallation"
TENANT = "kubernetes:minio.min.io/v2:Tenant"
REDIS = "kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis"
MYSQL = "kubernetes:ps.percona.com/v1:PerconaServerMySQL"
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
SECRET = "kubernetes:core/v1:Secret"
NAMESPACE = "kubernetes:core/v1:Namespace"
PASSWORD = "random:index/randomPassword:RandomPassword"

CUSTOM_RESOURCES = (KAFKA, NODE_POOL, CLICKHOUSE, TENANT, REDIS, MYSQL)
PIECE_TYPES = {
    "kafka": (KAFKA, NODE_POOL),
    "clickhouse": (CLICKHOUSE, KEEPER),
    "minio": (TENANT, SECRET, PASSWORD),
    "redis": (REDIS,),
    "mysql": (MYSQL,),
}


def wandb(name: str = "wandb", namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "driftless.dev/v1alpha1", "kind": "WandB", "metadata": metadata, "spec": spec}


def live(**status_by_type: Any) -> dict[str, Callable[[Any], Mapping[str, Any]]]:
    """Mock outputs: each custom resource type reports the given live ``status``."""
    return {
        type_token: (lambda _args, status=status: {"status": status})
        for type_token, status in status_by_type.items()
    }


ALL_HEALTHY = {
    KAFKA: payloads.KAFKA_READY,
    NODE_POOL: payloads.KAFKA_POOL_READY,
    CLICKHOUSE: payloads.CLICKHOUSE_COMPLETED,
    TENANT: payloads.MINIO_GREEN,
    REDIS: payloads.REDIS_READY,
    MYSQL: payloads.MYSQL_READY,
}


def status_of(graph: RenderedGraph, name: str = "wandb") -> dict[str, Any]:
    return dict(graph.outputs()[f"WandB/{name}"])


def written(graph: RenderedGraph, *types: str) -> list[RenderedResource]:
    """What the stack registers (and owns), leaving out the reads of live objects."""
    return [r for r in graph.resources if r.read is None and (not types or r.type in types)]


def test_every_custom_resource_is_valid_against_its_operators_crd(render):
    graph = render([wandb()])
    assert graph.problems == []
    assert graph.warnings == []
    assert sorted({r.type for r in written(graph, *CUSTOM_RESOURCES)}) == sorted(CUSTOM_RESOURCES)


def test_the_default_kafka_version_is_one_strimzi_v1_runs_and_is_valid(render):
    graph = render([wandb()])
    assert graph.problems == []
    assert graph.input("wandb-kafka-cluster", "spec.kafka.version", KAFKA) == "4.2.0"


def test_small_and_customised_pieces_are_valid_too(render):
    graph = render(
        [
            wandb(
                namespace="ml",
                retainOnDelete=False,
                infra={
                    "kafka": {"replicas": 1, "storage": "5Gi", "storageClass": "fast", "version": "4.1.0"},
                    "clickhouse": {"replicas": 2, "resources": {"requests": {"cpu": "2", "memory": "8Gi"}}},
                    "minio": {"servers": 2, "volumesPerServer": 2, "storageClass": "local"},
                    "redis": {"storage": "2Gi", "resources": {"limits": {"memory": "1Gi"}}},
                    "mysql": {"replicas": 1, "storageClass": "fast"},
                },
            )
        ]
    )
    assert graph.problems == []
    assert graph.warnings == []


def test_resources_go_to_the_documents_namespace_which_the_stack_creates(render):
    graph = render([wandb(namespace="ml")])
    assert graph.input("wandb-namespace", "metadata.name", NAMESPACE) == "ml"
    namespaces = {graph.input(r.name, "metadata.namespace") for r in written(graph, *CUSTOM_RESOURCES)}
    assert namespaces == {"ml"}


def test_an_existing_namespace_can_be_used_instead(render):
    graph = render([wandb(createNamespace=False)])
    assert graph.problems == []
    assert graph.of_type(NAMESPACE) == []
    (redis,) = written(graph, REDIS)
    assert redis.depends_on == ()


@pytest.mark.parametrize("piece", list(PIECE_TYPES))
def test_a_disabled_piece_renders_nothing(render, piece: str):
    graph = render([wandb(infra={piece: {"enabled": False}})])
    assert graph.problems == []
    assert [r.name for r in graph.resources if r.type in PIECE_TYPES[piece]] == []
    assert [r.name for r in graph.resources if r.name.startswith(f"wandb-{piece}")] == []
    others = [p for p in PIECE_TYPES if p != piece]
    for other in others:
        assert written(graph, PIECE_TYPES[other][0]), f"{other} should still be rendered"


def test_disabled_pieces_are_left_out_of_the_status(render):
    graph = render(
        [wandb(infra={"kafka": {"enabled": False}, "minio": {"enabled": False}})], outputs=live(**ALL_HEALTHY)
    )
    assert sorted(status_of(graph)["pieces"]) == ["clickhouse", "mysql", "redis"]


def test_with_every_piece_disabled_nothing_but_the_namespace_is_registered(render):
    graph = render([wandb(infra={piece: {"enabled": False} for piece in PIECE_TYPES})], outputs={})
    assert [r.type for r in graph.resources if r.type.startswith("kubernetes:")] == [NAMESPACE]


DATA_BEARING = (*CUSTOM_RESOURCES, SECRET, NAMESPACE)


@pytest.mark.parametrize("retain", [True, False])
def test_the_retain_option_is_set_exactly_when_asked(render, retain: bool):
    graph = render([wandb(retainOnDelete=retain)])
    retained = {r.name for r in graph.resources if r.retain_on_delete}
    data_bearing = {r.name for r in written(graph, *DATA_BEARING)}
    assert len(data_bearing) == 8  # six custom resources, the MinIO Secret, the Namespace
    assert retained == (data_bearing if retain else set())


def test_retention_is_the_default(render):
    graph = render([wandb()])
    assert all(r.retain_on_delete for r in written(graph, *DATA_BEARING))


@pytest.mark.parametrize("retain", [True, False])
def test_volumes_follow_the_retain_choice_in_every_operator(render, retain: bool):
    graph = render([wandb(retainOnDelete=retain)])
    assert graph.input("wandb-kafka-nodepool", "spec.storage.volumes[0].deleteClaim") is (not retain)
    policy = graph.input(
        "wandb-clickhouse-installation", "spec.templates.volumeClaimTemplates[0].reclaimPolicy"
    )
    assert policy == ("Retain" if retain else "Delete")
    assert graph.input("wandb-redis-standalone", "spec.storage.keepAfterDelete") is retain
    finalizers = graph.input("wandb-mysql-cluster", "metadata.finalizers")
    assert ("percona.com/delete-mysql-pvc" in finalizers) is (not retain)


def test_deletion_order_follows_the_dependencies(render):
    """Pulumi deletes dependents first: Kafka before its pool, the Tenant before its Secret,
    everything before the namespace; the pieces do not wait for one another."""
    graph = render([wandb()])
    depends = {r.name: set(r.depends_on) for r in graph.resources}
    assert "wandb-kafka-nodepool" in depends["wandb-kafka-cluster"]
    assert "wandb-minio-config" in depends["wandb-minio-tenant"]
    custom = [r.name for r in written(graph, *CUSTOM_RESOURCES, SECRET)]
    assert all("wandb-namespace" in depends[name] for name in custom)
    pieces = {r.name for r in written(graph, *CUSTOM_RESOURCES)}
    for name in pieces:
        own_piece = name.split("-")[1]
        assert {d for d in depends[name] if d in pieces and d.split("-")[1] != own_piece} == set()


def test_the_minio_root_password_is_generated_and_stays_secret(render):
    generated = "Zq8vK2mN4pL6xR1tY3wB5cD7fH9jJ0aS"
    graph = render([wandb()], outputs={**live(**ALL_HEALTHY), PASSWORD: lambda _args: {"result": generated}})
    assert graph.of_type(PASSWORD)
    assert graph.input("wandb-minio-config", "stringData") == "[secret]"
    assert graph.input("wandb-minio-tenant", "spec.configuration.name") == graph.input(
        "wandb-minio-config", "metadata.name"
    )
    assert generated not in repr(graph.result.to_json())


def test_a_healthy_infra_reports_ready_and_the_long_requeue(render):
    status = status_of(render([wandb()], outputs=live(**ALL_HEALTHY)))
    assert (status["state"], status["ready"], status["requeueAfterSeconds"]) == ("Healthy", "True", 600)
    assert {name: piece["state"] for name, piece in status["pieces"].items()} == {
        "kafka": "Healthy",
        "clickhouse": "Healthy",
        "minio": "Healthy",
        "redis": "Healthy",
        "mysql": "Healthy",
    }


def test_a_mixed_infra_reports_its_most_severe_piece(render):
    status = status_of(
        render(
            [wandb()],
            outputs=live(
                **{
                    **ALL_HEALTHY,
                    TENANT: payloads.MINIO_YELLOW,
                    MYSQL: payloads.MYSQL_INITIALIZING,
                    KAFKA: payloads.KAFKA_FAILED,
                }
            ),
        )
    )
    assert (status["state"], status["ready"], status["requeueAfterSeconds"]) == ("Error", "False", 15)
    assert status["pieces"]["minio"]["state"] == "Degraded"
    assert status["pieces"]["mysql"]["state"] == "Pending"
    assert status["message"].startswith("kafka: Error: UnsupportedKafkaVersionException")


def test_degraded_pieces_still_leave_the_infra_ready(render):
    status = status_of(render([wandb()], outputs=live(**{**ALL_HEALTHY, TENANT: payloads.MINIO_YELLOW})))
    assert (status["state"], status["ready"], status["requeueAfterSeconds"]) == ("Degraded", "True", 300)


def test_resources_the_operators_have_not_reported_on_are_pending(render):
    status = status_of(render([wandb()], outputs=live(**{KAFKA: payloads.KAFKA_READY})))
    assert (status["state"], status["ready"], status["requeueAfterSeconds"]) == ("Pending", "False", 120)
    assert status["pieces"]["kafka"]["state"] == "Healthy"


def test_every_custom_resource_is_read_back_and_the_read_owns_nothing(render):
    graph = render([wandb()])
    reads = {r.name: r for r in graph.resources if r.read is not None}
    for resource in written(graph, *CUSTOM_RESOURCES):
        read = reads[f"{resource.name}-live"]
        assert (read.type, read.read, read.retain_on_delete) == (resource.type, f"{resource.name}-id", False)


def test_the_status_is_the_live_one_not_what_was_written(render):
    """A requeue run changes nothing, so the written resources' outputs are stale: the state
    must come from this run's read of the live object."""

    def stale_when_written_live_when_read(live_status: Any, stale_status: Any):
        return lambda args: {"status": live_status if args.resource_id else stale_status}

    outputs = {
        type_token: stale_when_written_live_when_read(status, None)
        for type_token, status in ALL_HEALTHY.items()
    }
    status = status_of(render([wandb()], outputs=outputs))
    assert (status["state"], status["ready"]) == ("Healthy", "True")


REPLICATED_CLICKHOUSE = {"clickhouse": {"replicas": 2, "storageClass": "fast"}}


@pytest.mark.parametrize("retain", [True, False])
def test_clickhouse_replicas_get_a_keeper_valid_against_both_crds(render, retain: bool):
    graph = render([wandb(namespace="ml", retainOnDelete=retain, infra=REPLICATED_CLICKHOUSE)])
    assert graph.problems == []
    assert graph.warnings == []
    (keeper,) = written(graph, KEEPER)
    assert (keeper.name, keeper.retain_on_delete) == ("wandb-clickhouse-keeper", retain)
    assert graph.input(keeper.name, "metadata.namespace") == "ml"
    # the installation is created after its Keeper and deleted before it
    assert keeper.name in graph.named("wandb-clickhouse-installation", CLICKHOUSE).depends_on
    assert "wandb-namespace" in keeper.depends_on
    nodes = graph.input("wandb-clickhouse-installation", "spec.configuration.zookeeper.nodes")
    assert nodes == [{"host": "keeper-wandb", "port": 2181}]
    read = graph.named("wandb-clickhouse-keeper-live", KEEPER)
    assert read.read == "wandb-clickhouse-keeper-id"


def test_a_single_clickhouse_replica_gets_no_keeper(render):
    graph = render([wandb()])
    assert graph.of_type(KEEPER) == []
    with pytest.raises(KeyError):
        graph.input("wandb-clickhouse-installation", "spec.configuration.zookeeper")


@pytest.mark.parametrize(
    ("keeper", "state", "ready"),
    [
        (payloads.KEEPER_COMPLETED, "Healthy", True),
        (payloads.KEEPER_IN_PROGRESS, "Pending", False),
        (payloads.KEEPER_ABORTED, "Error", False),
    ],
)
def test_the_clickhouse_piece_reports_its_keeper_too(render, keeper, state, ready):
    outputs = live(**{**ALL_HEALTHY, KEEPER: keeper})
    status = status_of(render([wandb(infra=REPLICATED_CLICKHOUSE)], outputs=outputs))
    piece = status["pieces"]["clickhouse"]
    assert (piece["state"], piece["ready"]) == (state, ready)


def test_a_preview_cannot_know_the_status(render):
    assert render([wandb()]).outputs()["WandB/wandb"] == "[computed]"


def test_two_wandbs_in_one_namespace_are_rejected_before_anything_is_registered(render):
    graph = render([wandb("first", namespace="ml"), wandb("second", namespace="ml")])
    assert graph.resources == []
    assert len(graph.problems) == 1
    assert (
        "WandB/second: metadata.namespace: namespace 'ml' already belongs to WandB/first (line 1); "
        "each WandB needs a namespace of its own"
    ) in graph.problems[0]


def test_two_wandbs_in_their_own_namespaces_do_not_collide(render):
    graph = render([wandb("first"), wandb("second")])
    assert graph.problems == []
    assert {graph.input(r.name, "metadata.namespace") for r in written(graph, KAFKA)} == {"first", "second"}


def test_bad_input_renders_nothing_and_names_the_field(render):
    graph = render([wandb(infra={"kafka": {"replicas": 0}})])
    assert graph.resources == []
    assert len(graph.problems) == 1
    assert "WandB/wandb: spec.infra.kafka.replicas: must be >= 1" in graph.problems[0]


def redis_outputs(
    redis_status: Any, redis_metadata: Mapping[str, Any] | None, statefulset_status: Any = None
) -> dict[str, Callable[[Any], Mapping[str, Any]]]:
    """Every other piece healthy; the Redis and its StatefulSet as given."""
    redis_live: dict[str, Any] = {"status": redis_status}
    if redis_metadata is not None:
        redis_live["metadata"] = redis_metadata
    return {
        **live(**ALL_HEALTHY),
        REDIS: lambda _args: redis_live,
        STATEFULSET: lambda _args: {"spec": payloads.REDIS_STATEFULSET_SPEC, "status": statefulset_status},
    }


def test_a_redis_without_status_is_ready_when_its_statefulset_is(render):
    graph = render(
        [wandb()],
        outputs=redis_outputs(None, payloads.REDIS_RECONCILED_METADATA, payloads.REDIS_STATEFULSET_READY),
    )
    (statefulset,) = graph.of_type(STATEFULSET)
    assert (statefulset.read, statefulset.parent) == ("wandb/wandb", "wandb-redis")
    assert (graph.problems, graph.warnings) == ([], [])
    status = status_of(graph)
    piece = status["pieces"]["redis"]
    assert (piece["state"], piece["ready"], piece["source"]) == ("Healthy", True, "StatefulSet")
    assert "1/1" in piece["message"]
    assert (status["state"], status["ready"]) == ("Healthy", "True")


def test_a_redis_without_status_waits_for_its_statefulsets_pods(render):
    status = status_of(
        render(
            [wandb()],
            outputs=redis_outputs(
                None, payloads.REDIS_RECONCILED_METADATA, payloads.REDIS_STATEFULSET_STARTING
            ),
        )
    )
    piece = status["pieces"]["redis"]
    assert (piece["state"], piece["ready"], piece["source"]) == ("Pending", False, "StatefulSet")
    assert "0/1" in piece["message"]
    assert (status["state"], status["ready"]) == ("Pending", "False")


@pytest.mark.parametrize(
    ("redis_status", "state", "ready"),
    [(payloads.REDIS_READY, "Healthy", True), (payloads.REDIS_FAILED, "Unavailable", False)],
)
def test_a_redis_status_is_taken_over_the_statefulset(render, redis_status, state: str, ready: bool):
    graph = render(
        [wandb()],
        outputs=redis_outputs(
            redis_status, payloads.REDIS_RECONCILED_METADATA, payloads.REDIS_STATEFULSET_STARTING
        ),
    )
    assert graph.of_type(STATEFULSET) == []
    piece = status_of(graph)["pieces"]["redis"]
    assert (piece["state"], piece["ready"], piece["source"]) == (state, ready, "Redis status")


def test_a_redis_the_operator_has_not_picked_up_is_pending_without_reading_a_statefulset(render):
    """On the first ``up`` the operator may not have created the StatefulSet yet: reading it then
    would fail the whole ``up``."""
    graph = render([wandb()], outputs=redis_outputs(None, None, payloads.REDIS_STATEFULSET_READY))
    assert graph.of_type(STATEFULSET) == []
    piece = status_of(graph)["pieces"]["redis"]
    assert (piece["state"], piece["ready"]) == ("Pending", False)
    assert "has not picked this Redis up" in piece["message"]
