"""The pure spec → provider-argument and status builders, without Pulumi."""

from __future__ import annotations

import json
from typing import Any

from components.fivetran import builders
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
    requested = spec(runSetupTests=True)
    assert builders.connection_config_flags(requested)["run_setup_tests"] is True
    assert builders.connection_args(requested)["run_setup_tests"] is False


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
