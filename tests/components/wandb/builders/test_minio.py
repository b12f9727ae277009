"""MinIO piece: the Tenant body, and the state read from the MinIO operator's status."""

from __future__ import annotations

import pytest

from components.wandb.builders import Target
from components.wandb.builders.minio import build_tenant, config_env, config_secret_name, infer_minio
from components.wandb.spec import MinIOSpec
from components.wandb.status import State
from tests.components.wandb import payloads

TARGET = Target(name="wandb", namespace="ml", retain=True)


@pytest.mark.parametrize(
    ("status", "state", "in_message"),
    [
        (payloads.MINIO_GREEN, State.HEALTHY, "4 drive(s) online, 0 offline"),
        (payloads.MINIO_YELLOW, State.DEGRADED, "3 drive(s) online, 1 offline"),
        (payloads.MINIO_RED, State.UNAVAILABLE, "Service Unavailable"),
        (payloads.MINIO_WAITING_FOR_PODS, State.PENDING, "Waiting for Pods to be ready"),
        (payloads.MINIO_INITIALIZED_UNCHECKED, State.PENDING, "first health check"),
        (payloads.MINIO_SECOND_TENANT, State.ERROR, "Another MinIO Tenant already exists"),
        ({}, State.PENDING, "not reported"),
        (None, State.PENDING, "not reported"),
    ],
)
def test_state_from_minio_status(status, state, in_message):
    inferred = infer_minio(status)
    assert inferred.state is state
    assert in_message in inferred.message


def test_one_pool_of_servers_by_volumes():
    body = build_tenant(
        MinIOSpec(servers=6, volumes_per_server=4, storage="1Ti", storage_class="local"), TARGET
    )
    (pool,) = body["spec"]["pools"]
    assert (pool["servers"], pool["volumesPerServer"]) == (6, 4)
    assert pool["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "1Ti"
    assert pool["volumeClaimTemplate"]["spec"]["storageClassName"] == "local"


def test_the_tenant_reads_its_root_credentials_from_the_configuration_secret():
    body = build_tenant(MinIOSpec(), TARGET)
    assert body["spec"]["configuration"] == {"name": config_secret_name(TARGET)}
    env = config_env("admin", "s3cr3t")
    assert 'export MINIO_ROOT_USER="admin"' in env.splitlines()
    assert 'export MINIO_ROOT_PASSWORD="s3cr3t"' in env.splitlines()
