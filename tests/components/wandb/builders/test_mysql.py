"""MySQL piece: the PerconaServerMySQL body, and the state read from Percona's status."""

from __future__ import annotations

import pytest

from components.wandb.builders import Target
from components.wandb.builders.mysql import (
    DELETE_CLAIMS,
    MAX_NAME_LENGTH,
    build_cluster,
    cluster_name,
    infer_mysql,
)
from components.wandb.spec import MySQLSpec
from components.wandb.status import State
from tests.components.wandb import payloads

TARGET = Target(name="wandb", namespace="ml", retain=True)


@pytest.mark.parametrize(
    ("status", "state", "in_message"),
    [
        (payloads.MYSQL_READY, State.HEALTHY, "mysql 3/3 ready"),
        (payloads.MYSQL_INITIALIZING, State.PENDING, "mysql 1/3 ready"),
        (payloads.MYSQL_ERROR, State.ERROR, "mysql size should be 3 or more"),
        ({"state": "paused"}, State.UNAVAILABLE, "paused"),
        ({"state": "stopping"}, State.UNAVAILABLE, "stopping"),
        ({"state": "error"}, State.ERROR, "error"),
        ({}, State.PENDING, "not reported"),
        (None, State.PENDING, "not reported"),
    ],
)
def test_state_from_percona_status(status, state, in_message):
    inferred = infer_mysql(status)
    assert inferred.state is state
    assert in_message in inferred.message


def test_members_and_volumes_come_from_the_spec():
    body = build_cluster(MySQLSpec(replicas=5, storage="50Gi"), TARGET)["spec"]
    assert body["mysql"]["size"] == 5
    assert body["mysql"]["clusterType"] == "group-replication"
    assert body["mysql"]["volumeSpec"]["persistentVolumeClaim"]["resources"]["requests"]["storage"] == "50Gi"


@pytest.mark.parametrize(
    ("replicas", "unsafe_size", "unsafe_proxy"),
    [(1, True, True), (2, True, False), (3, False, False), (9, False, False)],
)
def test_unsafe_flags_are_set_exactly_for_small_clusters(
    replicas: int, unsafe_size: bool, unsafe_proxy: bool
):
    body = build_cluster(MySQLSpec(replicas=replicas), TARGET)["spec"]
    assert body["unsafeFlags"] == {"mysqlSize": unsafe_size, "proxySize": unsafe_proxy}
    assert body["proxy"]["router"]["size"] == min(replicas, 3)


@pytest.mark.parametrize("retain", [True, False])
def test_claims_go_with_the_cluster_only_when_data_is_not_retained(retain: bool):
    body = build_cluster(MySQLSpec(), Target("wandb", "ml", retain=retain))
    assert (DELETE_CLAIMS in body["metadata"]["finalizers"]) is (not retain)


def test_long_document_names_are_shortened_stably_to_what_percona_accepts():
    long = Target(name="weights-and-biases-production", namespace="ml", retain=True)
    other = Target(name="weights-and-biases-production-eu", namespace="ml", retain=True)
    assert len(cluster_name(long)) <= MAX_NAME_LENGTH
    assert cluster_name(long) == cluster_name(long)
    assert cluster_name(long) != cluster_name(other)
    assert cluster_name(long).startswith("weights-and-bias")
    assert cluster_name(TARGET) == "wandb"
    assert build_cluster(MySQLSpec(), long)["metadata"]["name"] == cluster_name(long)
