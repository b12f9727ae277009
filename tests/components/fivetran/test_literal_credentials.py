"""A credential written as a literal in a FivetranConnector's config is sent as a Pulumi secret.

Vault references are the way to give Fivetran a credential; a literal (``secret_key: …``) still
happens. The provider must then get the config JSON as a secret, so it stays out of plain state,
the render and the review diff, while Fivetran receives exactly the values written.
"""

from __future__ import annotations

import json
from typing import Any

from automation.render.values import is_secret
from tests.components.fivetran.conftest import FivetranMocks
from tests.components.fivetran.test_component import CONNECTION, CONNECTION_CONFIG, connector, sdk_connector

S3_SECRET = "PLANTED-S3-SECRET-7f3a"
BEARER = "PLANTED-BEARER-91c2"
URL_TOKEN = "PLANTED-URL-TOKEN-55d0"


def recording_mocks(calls: dict[str, Any]) -> tuple[FivetranMocks, dict[str, dict[str, Any]]]:
    sent: dict[str, dict[str, Any]] = {}

    def record(args: Any) -> dict[str, Any]:
        sent[args.name] = dict(args.inputs)
        return {}

    return FivetranMocks(outputs={CONNECTION: record, CONNECTION_CONFIG: record}, calls=calls), sent


def test_a_literal_credential_makes_the_config_a_secret_with_its_values_intact(render, calls):
    mock, sent = recording_mocks(calls)
    config = {"bucket": "acme-events", "access_key_id": "AKIAEXAMPLE", "secret_key": S3_SECRET}
    graph = render([connector("s3", service="s3", config=config)], mock=mock)
    assert graph.problems == []

    for name, type_token in (("s3", CONNECTION), ("s3-config", CONNECTION_CONFIG)):
        assert graph.named(name, type_token).inputs["config"] == "[secret]"
        assert is_secret(sent[name]["config"]), name
        assert json.loads(sent[name]["config"]["value"]) == config
    assert S3_SECRET not in json.dumps(graph.result.to_json())


def test_a_connector_sdk_bearer_token_written_literally_is_secret(render, calls):
    mock, sent = recording_mocks(calls)
    graph = render(
        [sdk_connector(config={"base_url": "https://api.virtuoussoftware.com", "bearer_token": BEARER})],
        mock=mock,
    )
    assert graph.problems == []

    assert graph.named("donors-config", CONNECTION_CONFIG).inputs["config"] == "[secret]"
    sent_config = sent["donors-config"]["config"]
    assert is_secret(sent_config)
    assert {"key": "bearer_token", "value": BEARER} in json.loads(sent_config["value"])["secrets_list"]
    assert BEARER not in json.dumps(graph.result.to_json())


def test_a_url_with_a_token_parameter_makes_the_config_a_secret(render, calls):
    mock, sent = recording_mocks(calls)
    config = {"endpoint": f"https://api.example.com/v1?access_token={URL_TOKEN}&page_size=100"}
    graph = render([connector("api", service="webhooks", config=config)], mock=mock)
    assert graph.problems == []

    assert graph.named("api-config", CONNECTION_CONFIG).inputs["config"] == "[secret]"
    assert is_secret(sent["api-config"]["config"])
    assert URL_TOKEN not in json.dumps(graph.result.to_json())


def test_a_config_without_credentials_stays_readable_in_review(render, calls):
    config = {
        "bucket": "acme-events",
        "role_arn": "arn:aws:iam::123456789012:role/r",
        "token_url": "https://h/t",
    }
    graph = render([connector("s3", service="s3", config=config)], calls=calls)
    assert graph.problems == []

    assert json.loads(graph.named("s3-config", CONNECTION_CONFIG).inputs["config"]) == config
