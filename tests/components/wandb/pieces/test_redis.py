"""Redis piece: the Opstree Redis body, and the state read from its status."""

from __future__ import annotations

import pytest

from components.wandb.pieces import Target
from components.wandb.pieces.redis import build_redis, infer_redis
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
        ({}, State.PENDING, "has not reported a state"),
        (None, State.PENDING, "has not reported a state"),
    ],
)
def test_state_from_opstree_status(status, state, in_message):
    inferred = infer_redis(status)
    assert inferred.state is state
    assert in_message in inferred.message


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
