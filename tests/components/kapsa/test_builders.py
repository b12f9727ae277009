"""The pure builders: objects a cluster accepts, with the wiring a user relies on. No Pulumi here."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automation.render.schemas import SchemaValidator
from components.kapsa import builders
from components.kapsa.spec import SecretRef
from tests.harness import SHARED_CRDS

IMAGE = "harbor.corp.com/myapp/api@sha256:" + "a" * 64


@pytest.fixture(scope="module")
def validator() -> SchemaValidator:
    return SchemaValidator(crd_schema_dir=SHARED_CRDS)


def preview_workload() -> builders.Workload:
    return builders.Workload(
        name="feature-new-api",
        type=builders.PREVIEW,
        branch="feature/new-api",
        branch_slug="feature-new-api",
        host=builders.host_for("feature-new-api", "api", "apps.corp.com"),
        replicas=1,
        secret_refs=(SecretRef(name="api-secrets-preview"),),
        expires_at=datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
    )


def objects(workload: builders.Workload, ingress_class: str | None = None) -> list[dict]:
    return list(
        builders.environment_objects(
            "api",
            "api",
            workload,
            image=IMAGE,
            replicas=workload.replicas,
            port=8080,
            service_account_name="api",
            cluster_issuer="letsencrypt-prod",
            ingress_class_name=ingress_class,
        )
    )


def test_every_object_is_valid(validator: SchemaValidator):
    built = [
        builders.namespace("api", "api"),
        builders.registry_credentials("api", "harbor-push-credentials", "api", {".dockerconfigjson": "e30="}),
        builders.service_account("api", "api", "api", "harbor-push-credentials"),
        builders.kpack_image(
            name="main",
            namespace_name="api",
            project="api",
            branch="main",
            branch_slug="main",
            tag="harbor.corp.com/myapp/api",
            git_url="https://git.corp.com/acme/api.git",
            revision="abc123d",
            cluster_builder="default",
            service_account_name="api",
        ),
        *objects(preview_workload(), ingress_class="nginx"),
    ]
    for obj in built:
        assert validator.validate(obj) == [], f"{obj['kind']} {obj['metadata']['name']}"


def test_the_host_is_env_project_base_domain():
    assert builders.host_for("dev", "api", "apps.corp.com") == "dev.api.apps.corp.com"


def test_the_ingress_serves_its_host_over_tls_from_the_certificates_secret():
    _, service, ingress, certificate = objects(preview_workload())
    assert ingress["spec"]["tls"] == [
        {"hosts": ["feature-new-api.api.apps.corp.com"], "secretName": certificate["spec"]["secretName"]}
    ]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "feature-new-api.api.apps.corp.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_the_certificate_is_issued_by_the_pools_cluster_issuer_for_the_host():
    _, _, ingress, certificate = objects(preview_workload())
    assert (certificate["apiVersion"], certificate["kind"]) == ("cert-manager.io/v1", "Certificate")
    assert certificate["metadata"]["name"] == "feature-new-api-tls"  # the name ingress-shim gave it
    assert certificate["metadata"]["namespace"] == "api"
    assert certificate["spec"] == {
        "secretName": "feature-new-api-tls",
        "dnsNames": ["feature-new-api.api.apps.corp.com"],
        "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-prod"},
    }
    # One owner per Certificate: no annotation asks cert-manager's ingress-shim for a second one.
    assert not any(key.startswith("cert-manager.io/") for key in ingress["metadata"].get("annotations", {}))


def test_the_service_reaches_the_pods_on_the_application_port():
    deployment, service, _, _ = objects(preview_workload())
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (port,) = container["ports"]
    assert port["containerPort"] == 8080
    assert service["spec"]["ports"][0]["targetPort"] == port["name"]


def test_secret_refs_become_env_from_and_nothing_else():
    deployment, *_ = objects(preview_workload())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "api-secrets-preview"}}]
    assert "env" not in container


def test_labels_say_type_and_branch_and_previews_say_when_they_expire():
    for obj in objects(preview_workload()):
        assert obj["metadata"]["labels"][builders.TYPE_LABEL] == "preview"
        assert obj["metadata"]["labels"][builders.BRANCH_LABEL] == "feature-new-api"
    for obj in objects(preview_workload()):
        if obj["kind"] != "Service":
            assert obj["metadata"]["annotations"][builders.EXPIRES_ANNOTATION] == "2026-11-28T09:00:00Z"


def test_the_service_account_pushes_and_pulls_with_the_registry_secret():
    account = builders.service_account("api", "api", "api", "harbor-push-credentials")
    assert account["secrets"] == [{"name": "harbor-push-credentials"}]
    assert account["imagePullSecrets"] == [{"name": "harbor-push-credentials"}]
