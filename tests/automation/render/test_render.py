"""The offline renderer: masking, placeholders, determinism, schema validation, stable output."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls
import pytest

from automation.render.render import RenderOptions, render_program
from automation.render.report import as_json, as_text
from automation.render.runtime import OfflineMocks
from automation.render.schemas import SchemaValidator

PASSWORD = "correct-horse-battery-staple"


class Shop(pulumi.ComponentResource):
    """A small component shaped like the real ones: a key, a Secret, a Deployment, a custom resource."""

    def __init__(
        self,
        name: str,
        *,
        replicas: int = 2,
        container_extra: dict | None = None,
        kafka_spec: dict | None = None,
        opts=None,
    ):
        super().__init__("driftless:test:Shop", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tls.PrivateKey(f"{name}-key", algorithm="ED25519", opts=child)
        k8s.core.v1.Secret(
            f"{name}-secret",
            metadata={"name": name, "namespace": "shop"},
            string_data={"password": pulumi.Output.secret(PASSWORD), "key": key.private_key_pem},
            opts=child,
        )
        container = {"name": "web", "image": "nginx:1.27", **(container_extra or {})}
        k8s.apps.v1.Deployment(
            f"{name}-web",
            metadata={"name": name, "namespace": "shop"},
            spec={
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}},
            },
            opts=child,
        )
        if kafka_spec is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-kafka",
                api_version="kafka.strimzi.io/v1",
                kind="Kafka",
                metadata={"name": name, "namespace": "shop"},
                spec=kafka_spec,
                opts=child,
            )
        self.status = pulumi.Output.from_input(
            {"phase": "Running", "keyFingerprint": key.public_key_fingerprint_sha256}
        )
        self.register_outputs({"status": self.status})


def render(crd_schemas=None, **shop_args):
    def program():
        shop = Shop("shop", **shop_args)
        pulumi.export("Shop/shop", shop.status)
        pulumi.export("password", pulumi.Output.secret(PASSWORD))

    options = RenderOptions(validator=SchemaValidator(crd_schema_dir=crd_schemas))
    return render_program(program, stack="dev", options=options)


def test_resources_are_listed_with_type_name_parent_and_inputs():
    result = render()
    assert result.ok, result.problems
    by_name = {r.name: r for r in result.resources}
    assert set(by_name) == {"shop", "shop-key", "shop-secret", "shop-web"}
    assert by_name["shop"].parent is None
    assert {by_name[n].parent for n in ("shop-key", "shop-secret", "shop-web")} == {"shop"}
    assert by_name["shop-web"].type == "kubernetes:apps/v1:Deployment"
    assert by_name["shop-web"].inputs["spec"]["replicas"] == 2  # integers stay integers
    # parents come before their children, siblings ordered by type then name
    assert [r.name for r in result.resources] == ["shop", "shop-web", "shop-secret", "shop-key"]


def test_secrets_never_reach_the_output_and_computed_values_are_marked():
    result = render()
    text = as_json(result) + as_text(result)
    assert PASSWORD not in text
    secret = next(r for r in result.resources if r.name == "shop-secret")
    assert secret.inputs["stringData"] == "[secret]"
    assert result.outputs["password"] == "[secret]"
    # the key's algorithm is an input, but under a preview the status apply cannot run yet
    assert result.outputs["Shop/shop"] == "[computed]"


def test_realistic_outputs_flow_through_when_rendering_as_an_update():
    def program():
        pulumi.export("Shop/shop", Shop("shop").status)

    mock = OfflineMocks(
        outputs={"tls:index/privateKey:PrivateKey": lambda args: {"publicKeyFingerprintSha256": "SHA256:abc"}}
    )
    result = render_program(program, stack="dev", options=RenderOptions(mock=mock, preview=False))
    assert result.outputs["Shop/shop"] == {"keyFingerprint": "SHA256:abc", "phase": "Running"}


def test_two_renders_are_byte_identical():
    assert as_json(render()) == as_json(render())


def test_kubernetes_schema_catches_a_wrong_field_and_a_wrong_type():
    result = render(replicas="three", container_extra={"imagePullPolicyy": "Always"})
    problems = sorted((p.resource, p.path, p.message) for p in result.problems)
    assert problems == [
        ("shop-web", "spec.replicas", "'three' is not of type 'integer', 'null'"),
        (
            "shop-web",
            "spec.template.spec.containers[0]",
            "Additional properties are not allowed ('imagePullPolicyy' was unexpected)",
        ),
    ]
    assert not result.ok


def test_custom_resource_is_checked_against_its_crd(crd_schemas):
    good = {
        "kafka": {"listeners": [{"name": "plain", "port": 9092, "type": "internal", "tls": False}]},
    }
    assert render(crd_schemas, kafka_spec=good).ok
    bad = {"kafka": {"listeners": good["kafka"]["listeners"], "replicaz": 3}}
    result = render(crd_schemas, kafka_spec=bad)
    assert [(p.resource, p.path) for p in result.problems] == [("shop-kafka", "spec.kafka")]
    assert "'replicaz' was unexpected" in result.problems[0].message


def test_custom_resource_without_a_schema_is_a_warning_never_silently_passed(tmp_path):
    result = render(tmp_path, kafka_spec={"kafka": {}})  # a schema directory without Kafka's
    assert result.ok
    assert [(w.resource, w.message) for w in result.warnings] == [
        (
            "shop-kafka",
            f"no schema for kafka.strimzi.io/v1 Kafka in {tmp_path}; the object was not validated",
        )
    ]
    assert json.loads(as_json(result))["warnings"][0]["resource"] == "shop-kafka"


def test_schema_errors_inside_secrets_do_not_echo_the_value():
    def program():
        k8s.core.v1.ConfigMap(
            "cm",
            metadata={"name": "cm"},
            data={"port": pulumi.Output.secret(5432)},  # not a string
        )

    result = render_program(program, stack="dev")
    assert [(p.resource, p.path) for p in result.problems] == [("cm", "data.port")]
    assert "5432" not in result.problems[0].message


def test_a_failing_program_is_a_problem_not_a_crash():
    def program():
        raise RuntimeError("boom")

    result = render_program(program, stack="dev")
    assert not result.ok
    assert result.problems[0].message == "program failed: RuntimeError: boom"


def test_unsupported_kubernetes_version_is_a_clear_error():
    with pytest.raises(ValueError, match=r"Kubernetes 1\.99 is not supported"):
        SchemaValidator("1.99")
    assert SchemaValidator("v1.31").kubernetes_version == "1.31.0"


def test_two_resources_with_one_urn_are_a_problem():
    def program():
        # Two components of one type whose children's names collide: "a" + "-b-c" and "a-b" + "-c".
        for component, child in (("a", "b-c"), ("a-b", "c")):
            parent = pulumi.ComponentResource("driftless:test:Shop", component)
            k8s.core.v1.ConfigMap(
                f"{component}-{child}", metadata={"name": "x"}, opts=pulumi.ResourceOptions(parent=parent)
            )

    result = render_program(program, stack="dev")

    assert [(p.resource, p.message.split(";")[0]) for p in result.problems] == [
        (
            "a-b-c",
            "2 resources have the URN urn:pulumi:dev::driftless::driftless:test:Shop$kubernetes:core/v1:ConfigMap::a-b-c",
        )
    ]
