"""ClickHouse piece: the ClickHouseInstallation body, and the state read from Altinity's status."""

from __future__ import annotations

import pytest

from components.common.spec import ResourceRequirements
from components.wandb.pieces import Target
from components.wandb.pieces.clickhouse import build_installation, infer_clickhouse
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
