"""A stack is Ready only when its components are: health read from live objects on the real engine."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import Project

pytestmark = pytest.mark.engine

POOL = """\
kind: DomainPool
metadata:
  name: pool-health
  annotations: {driftless.dev/force-reconcile: "TOKEN"}
spec: {baseDomain: health.apps.example.test, clusterIssuer: health-issuer}
"""


def stack_status(project: Project, name: str) -> dict:
    return next(s for s in project.status()["stacks"] if s["name"] == name)


def test_a_stack_is_not_ready_until_its_component_reports_ready_and_then_is(project: Project) -> None:
    kube = project.sandbox.kube
    kube.create(
        "ClusterIssuer",
        {
            "apiVersion": "cert-manager.io/v1",
            "kind": "ClusterIssuer",
            "metadata": {"name": "health-issuer"},
            "spec": {"selfSigned": {}},
        },
    )
    project.write_stack("health", POOL.replace("TOKEN", "1"))
    project.run("run", "--once", timeout=1800)

    status = stack_status(project, "health")
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (status["phase"], ready["status"], ready["reason"]) == (
        "NotReady",
        "False",
        "ComponentsNotReady",
    ), json.dumps(status)
    assert status["lastOperation"]["result"] == "succeeded"
    assert status["components"] == [
        {
            "kind": "DomainPool",
            "name": "pool-health",
            "ready": "Unknown",
            "reason": "IssuerNotReporting",
            "message": "ClusterIssuer 'health-issuer' exists but reports no Ready condition yet",
        }
    ]

    # cert-manager marks its issuer ready; a new force token brings the up that reads it again.
    condition = {"type": "Ready", "status": "True", "reason": "IsReady", "message": "Signing CA verified"}
    kube.merge_patch(
        "ClusterIssuer", "health-issuer", {"status": {"conditions": [condition]}}, subresource="status"
    )
    project.write_stack("health", POOL.replace("TOKEN", "2"))
    project.run("run", "--once", timeout=1800)

    status = stack_status(project, "health")
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (status["phase"], ready["status"], ready["reason"]) == ("Ready", "True", "UpSucceeded"), (
        json.dumps(status)
    )
    [pool] = status["components"]
    assert (pool["ready"], pool["reason"]) == ("True", "IssuerReady")
    assert "Signing CA verified" in pool["message"]
