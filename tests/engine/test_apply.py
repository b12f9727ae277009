"""Apply, no-op, review, drift and destroy of a real stack on the sandbox's apiserver."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.engine.conftest import Project
from tests.engine.kube import KINDS
from tests.engine.stacks import create_prerequisites, kubernetes_only, rendered_objects

pytestmark = pytest.mark.engine

_SUMMARY = re.compile(r"(\d+) to create, (\d+) to update, (\d+) to delete, (\d+) unchanged")


def changes(output: str) -> tuple[int, int, int, int]:
    match = _SUMMARY.search(output)
    assert match, output
    create, update, delete, same = (int(g) for g in match.groups())
    return create, update, delete, same


def live_objects(project: Project, expected: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Of the expected objects, the ones the apiserver really has."""
    kube = project.sandbox.kube
    return {(kind, ns, name) for kind, ns, name in expected if kube.get(kind, name, ns or None) is not None}


def test_up_creates_every_rendered_object_and_a_second_up_changes_nothing(project: Project) -> None:
    create_prerequisites(project.sandbox.kube)
    project.write_stack("apply", kubernetes_only("apply"))
    expected = rendered_objects(project.render("apply"))
    assert {kind for kind, _, _ in expected} >= {
        "Namespace",
        "Kafka",
        "KafkaNodePool",
        "ClickHouseInstallation",
        "Redis",
        "PerconaServerMySQL",
        "Deployment",
        "Service",
        "Ingress",
        "ServiceAccount",
        "Secret",
    }
    assert {kind for kind, _, _ in expected} <= set(KINDS), "the test's API client must know every kind"

    first = project.run("up", "--stack", "apply")
    create, update, delete, _ = changes(first.stdout)
    assert create >= len(expected), first.stdout
    assert (update, delete) == (0, 0), first.stdout

    assert live_objects(project, expected) == expected
    kafka = project.sandbox.kube.get("Kafka", "wandb", "wandb-apply")
    assert kafka is not None
    assert kafka["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "driftless"

    second = project.run("up", "--stack", "apply")
    assert changes(second.stdout)[:3] == (0, 0, 0), second.stdout
    refreshed = project.run("refresh", "--stack", "apply")
    assert "refresh succeeded" in refreshed.stdout, refreshed.stdout

    # A one-field edit: preview --markdown names exactly the resource and field that change.
    edited = kubernetes_only("apply").replace(
        "redis:      {enabled: true, storage: 1Gi}", "redis: {enabled: true, storage: 2Gi}"
    )
    project.write_stack("apply", edited)
    preview = project.run("preview", "--stack", "apply", "--markdown")
    assert "0 to create, 1 to update, 0 to delete" in preview.stdout, preview.stdout
    rows = [line for line in preview.stdout.splitlines() if line.startswith("| update")]
    assert len(rows) == 1, preview.stdout
    assert "kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis" in rows[0], preview.stdout
    assert "storage" in rows[0], preview.stdout
    redis = project.sandbox.kube.get("Redis", "wandb", "wandb-apply")
    assert redis is not None
    assert "1Gi" in json.dumps(redis["spec"]), "preview must change nothing"


def test_destroy_removes_everything_but_what_is_retained(project: Project) -> None:
    create_prerequisites(project.sandbox.kube)
    project.write_stack("gone", kubernetes_only("gone", retain=True))
    expected = rendered_objects(project.render("gone"))
    project.run("up", "--stack", "gone")
    assert live_objects(project, expected) == expected

    project.run("destroy", "--stack", "gone", "--yes")
    kube = project.sandbox.kube
    retained = {"Kafka", "KafkaNodePool", "ClickHouseInstallation", "Redis", "PerconaServerMySQL"}
    for kind, ns, name in sorted(expected):
        if kind in retained or (kind == "Namespace" and name == "wandb-gone"):
            continue  # retainOnDelete keeps the data services, and the namespace that holds them
        assert kube.wait_gone(kind, name, ns or None), f"{kind} {ns}/{name} is still there after destroy"
    for kind, ns, name in expected:
        if kind in retained:
            assert kube.get(kind, name, ns) is not None, f"retained {kind} {ns}/{name} was deleted"


def test_drift_is_reported_and_remediated_only_where_the_settings_say(project: Project) -> None:
    kube = project.sandbox.kube
    create_prerequisites(kube)
    project.write_stack("watched", kubernetes_only("watched"))
    project.write_stack("healed", kubernetes_only("healed"))
    project.write_settings(
        "drift: {enabled: true, intervalSeconds: 60, remediate: false}\n"
        "stacks:\n  healed: {drift: {intervalSeconds: 60, remediate: true}}\n"
    )
    first = project.run("run", "--once", timeout=1800)
    assert "watched" in first.stdout, first.stdout
    assert "healed" in first.stdout, first.stdout

    for ns in ("watched", "healed"):  # out-of-band: a custom resource edited, a Service deleted
        kube.merge_patch("KafkaNodePool", "kafka", {"spec": {"replicas": 5}}, f"wandb-{ns}")
        kube.delete("Service", "dev", f"api-{ns}")
        assert kube.wait_gone("Service", "dev", f"api-{ns}")

    time.sleep(62)  # the drift interval's floor is 60 s
    project.run("run", "--once", check=False, timeout=1800)
    stacks = {s["name"]: s for s in project.status()["stacks"]}

    watched = stacks["watched"]
    drifted = {c["type"]: c for c in watched["conditions"]}["Drifted"]
    assert drifted["status"] == "True", json.dumps(watched)
    named = json.dumps(watched["drift"])
    assert "wandb-kafka-nodepool" in named, named
    assert "api-watched/dev" in named, named
    assert kube.get("Service", "dev", "api-watched") is None, "a detect-only stack must leave drift alone"
    assert kube.get("KafkaNodePool", "kafka", "wandb-watched")["spec"]["replicas"] == 5

    healed = stacks["healed"]
    assert kube.get("Service", "dev", "api-healed") is not None, json.dumps(healed)
    pool = kube.get("KafkaNodePool", "kafka", "wandb-healed")
    assert pool is not None
    assert pool["spec"]["replicas"] == 1, json.dumps(healed)
