"""Credentials nobody marked as Pulumi secrets are masked by name in the render and the review diff."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from automation.render.diff import diff_renders, to_markdown
from automation.render.render import render_program
from automation.render.report import as_json, as_text

LITERAL = "PLANTED-LITERAL-PASSWORD-0b1d"
URL_TOKEN = "PLANTED-URL-TOKEN-c4e7"
USER_PASSWORD = "PLANTED-USER-PASSWORD-a9f2"


def leaky_program():
    """A component that forgot Output.secret: a literal password, an API key, a URL with a token."""
    k8s.apps.v1.Deployment(
        "web",
        metadata={"name": "web", "namespace": "shop"},
        spec={
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "env": [
                                {"name": "DB_PASSWORD", "value": LITERAL},
                                {
                                    "name": "UPSTREAM",
                                    "value": f"https://api.example.com/?access_token={URL_TOKEN}",
                                },
                                {
                                    "name": "MIRROR",
                                    "value": f"https://bot:{USER_PASSWORD}@git.example.com/x.git",
                                },
                                {"name": "SSL_KEY", "value": "/etc/ssl/web.key"},
                                {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
                            ],
                        }
                    ]
                },
            },
        },
    )
    k8s.core.v1.ConfigMap(
        "settings",
        metadata={"name": "settings", "namespace": "shop"},
        data={"api_key": LITERAL, "keyspace": "orders", "settings.json": json.dumps({"password": LITERAL})},
    )
    pulumi.export(
        "status", {"endpoint": f"https://api.example.com/?private_token={URL_TOKEN}", "ready": True}
    )


def markers_in(text: str) -> list[str]:
    return [marker for marker in (LITERAL, URL_TOKEN, USER_PASSWORD) if marker in text]


def test_render_masks_credentials_by_name_and_in_urls_and_keeps_the_rest():
    result = render_program(leaky_program, stack="dev")
    assert result.problems == []

    web = next(r for r in result.resources if r.name == "web")
    env = web.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [
        {"name": "DB_PASSWORD", "value": "[secret]"},
        {"name": "UPSTREAM", "value": "https://api.example.com/?access_token=[secret]"},
        {"name": "MIRROR", "value": "https://[secret]@git.example.com/x.git"},
        {"name": "SSL_KEY", "value": "/etc/ssl/web.key"},
        {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
    ]
    settings = next(r for r in result.resources if r.name == "settings")
    assert settings.inputs["data"] == {
        "api_key": "[secret]",
        "keyspace": "orders",
        "settings.json": '{"password": "[secret]"}',
    }
    assert result.outputs["status"] == {
        "endpoint": "https://api.example.com/?private_token=[secret]",
        "ready": True,
    }
    assert markers_in(as_json(result)) == []
    assert markers_in(as_text(result)) == []


def test_a_schema_error_on_a_credential_field_does_not_echo_it():
    def program():
        k8s.core.v1.ConfigMap("cm", metadata={"name": "cm"}, data={"db_password": 904113})  # not a string

    result = render_program(program, stack="dev")
    assert [(p.resource, p.path) for p in result.problems] == [("cm", "data.db_password")]
    assert "904113" not in as_json(result) + as_text(result)


def test_a_program_error_quoting_a_credential_is_masked():
    def program():
        raise RuntimeError(f"cannot clone https://bot:{USER_PASSWORD}@git.example.com/x.git")

    result = render_program(program, stack="dev")
    assert result.problems[0].message == (
        "program failed: RuntimeError: cannot clone https://[secret]@git.example.com/x.git"
    )
    assert markers_in(as_json(result) + as_text(result)) == []


def test_the_review_diff_masks_a_base_render_written_before_credentials_were_masked_by_name():
    # The base of a pull request is rendered by the base's own driftless, which may print them.
    def resource(config: str, env_value: str) -> dict:
        return {
            "type": "fivetran:index/connectionConfig:ConnectionConfig",
            "name": "s3-config",
            "parent": "s3",
            "inputs": {
                "config": config,
                "env": [{"name": "API_TOKEN", "value": env_value}],
                "secret_key": LITERAL,
            },
        }

    old = {
        "stack": "dev",
        "resources": [resource(json.dumps({"bucket": "a", "secret_key": LITERAL}), LITERAL)],
    }
    new = {"stack": "dev", "resources": [resource("[secret]", "[secret]")]}
    added = {"stack": "dev", "resources": [{**resource(json.dumps({"token": LITERAL}), "x"), "name": "more"}]}

    for before, after in ((old, new), (new, old), ({"stack": "dev", "resources": []}, added)):
        markdown = to_markdown(diff_renders(before, after))
        assert markers_in(markdown) == [], markdown
    update = to_markdown(diff_renders(old, new))
    assert '`config`: `"{\\"bucket\\": \\"a\\", \\"secret_key\\": \\"[secret]\\"}"` → `"[secret]"`' in update
