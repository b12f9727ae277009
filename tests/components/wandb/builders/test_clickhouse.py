"""ClickHouse piece: the ClickHouseInstallation body, and the state read from Altinity's status."""

from __future__ import annotations

import pytest

from components.common.spec import ResourceRequirements
from components.wandb.builders import Target
from components.wandb.builders.clickhouse import (
    build_installation,
    build_keeper,
    infer_clickhouse,
    infer_clickhouse_with_keeper,
    needs_keeper,
)
from components.wandb.spec import ClickHouseSpec
from components.wandb.status import State
from tests.components.wandb import payloads

TARGET = Target(name="wandb", namespace="ml", retain=True)


@pytest.mark.parametrize(
    ("status", "state", "in_message"),
    [
        (payloads.CLICKHOUSE_COMPLETED, State.HEALTHY, "completed (2 host(s))"),
        (payloads.CLICKHOUSE_COMPLETED_AFTER_AN_OLD_ERROR, State.HEALTHY, "completed"),
        (
            payloads.CLICKHOUSE_IN_PROGRESS,
            State.PENDING,
            "Create StatefulSet: ml/chi-wandb-default-0-1 - started",
        ),
        (payloads.CLICKHOUSE_ABORTED, State.ERROR, "failed to become ready"),
        ({"status": "Terminating"}, State.UNAVAILABLE, "being deleted"),
        ({"status": "Reticulating"}, State.PENDING, "'Reticulating'"),
        ({"chop-version": "0.25.6"}, State.PENDING, "not reported"),
        ({}, State.PENDING, "not reported"),
        (None, State.PENDING, "not reported"),
    ],
)
def test_state_from_altinity_status(status, state, in_message):
    inferred = infer_clickhouse(status)
    assert inferred.state is state
    assert in_message in inferred.message


def test_one_shard_of_the_requested_replicas():
    body = build_installation(ClickHouseSpec(replicas=3), TARGET)
    (cluster,) = body["spec"]["configuration"]["clusters"]
    assert cluster["layout"] == {"shardsCount": 1, "replicasCount": 3}


def test_pods_and_volumes_come_from_the_spec():
    spec = ClickHouseSpec(
        storage="100Gi",
        storage_class="fast",
        image="clickhouse/clickhouse-server:25.3",
        resources=ResourceRequirements(requests={"memory": "8Gi"}),
    )
    body = build_installation(spec, TARGET)["spec"]
    templates = body["templates"]
    (pod,) = templates["podTemplates"]
    (volume,) = templates["volumeClaimTemplates"]
    assert body["defaults"]["templates"] == {
        "podTemplate": pod["name"],
        "dataVolumeClaimTemplate": volume["name"],
    }
    (container,) = pod["spec"]["containers"]
    assert (container["image"], container["resources"]) == (spec.image, {"requests": {"memory": "8Gi"}})
    assert volume["spec"]["resources"]["requests"]["storage"] == "100Gi"
    assert volume["spec"]["storageClassName"] == "fast"


@pytest.mark.parametrize(("retain", "policy"), [(True, "Retain"), (False, "Delete")])
def test_volumes_are_kept_exactly_when_data_is_retained(retain: bool, policy: str):
    body = build_installation(ClickHouseSpec(), Target("wandb", "ml", retain=retain))
    assert body["spec"]["templates"]["volumeClaimTemplates"][0]["reclaimPolicy"] == policy


def test_one_replica_needs_no_keeper():
    spec = ClickHouseSpec(replicas=1)
    assert not needs_keeper(spec)
    assert "zookeeper" not in build_installation(spec, TARGET)["spec"]["configuration"]


@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_coordinate_through_the_keeper_service_the_operator_creates(replicas: int):
    spec = ClickHouseSpec(replicas=replicas)
    assert needs_keeper(spec)
    configuration = build_installation(spec, TARGET)["spec"]["configuration"]
    # the operator names a ClickHouseKeeperInstallation's client Service keeper-<name>, port 2181
    assert configuration["zookeeper"] == {"nodes": [{"host": "keeper-wandb", "port": 2181}]}
    keeper = build_keeper(spec, TARGET)
    assert (keeper["kind"], keeper["metadata"]["name"]) == ("ClickHouseKeeperInstallation", "wandb")
    (cluster,) = keeper["spec"]["configuration"]["clusters"]
    assert cluster["layout"] == {"replicasCount": 3}  # a quorum that survives one member down


@pytest.mark.parametrize(("retain", "policy"), [(True, "Retain"), (False, "Delete")])
def test_keeper_volumes_follow_the_retain_choice_and_the_storage_class(retain: bool, policy: str):
    spec = ClickHouseSpec(replicas=2, storage_class="fast")
    (volume,) = build_keeper(spec, Target("wandb", "ml", retain=retain))["spec"]["templates"][
        "volumeClaimTemplates"
    ]
    assert (volume["reclaimPolicy"], volume["spec"]["storageClassName"]) == (policy, "fast")


@pytest.mark.parametrize(
    ("keeper", "state", "message"),
    [
        (payloads.KEEPER_COMPLETED, State.HEALTHY, "installation completed (2 host(s))"),
        (payloads.KEEPER_IN_PROGRESS, State.PENDING, "keeper: reconciling: Create StatefulSet"),
        (payloads.KEEPER_ABORTED, State.ERROR, "keeper: reconcile aborted: FAILED to reconcile CHK"),
        (None, State.PENDING, "keeper: the Altinity operator has not reported on the keeper installation"),
    ],
)
def test_the_piece_is_the_worse_of_installation_and_keeper(keeper, state, message):
    inferred = infer_clickhouse_with_keeper(payloads.CLICKHOUSE_COMPLETED, keeper)
    assert inferred.state is state
    assert inferred.message.startswith(message)


def test_a_failing_installation_is_reported_before_a_pending_keeper():
    inferred = infer_clickhouse_with_keeper(payloads.CLICKHOUSE_ABORTED, payloads.KEEPER_IN_PROGRESS)
    assert (inferred.state, inferred.message.startswith("reconcile aborted")) == (State.ERROR, True)
