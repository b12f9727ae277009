"""FivetranConnector under mocks: what reaches Fivetran, what stays secret, what the status says."""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

from automation.daemon.health import component_health, not_ready_message
from automation.render.render import PROJECT_DIR
from automation.render.values import is_secret
from components.common.archive import sha256_of
from tests.components.fivetran.conftest import (
    GET_CONNECTION,
    PACKAGE_ID,
    SDK_PACKAGE,
    VAULT_READ,
    FivetranMocks,
    connection_answer,
)

CONNECTION = "fivetran:index/connection:Connection"
CONNECTION_CONFIG = "fivetran:index/connectionConfig:ConnectionConfig"
SCHEMA_CONFIG = "fivetran:index/connectorSchemaConfig:ConnectorSchemaConfig"
SCHEDULE = "fivetran:index/connectorSchedule:ConnectorSchedule"
PAUSE_STATE = "fivetran:index/connectionV2PauseState:ConnectionV2PauseState"
VAULT_PROVIDER = "pulumi:providers:vault"
COMPONENT = "driftless:fivetran:FivetranConnector"

SECRET_VALUE = "s3cr3t-from-vault"
PACKAGE_PATH = re.compile(r"^\.driftless/packages/(?P<name>[\w.-]+)-(?P<hash>[0-9a-f]{16})\.zip$")


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
    graph = render(
        [connector(config={"domain": "acme"}, schedule={"syncFrequency": 60}, schemaConfig={})], calls=calls
    )
    assert graph.named("sf", COMPONENT).parent is None
    children = graph.children("sf")
    assert {r.type for r in children} == {CONNECTION, CONNECTION_CONFIG, SCHEMA_CONFIG, SCHEDULE, PAUSE_STATE}
    assert all(r.name == "sf" or r.name.startswith("sf-") for r in children)


def test_setup_tests_are_off_unless_asked_for(render, calls):
    graph = render([connector(config={"domain": "acme"})], calls=calls)
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
    assert status["setupTests"] == {"requested": True, "passed": "True"}
    assert status["paused"] is False
    assert status["schedule"]["syncFrequency"] == 360
    assert status["vaultReferences"] == ["vault://kv/fivetran/salesforce#client_secret"]
    assert "requeueAfterSeconds" not in status
    assert SECRET_VALUE not in json.dumps(status)


def test_a_connection_with_nothing_to_configure_gets_no_connection_config_yet_is_scheduled_and_paused(
    render, calls
):
    # A Connect Card (OAuth) connection: authorized in Fivetran's UI, nothing to send.
    graph = render(
        [
            connector(
                paused=True,
                schedule={"syncFrequency": 60},
                schemaConfig={"schemas": {"salesforce": {"tables": {"lead": {"enabled": False}}}}},
            )
        ],
        calls=calls,
    )
    assert graph.problems == []
    assert graph.of_type(CONNECTION_CONFIG) == []
    assert "config" not in graph.named("sf", CONNECTION).inputs
    schedule = graph.named("sf-schedule", SCHEDULE)
    schema = graph.named("sf-schema", SCHEMA_CONFIG)
    assert schedule.inputs["syncFrequency"] == "60"
    assert schedule.depends_on == ("sf",)
    assert schema.depends_on == ("sf",)
    pause = graph.named("sf-pause", PAUSE_STATE)
    assert pause.inputs == {"connectionId": "sf-id", "paused": True}
    assert set(pause.depends_on) == {"sf", "sf-schedule", "sf-schema"}
    assert graph.outputs()["FivetranConnector/sf"]["ready"] == "True"


def test_without_a_connection_config_the_connection_runs_the_requested_setup_tests(render, calls):
    graph = render([connector(runSetupTests=True), connector("other", destinationSchema={"name": "o"})])
    assert graph.named("sf", CONNECTION).inputs["runSetupTests"] is True
    assert graph.named("other", CONNECTION).inputs["runSetupTests"] is False


def test_config_or_auth_alone_is_enough_for_a_connection_config(render, calls):
    graph = render(
        [
            connector("cfg", destinationSchema={"name": "cfg"}, config={"domain": "acme"}),
            connector("oauth", destinationSchema={"name": "oauth"}, auth={"refresh_token": "t"}),
        ],
        calls=calls,
    )
    assert graph.problems == []
    assert {r.name for r in graph.of_type(CONNECTION_CONFIG)} == {"cfg-config", "oauth-config"}
    assert "auth" not in graph.named("cfg-config", CONNECTION_CONFIG).inputs
    assert "config" not in graph.named("oauth-config", CONNECTION_CONFIG).inputs


def test_turning_setup_tests_on_replaces_the_connection_config_so_the_tests_run(render, calls):
    # The provider's ConnectionConfig update is a no-op unless config or auth changed; its create
    # (delete is a no-op) sends both with run_setup_tests, so a flag change must replace it.
    graph = render([connector(config={"domain": "acme"}, runSetupTests=True)], calls=calls)
    config = graph.named("sf-config", CONNECTION_CONFIG)
    assert config.inputs["runSetupTests"] is True
    assert config.replace_on_changes == ("runSetupTests",)
    assert graph.named("sf", CONNECTION).replace_on_changes == ()
    rendered = {r["name"]: r for r in graph.result.to_json()["resources"]}
    assert rendered["sf-config"]["replaceOnChanges"] == ["runSetupTests"]


# --- adopting a connection that already exists ----------------------------------------------------


def test_connection_id_imports_the_existing_connection_instead_of_creating_one(render, calls):
    sent: list[Any] = []

    def record(args: Any) -> dict[str, Any]:
        sent.append((args.name, args.resource_id))
        return {}

    graph = render(
        [
            connector(
                connectionId="existing_conn", config={"domain": "acme"}, schedule={"syncFrequency": 60}
            ),
            connector("new", destinationSchema={"name": "fresh"}),
        ],
        mock=FivetranMocks(outputs={CONNECTION: record}, calls=calls),
    )
    assert graph.problems == []
    adopted = graph.named("sf", CONNECTION)
    assert adopted.import_id == "existing_conn"
    assert graph.named("new", CONNECTION).import_id is None
    # The provider is asked to read the existing id, and every setting lands on it.
    assert ("sf", "existing_conn") in sent
    assert graph.named("sf-config", CONNECTION_CONFIG).inputs["connectionId"] == "existing_conn"
    assert graph.named("sf-schedule", SCHEDULE).inputs["connectorId"] == "existing_conn"
    assert graph.named("sf-pause", PAUSE_STATE).inputs["connectionId"] == "existing_conn"
    status = graph.outputs()["FivetranConnector/sf"]
    assert status["connectorId"] == "existing_conn"
    assert status["adopted"] is True

    rendered = {r["name"]: r for r in graph.result.to_json()["resources"]}
    assert rendered["sf"]["importId"] == "existing_conn"
    assert "importId" not in rendered["new"]
    assert "importId" not in rendered["sf-config"]


def test_a_malformed_connection_id_is_rejected_with_file_and_line(render, tmp_path: Path):
    path = tmp_path / "dev.yaml"
    text = yaml.safe_dump_all([connector(connectionId="decent dropsy")], sort_keys=False)
    path.write_text(text, encoding="utf-8")
    graph = render(path)
    line = text.splitlines().index("  connectionId: decent dropsy") + 1
    assert graph.resources == []
    assert len(graph.problems) == 1
    assert graph.problems[0].startswith(f"{path}:{line}: FivetranConnector/sf: spec.connectionId: ")
    assert "is not a Fivetran connection id" in graph.problems[0]


def test_two_documents_cannot_adopt_one_connection(render, tmp_path: Path):
    path = tmp_path / "dev.yaml"
    documents = [
        connector("a", connectionId="existing_conn"),
        connector("b", destinationSchema={"name": "b"}, connectionId="existing_conn"),
    ]
    text = yaml.safe_dump_all(documents, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    graph = render(path)
    second = [i for i, line in enumerate(text.splitlines(), 1) if line == "  connectionId: existing_conn"][1]
    assert graph.resources == []
    assert len(graph.problems) == 1
    assert graph.problems[0].startswith(f"{path}:{second}: FivetranConnector/b: spec.connectionId: ")
    assert "FivetranConnector/a" in graph.problems[0]


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


def test_failing_setup_tests_reach_the_stack_status_with_the_failing_message(render, calls):
    task = {"code": "reconnect", "message": "Test 'Connecting to Salesforce' failed: invalid_grant"}
    graph = render(
        [connector(auth={"refresh_token": "t"}, runSetupTests=True)],
        calls={**calls, GET_CONNECTION: connection_answer("incomplete", tasks=[task])},
    )
    status = graph.outputs()["FivetranConnector/sf"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["SetupTestsPassed"]["status"] == "False"
    assert task["message"] in conditions["SetupTestsPassed"]["message"]
    assert conditions["SetupConnected"]["status"] == "False"
    assert status["setupTests"] == {"requested": True, "passed": "False"}

    # What the daemon reads from every component, and so what the stack's status shows.
    [component] = component_health(graph.outputs(), live=True)
    assert (component.ready, component.reason) == ("False", "SetupTestsFailed")
    assert task["message"] in not_ready_message([component])


def test_without_setup_tests_requested_there_is_no_setup_tests_condition(render, calls):
    graph = render([connector(config={"domain": "acme"})], calls=calls)
    status = graph.outputs()["FivetranConnector/sf"]
    assert [c["type"] for c in status["conditions"]] == ["SetupConnected"]
    assert status["setupTests"] == {"requested": False}  # no result to report


def test_preview_renders_without_any_provider_answer(render):
    graph = render([connector(config={"domain": "acme"}, schedule={"syncFrequency": 15})])
    assert graph.problems == []
    assert len(graph.of_type(CONNECTION)) == 1
    assert "FivetranConnector/sf" in graph.outputs()


# --- connector_sdk: the package folder, zipped and uploaded ----------------------------------------


def sdk_connector(name: str = "donors", **spec: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "service": "connector_sdk",
        "package": "virtuous",
        "destinationSchema": {"name": "virtuous"},
        "config": {"base_url": "https://api.virtuoussoftware.com", "parallel_requests": "8"},
    }
    fields.update(spec)
    return connector(name, **fields)


def package_path(file_path: str) -> tuple[str, str]:
    """(connector name, hash prefix) of a ``.driftless/packages/<name>-<hash>.zip`` path, or fail."""
    match = PACKAGE_PATH.match(file_path)
    assert match is not None, file_path
    return match["name"], match["hash"]


def unpacked(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {entry: archive.read(entry) for entry in archive.namelist()}


def test_the_package_is_uploaded_from_a_zip_path_relative_to_the_project(render, sdk_mocks):
    graph = render([sdk_connector()], mock=sdk_mocks)
    assert graph.problems == []

    package = graph.named("donors-package", SDK_PACKAGE)
    assert package.parent == "donors"
    file_path = package.inputs["filePath"]
    # Relative, so the provider's recorded input is the same on every checkout; it resolves
    # against the project folder, which is the provider's working directory under Pulumi.
    # Named after its content, so a code change shows in the rendered input.
    assert package_path(file_path) == ("virtuous", sha256_of(PROJECT_DIR / file_path)[:16])
    contents = unpacked(PROJECT_DIR / file_path)
    assert contents["connector.py"] == (PROJECT_DIR / "connectors/virtuous/connector.py").read_bytes()
    assert contents["common/cursor.py"] == (PROJECT_DIR / "connectors/common/cursor.py").read_bytes()
    assert "configuration.json" not in contents

    status = graph.outputs()["FivetranConnector/donors"]["package"]
    assert status["name"] == "virtuous"
    assert status["packageId"] == PACKAGE_ID
    assert status["sha256"] == sha256_of(PROJECT_DIR / file_path)


def test_the_connection_config_carries_the_package_id_python_and_the_connector_configuration(render, calls):
    sent: dict[str, dict[str, Any]] = {}

    def record(args: Any) -> dict[str, Any]:
        sent[args.name] = dict(args.inputs)
        return {}

    mock = FivetranMocks(outputs={CONNECTION: record, CONNECTION_CONFIG: record}, calls=calls)
    graph = render([sdk_connector(package="connectors/virtuous")], mock=mock)
    assert graph.problems == []

    expected = {
        "package_id": PACKAGE_ID,
        "python_version": "3.11",
        "secrets_list": [
            {"key": "base_url", "value": "https://api.virtuoussoftware.com"},
            {"key": "parallel_requests", "value": "8"},
        ],
    }
    # Both at creation (Fivetran will not create an SDK connection without its package) and after.
    assert json.loads(sent["donors"]["config"]) == expected
    assert json.loads(sent["donors-config"]["config"]) == expected
    assert "donors-package" in graph.named("donors", CONNECTION).depends_on
    assert "donors-package" in graph.named("donors-config", CONNECTION_CONFIG).depends_on
    assert "auth" not in graph.named("donors-config", CONNECTION_CONFIG).inputs


def test_a_document_may_run_its_package_on_a_newer_python(render, sdk_mocks):
    graph = render([sdk_connector(pythonVersion="3.12")], mock=sdk_mocks)
    assert graph.problems == []
    config = json.loads(graph.input("donors-config", "config", CONNECTION_CONFIG))
    assert config["python_version"] == "3.12"
    assert graph.outputs()["FivetranConnector/donors"]["package"]["pythonVersion"] == "3.12"


def test_two_documents_deploying_one_folder_get_a_package_each(render, sdk_mocks):
    # Fivetran ties a package to one connection.
    graph = render(
        [sdk_connector("donors"), sdk_connector("donors-eu", destinationSchema={"name": "virtuous_eu"})],
        mock=sdk_mocks,
    )
    assert graph.problems == []
    packages = graph.of_type(SDK_PACKAGE)
    assert sorted(p.name for p in packages) == ["donors-eu-package", "donors-package"]
    assert packages[0].inputs["filePath"] == packages[1].inputs["filePath"]


def test_the_zip_is_identical_across_renders_and_changes_only_with_the_code(
    render, sdk_mocks, fake_connectors
):
    document = sdk_connector(package=fake_connectors.name)

    def build() -> tuple[str, bytes, dict[str, Any]]:
        graph = render([document], mock=sdk_mocks, config=fake_connectors.config)
        assert graph.problems == []
        file_path = graph.input("donors-package", "filePath", SDK_PACKAGE)
        assert package_path(file_path)[0] == fake_connectors.name
        return file_path, (PROJECT_DIR / file_path).read_bytes(), graph.outputs()["FivetranConnector/donors"]

    first_path, first, first_status = build()
    os.utime(fake_connectors.folder / "connector.py", (1, 1))  # a touched file is not a change
    second_path, second, second_status = build()
    assert (second_path, second, second_status) == (first_path, first, first_status)

    (fake_connectors.root / "common" / "util.py").write_text("RETRIES = 5\n", encoding="utf-8")
    changed_path, changed, changed_status = build()
    assert changed_path != first_path
    assert changed != first
    assert unpacked(PROJECT_DIR / changed_path)["common/util.py"] == b"RETRIES = 5\n"
    assert changed_status["package"]["sha256"] == hashlib.sha256(changed).hexdigest()
    assert changed_status["package"]["sha256"] != first_status["package"]["sha256"]
    # The version a running update may still be reading is left alone.
    assert (PROJECT_DIR / first_path).read_bytes() == first


def test_a_missing_package_folder_is_rejected_with_file_and_line(render, tmp_path: Path):
    path = tmp_path / "dev.yaml"
    text = yaml.safe_dump_all([connector(), sdk_connector(package="no_such_connector")], sort_keys=False)
    path.write_text(text, encoding="utf-8")
    graph = render(path)
    line = text.splitlines().index("  package: no_such_connector") + 1
    assert graph.resources == []
    assert graph.problems == [
        f"{path}:{line}: FivetranConnector/donors: spec.package: no connector folder 'no_such_connector' "
        "in connectors/ (connectors there: everyaction, ongage, sa360, virtuous)"
    ]


def test_a_folder_without_connector_py_is_rejected_with_file_and_line(render, tmp_path, fake_connectors):
    (fake_connectors.folder / "connector.py").rename(fake_connectors.folder / "main.py")
    path = tmp_path / "dev.yaml"
    text = yaml.safe_dump_all([sdk_connector(package=fake_connectors.name)], sort_keys=False)
    path.write_text(text, encoding="utf-8")
    graph = render(path, config=fake_connectors.config)
    line = text.splitlines().index(f"  package: {fake_connectors.name}") + 1
    assert graph.resources == []
    assert len(graph.problems) == 1
    assert graph.problems[0].startswith(f"{path}:{line}: FivetranConnector/donors: spec.package: ")
    assert "has no connector.py" in graph.problems[0]
    assert fake_connectors.built_zips() == []


def test_a_package_on_another_service_is_rejected_with_file_and_line(render, tmp_path: Path):
    path = tmp_path / "dev.yaml"
    text = yaml.safe_dump_all([connector(package="virtuous")], sort_keys=False)
    path.write_text(text, encoding="utf-8")
    graph = render(path)
    line = text.splitlines().index("  package: virtuous") + 1
    assert graph.resources == []
    assert graph.problems == [
        f"{path}:{line}: FivetranConnector/sf: spec.package: "
        "package is only allowed with service 'connector_sdk', not 'salesforce'"
    ]


def test_connector_credentials_from_vault_never_appear_in_the_render(render, calls):
    sent: list[dict[str, Any]] = []

    def record(args: Any) -> dict[str, Any]:
        sent.append(dict(args.inputs))
        return {}

    graph = render(
        [sdk_connector(config={"bearer_token": "vault://kv/fivetran/salesforce#client_secret"})],
        mock=FivetranMocks(outputs={CONNECTION_CONFIG: record}, calls=calls),
    )
    assert graph.problems == []
    assert graph.named("donors-config", CONNECTION_CONFIG).inputs["config"] == "[secret]"
    assert graph.named("donors", CONNECTION).inputs["config"] == "[secret]"

    # Fivetran gets the resolved token, as a secret, in the connector's configuration.
    config = sent[0]["config"]
    assert is_secret(config)
    assert json.loads(config["value"])["secrets_list"] == [{"key": "bearer_token", "value": SECRET_VALUE}]

    for resource in graph.resources:
        assert not [s for s in strings(resource.inputs) if "vault://" in s], resource.name
    rendered = json.dumps(graph.result.to_json())
    assert SECRET_VALUE not in rendered
    file_path = graph.input("donors-package", "filePath", SDK_PACKAGE)
    assert SECRET_VALUE.encode() not in (PROJECT_DIR / file_path).read_bytes()


def test_a_connector_sdk_preview_renders_before_the_package_exists(render):
    graph = render([sdk_connector()])
    assert graph.problems == []
    assert package_path(graph.input("donors-package", "filePath", SDK_PACKAGE))[0] == "virtuous"
    assert "FivetranConnector/donors" in graph.outputs()
