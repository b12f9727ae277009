"""Stacks for the engine tier, and the objects they read that someone else creates first."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

from tests.engine.kube import KubeApi

REPO = Path(__file__).resolve().parents[2]


def program_copy(folder: Path) -> Path:
    """The repository's program, seen from a folder of its own: Pulumi writes each stack's
    ``Pulumi.<stack>.yaml`` beside ``Pulumi.yaml``, and that must not be the checkout."""
    if not folder.exists():
        folder.mkdir(parents=True)
        for name in ("Pulumi.yaml", "__main__.py", "requirements.txt"):
            shutil.copy(REPO / name, folder / name)
        for name in ("components", "connectors"):
            (folder / name).symlink_to(REPO / name, target_is_directory=True)
    return folder


# Every kind whose objects need only the Kubernetes provider (MinIO's root password comes from
# the random provider, so MinIO is off here).
KUBERNETES_ONLY = """\
kind: WandB
metadata: {name: wandb, namespace: wandb-NS}
spec:
  infra:
    kafka:      {enabled: true, replicas: 1, storage: 1Gi}
    clickhouse: {enabled: true, replicas: 1, storage: 1Gi}
    minio:      {enabled: false}
    redis:      {enabled: true, storage: 1Gi}
    mysql:      {enabled: true, replicas: 1, storage: 1Gi}
  retainOnDelete: RETAIN
---
kind: DomainPool
metadata: {name: pool-NS}
spec: {baseDomain: NS.apps.example.test, clusterIssuer: letsencrypt-staging}
---
kind: Registry
metadata: {name: harbor-NS}
spec: {server: harbor.example.test, repositoryPrefix: NS, credentialsSecret: harbor-push-credentials}
---
kind: Project
metadata: {name: api-NS}
spec:
  repo: {url: "https://git.example.test/acme/api.git", pollIntervalSeconds: 3600}
  domainPool: pool-NS
  registry: harbor-NS
  port: 8080
  environments:
    - {name: dev,  branch: main, autoSync: true,  replicas: 1}
    - {name: prod, branch: main, autoSync: false, replicas: 2}
"""


def kubernetes_only(ns: str, *, retain: bool = False) -> str:
    """The stack with its names suffixed by ``ns``, so tests sharing the sandbox never collide."""
    return KUBERNETES_ONLY.replace("NS", ns).replace("RETAIN", "true" if retain else "false")


def create_prerequisites(kube: KubeApi) -> None:
    """What the stacks read but never create: registry push credentials and a ClusterIssuer."""
    auth = base64.b64encode(b"robot:not-a-real-password").decode()
    docker_config = {"auths": {"harbor.example.test": {"auth": auth}}}
    if kube.get("Secret", "harbor-push-credentials", "default") is None:
        kube.create(
            "Secret",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "harbor-push-credentials", "namespace": "default"},
                "type": "kubernetes.io/dockerconfigjson",
                "data": {".dockerconfigjson": base64.b64encode(json.dumps(docker_config).encode()).decode()},
            },
            "default",
        )
    issuer: dict[str, Any] = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "letsencrypt-staging"},
        "spec": {"selfSigned": {}},
    }
    response = kube.session.post(
        f"{kube.server}/apis/cert-manager.io/v1/clusterissuers", json=issuer, timeout=30
    )
    if response.status_code not in (201, 409):
        response.raise_for_status()


def rendered_objects(render: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every Kubernetes object the render says the stack creates."""
    found = set()
    for resource in render["resources"]:
        if not resource["type"].startswith("kubernetes:") or resource.get("read"):
            continue
        inputs = resource.get("inputs") or {}
        meta = inputs.get("metadata") or {}
        # A name the render cannot know (one made from generated values) is looked up by the test.
        if "kind" in inputs and "name" in meta and meta["name"] != "[computed]":
            found.add((inputs["kind"], meta.get("namespace", ""), meta["name"]))
    return found
