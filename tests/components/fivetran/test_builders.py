"""The pure spec → provider-argument and status builders, without Pulumi."""

from __future__ import annotations

import json
from typing import Any

from components.fivetran import builders
from components.fivetran.package import ConnectorPackage
from components.fivetran.spec import FivetranConnectorSpec


def spec(**fields: Any) -> FivetranConnectorSpec:
    data: dict[str, Any] = {
        "groupId": "decent_dropsy",
        "service": "salesforce",
        "destinationSchema": {"name": "sf"},
    }
    data.update(fields)
    return FivetranConnectorSpec.model_validate(data)


def test_connection_args_leave_unset_destination_fields_out():
    args = builders.connection_args(spec(destinationSchema={"prefix": "pg"}))
    assert args["destination_schema"] == {"prefix": "pg"}
    assert args["service"] == "salesforce"
    assert args["group_id"] == "decent_dropsy"


def test_setup_tests_run_where_config_and_auth_are_applied_not_at_creation():
    requested = spec(runSetupTests=True, auth={"api_key": "k"})
    assert builders.connection_config_flags(requested)["run_setup_tests"] is True
    assert builders.connection_args(requested)["run_setup_tests"] is False


def test_without_config_or_auth_the_connection_itself_runs_the_setup_tests():
    requested = spec(runSetupTests=True)
    assert not builders.has_connection_config(requested)
    assert builders.connection_args(requested)["run_setup_tests"] is True
    assert builders.connection_args(spec())["run_setup_tests"] is False


def test_json_text_is_stable_whatever_the_key_order():
    assert builders.json_text({"b": 1, "a": {"d": 2, "c": 3}}) == builders.json_text(
        {"a": {"c": 3, "d": 2}, "b": 1}
    )
    assert json.loads(builders.json_text({"port": 5432})) == {"port": 5432}


def test_references_are_found_anywhere_and_listed_once():
    value = {"a": "vault://kv/x#k", "b": ["vault://kv/x#k", {"c": "vault://kv/y/z#t"}], "d": "plain"}
    assert builders.references(value) == ["vault://kv/x#k", "vault://kv/y/z#t"]
    assert builders.has_references(value)
    assert not builders.has_references({"a": "plain", "b": [1, 2]})


def test_schedule_args_are_strings_and_daily_time_only_when_given():
    daily = spec(schedule={"syncFrequency": 1440, "dailySyncTime": "23:00"}).schedule
    hourly = spec(schedule={"syncFrequency": 60}).schedule
    assert daily is not None
    assert hourly is not None
    assert builders.schedule_args(daily) == {
        "schedule_type": "auto",
        "sync_frequency": "1440",
        "daily_sync_time": "23:00",
    }
    assert builders.schedule_args(hourly) == {"schedule_type": "auto", "sync_frequency": "60"}


def test_sync_mode_is_sent_only_when_asked_for():
    schema_config = spec(
        schemaConfig={"schemas": {"s": {"tables": {"with": {"syncMode": "LIVE"}, "without": {}}}}}
    ).schema_config
    assert schema_config is not None
    tables = builders.schema_config_args(schema_config)["schemas"]["s"]["tables"]
    assert tables["with"]["sync_mode"] == "LIVE"
    assert "sync_mode" not in tables["without"]


def test_status_without_a_live_reading_has_no_setup_state_and_no_requeue():
    status = builders.connector_status(spec(), "conn_1", None)
    assert status["connectorId"] == "conn_1"
    assert status["setupState"] is None
    assert "requeueAfterSeconds" not in status


def test_health_is_unknown_until_fivetran_reports_the_setup_state():
    status = builders.connector_status(spec(), "conn_1", None)
    assert (status["ready"], status["reason"]) == ("Unknown", "NotReported")


def test_a_connected_setup_is_ready():
    status = builders.connector_status(
        spec(), "conn_1", {"setup_state": "connected", "sync_state": "scheduled"}
    )
    assert (status["ready"], status["reason"], status["message"]) == (
        "True",
        "SetupConnected",
        "setup connected; sync scheduled",
    )


def test_broken_setup_is_not_ready_and_names_what_fivetran_asks_for():
    live = {
        "setup_state": "broken",
        "tasks": [{"code": "reconnect", "message": "Reconnect: the OAuth token was revoked"}],
        "warnings": [{"code": "w", "message": "Schema changed"}],
    }
    status = builders.connector_status(spec(), "conn_1", live)
    assert (status["ready"], status["reason"]) == ("False", "SetupBroken")
    assert status["message"] == "setup broken: Reconnect: the OAuth token was revoked; Schema changed"


def test_status_requeues_while_setup_is_not_connected():
    live = {"setup_state": "incomplete", "warnings": [{"code": "c", "message": "m"}], "tasks": None}
    status = builders.connector_status(spec(), "conn_1", live)
    assert status["setupState"] == "incomplete"
    assert status["warnings"] == [{"code": "c", "message": "m"}]
    assert status["tasks"] == []
    assert status["requeueAfterSeconds"] == builders.RECHECK_SETUP_SECONDS


def test_status_names_references_but_carries_no_config_or_auth_values():
    status = builders.connector_status(
        spec(config={"host": "db.internal"}, auth={"password": "vault://kv/db#password", "user": "loader"}),
        "conn_1",
        {"setup_state": "connected"},
    )
    text = json.dumps(status)
    assert "db.internal" not in text
    assert "loader" not in text
    assert status["vaultReferences"] == ["vault://kv/db#password"]


def sdk_spec(**fields: Any) -> FivetranConnectorSpec:
    return spec(service="connector_sdk", package="virtuous", destinationSchema={"name": "virtuous"}, **fields)


def test_connector_sdk_config_passes_the_configuration_as_sorted_key_value_strings():
    config = builders.connector_sdk_config(
        sdk_spec(config={"parallel_requests": "8", "bearer_token": "vault://kv/v#token"}), "pkg_1"
    )
    assert config == {
        "package_id": "pkg_1",
        "python_version": "3.11",
        "secrets_list": [
            {"key": "bearer_token", "value": "vault://kv/v#token"},
            {"key": "parallel_requests", "value": "8"},
        ],
    }
    assert builders.references(config) == ["vault://kv/v#token"]


def test_connector_sdk_config_without_configuration_sends_no_secrets_list():
    config = builders.connector_sdk_config(sdk_spec(pythonVersion="3.12.8"), "pkg_1")
    assert config == {"package_id": "pkg_1", "python_version": "3.12.8"}


def test_status_of_a_package_names_the_code_not_the_configuration():
    requested = sdk_spec(config={"bearer_token": "literal-token"})
    package = ConnectorPackage(
        name="virtuous", file_path=".driftless/packages/virtuous-0123456789abcdef.zip", sha256="ab" * 32
    )
    status = builders.connector_status(
        requested, "conn_1", None, builders.package_status(requested, package, "pkg_1")
    )
    assert status["package"] == {
        "name": "virtuous",
        "packageId": "pkg_1",
        "filePath": ".driftless/packages/virtuous-0123456789abcdef.zip",
        "sha256": "ab" * 32,
        "pythonVersion": "3.11",
    }
    assert "literal-token" not in json.dumps(status)
