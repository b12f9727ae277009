"""deletionPolicy on the real engine: removing WazuhCluster documents from their stack file.

The sandbox runs no StatefulSet controller, so the claims a StatefulSet's volumeClaimTemplates
would create are created here the way that controller does (Kubernetes 1.32+): one per pod,
named ``<template>-<statefulset>-<ordinal>``, labelled with the selector, and owned by the
StatefulSet exactly when its live ``persistentVolumeClaimRetentionPolicy.whenDeleted`` is
``Delete``, so the sandbox's garbage collector removes them with it. The namespace controller
and the garbage collector are the real ones; the pvc-protection controller is not there, so a
deleted claim keeps its ``kubernetes.io/pvc-protection`` finalizer and shows as deleted by its
``deletionTimestamp``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.engine.conftest import Project
from tests.engine.kube import KubeApi
from tests.engine.stacks import rendered_objects

pytestmark = pytest.mark.engine

CLUSTER = """\
kind: WazuhCluster
metadata: {name: NAME, namespace: wazuh-NAME-engine}
spec:
  deletionPolicy: POLICY
  indexer: {replicas: 2, storage: 1Gi}
  manager:
    master: {storage: 1Gi}
    workers: {replicas: 1, storage: 1Gi}
  dashboard: {enabled: false}
"""
CREDENTIAL_SECRETS = ("indexer-cred", "dashboard-cred", "api-cred", "cluster-key", "authd-pass")


def cluster(name: str, policy: str) -> str:
    return CLUSTER.replace("NAME", name).replace("POLICY", policy)


def deleted(obj: dict[str, Any]) -> bool:
    return "deletionTimestamp" in obj["metadata"]


def create_claims_as_the_statefulset_controller(kube: KubeApi, namespace: str) -> set[str]:
    """The claims of every pod of every StatefulSet in ``namespace``; their names."""
    created = set()
    for statefulset in kube.list("StatefulSet", namespace):
        meta, spec = statefulset["metadata"], statefulset["spec"]
        owned = spec.get("persistentVolumeClaimRetentionPolicy", {}).get("whenDeleted") == "Delete"
        owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": meta["name"], "uid": meta["uid"]}
        for template in spec.get("volumeClaimTemplates", []):
            for ordinal in range(spec["replicas"]):
                name = f"{template['metadata']['name']}-{meta['name']}-{ordinal}"
                claim: dict[str, Any] = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": spec["selector"]["matchLabels"],
                        **({"ownerReferences": [owner]} if owned else {}),
                    },
                    "spec": template["spec"],
                }
                kube.create("PersistentVolumeClaim", claim, namespace)
                created.add(name)
    return created


def test_removing_a_retained_cluster_keeps_its_namespace_claims_and_credentials(project: Project) -> None:
    kube = project.sandbox.kube
    project.write_stack("siem", cluster("kept", "Retain") + "---\n" + cluster("dropped", "Delete"))
    applied = rendered_objects(project.render("siem"))
    project.run("up", "--stack", "siem")
    kept_claims = create_claims_as_the_statefulset_controller(kube, "wazuh-kept-engine")
    dropped_claims = create_claims_as_the_statefulset_controller(kube, "wazuh-dropped-engine")
    # an indexer volume per node, the master's and the worker's
    assert len(kept_claims) == len(dropped_claims) == 4, kept_claims
    # the Job loading the indexer users, named by their passwords' hash (unknown to the render)
    [users_job] = [job["metadata"]["name"] for job in kube.list("Job", "wazuh-kept-engine")]
    assert re.fullmatch(r"kept-indexer-users-[0-9a-f]{10}", users_job), users_job

    project.write_stack("siem", "")
    held = project.run("up", "--stack", "siem", check=False)
    assert held.returncode == 2, held.stdout + held.stderr
    assert kube.get("Namespace", "wazuh-dropped-engine") is not None, "a held up deleted something"
    # the review says, resource by resource, which deletions leave the cluster alone
    review = project.run("preview", "--stack", "siem", "--markdown").stdout
    rows = [
        [cell.strip(" `*") for cell in line.split("|")[1:4]]
        for line in review.splitlines()
        if line.startswith("|")
    ]
    deletes = {(kind, name): op for op, kind, name in rows if op.startswith("delete")}
    retained = {(kind, name) for (kind, name), op in deletes.items() if "retained" in op}
    assert ("kubernetes:core/v1:Namespace", "kept-namespace") in retained, review
    retained_secrets = [name for kind, name in retained if kind == "kubernetes:core/v1:Secret"]
    assert len(retained_secrets) == len(CREDENTIAL_SECRETS), review
    assert all(name.startswith("kept-") for _, name in retained), review
    assert any(name.startswith("dropped-") for _, name in deletes), review

    removal = project.run("up", "--stack", "siem", "--allow-deletions")
    assert "0 to create, 0 to update" in removal.stdout, removal.stdout

    # Retain: the namespace, every claim and the credentials the volumes were written with stay.
    assert kube.get("Namespace", "wazuh-kept-engine") is not None
    claims = kube.list("PersistentVolumeClaim", "wazuh-kept-engine")
    assert {claim["metadata"]["name"] for claim in claims} == kept_claims
    assert [deleted(claim) for claim in claims] == [False] * len(claims)
    for secret in CREDENTIAL_SECRETS:
        assert kube.get("Secret", f"kept-{secret}", "wazuh-kept-engine") is not None, secret
    # ... and nothing else of the cluster does.
    kept = {
        (kind, ns, name)
        for kind, ns, name in applied
        if ns == "wazuh-kept-engine"
        and kind != "Namespace"
        and name not in {f"kept-{s}" for s in CREDENTIAL_SECRETS}
    }
    assert {kind for kind, _, _ in kept} >= {"StatefulSet", "Service", "ConfigMap", "Secret"}
    kept.add(("Job", "wazuh-kept-engine", users_job))
    still_there = {(kind, name) for kind, ns, name in kept if not kube.wait_gone(kind, name, ns)}
    assert not still_there

    # Delete: the namespace goes, and the claims with it.
    namespace = kube.get("Namespace", "wazuh-dropped-engine")
    assert namespace is None or deleted(namespace)
    claims = kube.list("PersistentVolumeClaim", "wazuh-dropped-engine")
    assert [deleted(claim) for claim in claims] == [True] * len(claims)
