"""FivetranConnector under mocks: what reaches Fivetran, what stays secret, what the status says."""

from __future__ import annotations

import json
from typing import Any

from automation.render.values import is_secret
from tests.components.fivetran.conftest import GET_CONNECTION, VAULT_READ, connection_answer

CONNECTION = "fivetran:index/connection:Connection"
CONNECTION_CONFIG = "fivetran:index/connectionConfig:ConnectionConfig"
SCHEMA_CONFIG = "fivetran:index/connectorSchemaConfig:ConnectorSchemaConfig"
SCHEDULE = "fivetran:index/connectorSchedule:ConnectorSchedule"
PAUSE_STATE = "fivetran:index/connectionV2PauseState:ConnectionV2PauseState"
VAULT_PROVIDER = "pulumi:providers:vault"
COMPONENT = "driftless:fivetran:FivetranConnector"

SECRET_VALUE = "s3cr3t-from-vault"


def connector(name: str = "sf", **spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "groupId": "decent_dropsy",
        "service": "salesforce",
        "destinationSchema": {"name": "salesforce"},
    }
    base.update(spec)
    return {"kind": "FivetranConnector", "metadata": {"name": name}, "spec": base}


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def test_connection_receives_service_group_destination_schema_and_flags(render, calls):
    graph = render(
        [
            connector(
                destinationSchema={"name": "files", "table": "orders"},
                config={"domain": "acme"},
                runSetupTests=True,
                trustCertificates=True,
                trustFingerprints=True,
                paused=True,
            )
        ],
        calls=calls,
    )
    assert graph.problems == []

    connection = graph.named("sf", CONNECTION).inputs
    assert connection["service"] == "salesforce"
    assert connection["groupId"] == "decent_dropsy"
    assert connection["destinationSchema"] == {"name": "files", "table": "orders"}
    assert connection["trustCertificates"] is True
    assert connection["trustFingerprints"] is True

    config = graph.named("sf-config", CONNECTION_CONFIG).inputs
    assert config["connectionId"] == "sf-id"
    assert json.loads(config["config"]) == {"domain": "acme"}
    assert config["runSetupTests"] is True
    assert config["trustCertificates"] is True
    assert config["trustFingerprints"] is True

    assert graph.named("sf-pause", PAUSE_STATE).inputs == {"connectionId": "sf-id", "paused": True}


def test_every_resource_belongs_to_the_component_and_is_named_after_the_document(render, calls):
    graph = render([connector(schedule={"syncFrequency": 60}, schemaConfig={})], calls=calls)
    assert graph.named("sf", COMPONENT).parent is None
    children = graph.children("sf")
    assert {r.type for r in children} == {CONNECTION, CONNECTION_CONFIG, SCHEMA_CONFIG, SCHEDULE, PAUSE_STATE}
    assert all(r.name == "sf" or r.name.startswith("sf-") for r in children)


def test_setup_tests_are_off_unless_asked_for(render, calls):
    graph = render([connector()], calls=calls)
    assert graph.named("sf-config", CONNECTION_CONFIG).inputs["runSetupTests"] is False
    assert graph.named("sf-pause", PAUSE_STATE).inputs["paused"] is False


def test_auth_from_vault_is_secret_and_no_reference_reaches_fivetran(render, calls):
    sent: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []

    def vault(call: Any) -> dict[str, Any]:
        reads.append(dict(call.args))
        return calls[VAULT_READ](call)

    def record(args: Any) -> dict[str, Any]:
        sent.append(dict(args.inputs))
        return {}

    graph = render(
        [
            connector(
                config={"domain": "acme"},
                auth={
                    "client_id": "fivetran",
                    "client_secret": "vault://kv/fivetran/salesforce#client_secret",
                },
            )
        ],
        calls={**calls, VAULT_READ: vault},
        outputs={CONNECTION_CONFIG: record},
    )
    assert graph.problems == []
    assert graph.named("sf-config", CONNECTION_CONFIG).inputs["auth"] == "[secret]"
    assert reads == [{"mount": "kv", "name": "fivetran/salesforce"}]

    # What the provider receives is the resolved document, as one secret, never the reference.
    auth = sent[0]["auth"]
    assert is_secret(auth)
    assert json.loads(auth["value"]) == {"client_id": "fivetran", "client_secret": SECRET_VALUE}

    fivetran = [r for r in graph.resources if r.type.startswith("fivetran:")]
    for resource in fivetran:
        assert not [s for s in strings(resource.inputs) if "vault://" in s], resource.name
    rendered = json.dumps(graph.result.to_json())
    assert SECRET_VALUE not in rendered


def test_config_with_a_reference_is_secret_as_a_whole_wherever_it_goes(render, calls):
    graph = render(
        [connector(config={"host": "db", "password": "vault://kv/fivetran/salesforce#client_secret"})],
        calls=calls,
    )
    assert graph.problems == []
    assert graph.named("sf", CONNECTION).inputs["config"] == "[secret]"
    assert graph.named("sf-config", CONNECTION_CONFIG).inputs["config"] == "[secret]"


def test_auth_is_secret_even_without_a_reference(render, calls):
    graph = render([connector(auth={"api_key": "literal"})], calls=calls)
    assert graph.named("sf-config", CONNECTION_CONFIG).inputs["auth"] == "[secret]"
    assert graph.of_type(VAULT_PROVIDER) == []


def test_a_missing_vault_key_fails_the_render_instead_of_sending_a_blank(render, calls):
    graph = render(
        [connector(auth={"password": "vault://kv/fivetran/salesforce#no_such_key"})],
        calls=calls,
    )
    assert any("no_such_key" in problem for problem in graph.problems)


def test_two_connectors_share_one_vault_provider(render, calls):
    reference = "vault://kv/fivetran/salesforce#client_secret"
    graph = render(
        [
            connector("sf", auth={"client_secret": reference}),
            connector(
                "pg", service="postgres", destinationSchema={"prefix": "pg"}, config={"password": reference}
            ),
        ],
        calls=calls,
    )
    assert graph.problems == []
    assert len(graph.of_type(VAULT_PROVIDER)) == 1
    assert len(graph.of_type(CONNECTION)) == 2


def test_no_vault_provider_without_a_reference(render, calls):
    graph = render([connector(config={"domain": "acme"})], calls=calls)
    assert graph.of_type(VAULT_PROVIDER) == []


def test_schema_config_carries_the_exact_table_and_column_flags(render, calls):
    graph = render(
        [
            connector(
                schemaConfig={
                    "changeHandling": "BLOCK_ALL",
                    "validationLevel": "COLUMNS",
                    "schemas": {
                        "salesforce": {
                            "tables": {
                                "account": {
                                    "syncMode": "HISTORY",
                                    "columns": {"ssn": {"hashed": True}, "notes": {"enabled": False}},
                                },
                                "lead": {"enabled": False},
                            }
                        },
                        "archive": {"enabled": False},
                    },
                }
            )
        ],
        calls=calls,
    )
    assert graph.problems == []
    schema = graph.named("sf-schema", SCHEMA_CONFIG).inputs
    assert schema["connectorId"] == "sf-id"
    assert schema["schemaChangeHandling"] == "BLOCK_ALL"
    assert schema["validationLevel"] == "COLUMNS"
    assert schema["schemas"] == {
        "salesforce": {
            "enabled": True,
            "tables": {
                "account": {
                    "enabled": True,
                    "syncMode": "HISTORY",
                    "columns": {
                        "ssn": {"enabled": True, "hashed": True},
                        "notes": {"enabled": False, "hashed": False},
                    },
                },
                "lead": {"enabled": False, "columns": {}},
            },
        },
        "archive": {"enabled": False, "tables": {}},
    }


def test_schema_config_and_schedule_only_when_given(render, calls):
    graph = render([connector()], calls=calls)
    assert graph.of_type(SCHEMA_CONFIG) == []
    assert graph.of_type(SCHEDULE) == []


def test_schedule_when_given(render, calls):
    graph = render(
        [
            connector("daily", schedule={"syncFrequency": 1440, "dailySyncTime": "03:00"}),
            connector("hourly", destinationSchema={"name": "hourly"}, schedule={"syncFrequency": 60}),
        ],
        calls=calls,
    )
    assert graph.problems == []
    daily = graph.named("daily-schedule", SCHEDULE).inputs
    assert daily["connectorId"] == "daily-id"
    assert daily["syncFrequency"] == "1440"
    assert daily["dailySyncTime"] == "03:00"
    hourly = graph.named("hourly-schedule", SCHEDULE).inputs
    assert hourly["syncFrequency"] == "60"
    assert "dailySyncTime" not in hourly
    # The pause state has its own resource; the schedule must not fight it.
    assert "paused" not in daily


def test_status_reports_connector_id_setup_state_and_schedule_without_secrets(render, calls):
    graph = render(
        [
            connector(
                auth={"client_secret": "vault://kv/fivetran/salesforce#client_secret"},
                runSetupTests=True,
                schedule={"syncFrequency": 360},
            )
        ],
        calls=calls,
    )
    status = graph.outputs()["FivetranConnector/sf"]
    assert status["connectorId"] == "sf-id"
    assert status["setupState"] == "connected"
    assert status["setupTests"] == {"requested": True}
    assert status["paused"] is False
    assert status["schedule"]["syncFrequency"] == 360
    assert status["vaultReferences"] == ["vault://kv/fivetran/salesforce#client_secret"]
    assert "requeueAfterSeconds" not in status
    assert SECRET_VALUE not in json.dumps(status)


def test_failed_setup_is_surfaced_and_rechecked(render, calls):
    warning = {"code": "setup_test_failed", "message": "Cannot connect: wrong password"}
    graph = render(
        [connector(runSetupTests=True)],
        calls={**calls, GET_CONNECTION: connection_answer("broken", [warning])},
    )
    status = graph.outputs()["FivetranConnector/sf"]
    assert status["setupState"] == "broken"
    assert status["warnings"] == [warning]
    assert status["requeueAfterSeconds"] > 0


def test_preview_renders_without_any_provider_answer(render):
    graph = render([connector(config={"domain": "acme"}, schedule={"syncFrequency": 15})])
    assert graph.problems == []
    assert len(graph.of_type(CONNECTION)) == 1
    assert "FivetranConnector/sf" in graph.outputs()


def test_connector_sdk_with_a_package_renders_and_names_the_package_in_status(render, calls):
    graph = render(
        [
            connector(
                "orders", service="connector_sdk", package="orders_api", config={"base_url": "https://x"}
            )
        ],
        calls=calls,
    )
    assert graph.problems == []
    assert graph.named("orders", CONNECTION).inputs["service"] == "connector_sdk"
    assert graph.outputs()["FivetranConnector/orders"]["package"] == "orders_api"
