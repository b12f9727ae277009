"""Redis piece: the Opstree Redis body, and the state read from its status."""

from __future__ import annotations

import pytest

from components.wandb.builders import Target
from components.wandb.builders.redis import (
    build_redis,
    infer_redis,
    infer_redis_from_statefulset,
    operator_has_reconciled,
    reports_state,
)
from components.wandb.spec import RedisSpec
from components.wandb.status import State
from tests.components.wandb import payloads


@pytest.mark.parametrize(
    ("status", "state", "in_message"),
    [
        (payloads.REDIS_READY, State.HEALTHY, "Redis is ready"),
        (payloads.REDIS_INITIALIZING, State.PENDING, "Redis is initializing"),
        ({"state": "Bootstrap"}, State.PENDING, "initializing"),
        (payloads.REDIS_FAILED, State.UNAVAILABLE, "Redis pod is not ready"),
        ({}, State.PENDING, "has not picked this Redis up"),
        (None, State.PENDING, "has not picked this Redis up"),
    ],
)
def test_state_from_opstree_status(status, state, in_message):
    inferred = infer_redis(status)
    assert inferred.state is state
    assert in_message in inferred.message
    assert inferred.source == ("Redis status" if reports_state(status) else None)


@pytest.mark.parametrize(
    ("replicas", "ready_replicas", "state", "in_message"),
    [
        (1, 1, State.HEALTHY, "1/1 pod(s) ready"),
        (1, 0, State.PENDING, "0/1 pod(s) ready"),
        # A fresh StatefulSet's status omits readyReplicas until a pod is ready.
        (1, None, State.PENDING, "0/1 pod(s) ready"),
        (None, 1, State.HEALTHY, "1/1"),
        (0, 0, State.PENDING, "0/0"),
    ],
)
def test_state_from_the_statefulset_when_the_operator_writes_no_status(
    replicas, ready_replicas, state, in_message
):
    inferred = infer_redis_from_statefulset("wandb", replicas, ready_replicas)
    assert (inferred.state, inferred.source) == (state, "StatefulSet")
    assert in_message in inferred.message


@pytest.mark.parametrize(
    ("metadata", "reconciled"),
    [
        (payloads.REDIS_RECONCILED_METADATA, True),
        ({"name": "wandb", "namespace": "wandb"}, False),
        ({"finalizers": ["foregroundDeletion"]}, False),
        (None, False),
    ],
)
def test_the_operators_finalizer_shows_it_has_picked_the_redis_up(metadata, reconciled: bool):
    assert operator_has_reconciled(metadata) is reconciled


def test_a_standalone_redis_with_the_requested_volume():
    body = build_redis(RedisSpec(storage="5Gi", storage_class="fast"), Target("wandb", "ml", retain=True))
    claim = body["spec"]["storage"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "5Gi"
    assert claim["storageClassName"] == "fast"
    assert body["spec"]["kubernetesConfig"]["image"] == RedisSpec().image


@pytest.mark.parametrize("retain", [True, False])
def test_the_claim_is_kept_after_delete_exactly_when_data_is_retained(retain: bool):
    body = build_redis(RedisSpec(), Target("wandb", "ml", retain=retain))
    assert body["spec"]["storage"]["keepAfterDelete"] is retain
