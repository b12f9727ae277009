"""Pure functions from a FivetranConnector spec to the provider's arguments, and to its status.

Nothing here touches Pulumi: the component resolves Vault references and wires these values into
resources. The argument dicts use the provider's Python argument names (snake_case), so they can be
passed to the resource constructors as ``**kwargs``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from components.common import masking
from components.common.health import FALSE, TRUE, health
from components.common.vault import find_references
from components.fivetran.package import ConnectorPackage
from components.fivetran.spec import CONNECTOR_SDK_SERVICE, FivetranConnectorSpec, Schedule, SchemaConfig

# When Fivetran reports a setup state other than this, the connection needs attention (wrong
# credentials, a source that went away). Re-check periodically: the state can change without any
# change to the stack, e.g. once a firewall rule is fixed.
CONNECTED = "connected"
RECHECK_SETUP_SECONDS = 900


def references(value: Any) -> list[str]:
    """Every ``vault://`` reference inside ``value``, as text, sorted and unique."""
    return sorted({str(reference) for reference in find_references(value)})


def has_references(value: Any) -> bool:
    return next(iter(find_references(value)), None) is not None


def holds_credentials(value: Mapping[str, Any]) -> bool:
    """Whether a document's ``config``/``auth`` shows a credential as a literal: a value under a
    credential-named key (``secret_key``, ``bearer_token``, ``apiKey``…) or a URL with a user
    part or a token parameter. Such a JSON document is sent as a Pulumi secret as a whole."""
    return masking.holds_credentials(dict(value))


def json_text(value: Mapping[str, Any]) -> str:
    """Stable JSON (sorted keys) so an unchanged spec never shows a diff."""
    return json.dumps(value, sort_keys=True)


def has_connection_config(spec: FivetranConnectorSpec) -> bool:
    """Whether there is anything for a ``ConnectionConfig`` to apply.

    A connection authorized in Fivetran's own UI (Connect Card, OAuth) may have neither config nor
    auth here; the provider refuses a ``ConnectionConfig`` with both empty, so there is none then.
    A ``connector_sdk`` connection always has config: its package id.
    """
    return bool(spec.config or spec.auth or spec.service == CONNECTOR_SDK_SERVICE)


def connection_args(spec: FivetranConnectorSpec) -> dict[str, Any]:
    """The ``Connection`` resource's arguments, without config (the component adds it, maybe secret)."""
    return {
        "service": spec.service,
        "group_id": spec.group_id,
        "destination_schema": spec.destination_schema.to_provider(),
        "trust_certificates": spec.trust_certificates,
        "trust_fingerprints": spec.trust_fingerprints,
        # With a ConnectionConfig, setup tests at creation would run before auth exists (it is
        # applied by ConnectionConfig) and fail: they run there, once config and auth are in place.
        # Without one, the connection is the only place: the provider runs them on its create and
        # on every update, and a change of this flag alone is an update.
        "run_setup_tests": spec.run_setup_tests and not has_connection_config(spec),
    }


# What Fivetran holds for an adopted connection but the provider never reads back: importing
# compares the read state with the document, so these would fail the import as a difference.
# ConnectionConfig applies config and the flags from then on.
ADOPTED_CONNECTION_UNREAD = ["config", "runSetupTests", "trustCertificates", "trustFingerprints"]

# ConnectionConfig's provider update sends nothing (and runs no tests) when only its flags change,
# while its create always sends config and auth with the flags: replacing it (its delete is a no-op)
# is what makes turning runSetupTests on run the tests on the next up.
RERUN_SETUP_TESTS_ON_CHANGE_OF = ["runSetupTests"]


def connector_sdk_config(spec: FivetranConnectorSpec, package_id: Any) -> dict[str, Any]:
    """The config Fivetran takes for a ``connector_sdk`` connection.

    ``package_id`` names the uploaded code (the package resource's id; passed through untouched,
    so the component can hand over an Output). The document's ``config`` is the connector's own
    configuration: Fivetran passes it to ``update()``/``schema()`` from ``secrets_list``, as
    key/value strings, sorted here so an unchanged document never shows a diff.
    """
    config: dict[str, Any] = {"package_id": package_id, "python_version": spec.sdk_python_version}
    # Left out when empty: Fivetran's own deploy tool does not send an empty list either.
    if spec.config:
        config["secrets_list"] = [{"key": key, "value": value} for key, value in sorted(spec.config.items())]
    return config


def package_status(
    spec: FivetranConnectorSpec, package: ConnectorPackage, package_id: str | None
) -> dict[str, Any]:
    """The package part of the status: which code is deployed (its hash), never its configuration."""
    return {
        "name": package.name,
        "packageId": package_id,
        "filePath": package.file_path,
        "sha256": package.sha256,
        "pythonVersion": spec.sdk_python_version,
    }


def connection_config_flags(spec: FivetranConnectorSpec) -> dict[str, Any]:
    """The ``ConnectionConfig`` resource's flags; config and auth JSON are added by the component."""
    return {
        "run_setup_tests": spec.run_setup_tests,
        "trust_certificates": spec.trust_certificates,
        "trust_fingerprints": spec.trust_fingerprints,
    }


def schema_config_args(schema_config: SchemaConfig) -> dict[str, Any]:
    """The ``ConnectorSchemaConfig`` resource's arguments: every given flag, exactly as given."""
    return {
        "schema_change_handling": schema_config.change_handling,
        "validation_level": schema_config.validation_level,
        "schemas": {
            schema_name: {
                "enabled": schema.enabled,
                "tables": {
                    table_name: _table(table.enabled, table.sync_mode, table.columns)
                    for table_name, table in schema.tables.items()
                },
            }
            for schema_name, schema in schema_config.schemas.items()
        },
    }


def _table(enabled: bool, sync_mode: str | None, columns: Mapping[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {"enabled": enabled}
    # Only when asked for: the provider reports endless drift on sync_mode for connectors that
    # do not support switching it, so an unset mode stays Fivetran's choice.
    if sync_mode is not None:
        table["sync_mode"] = sync_mode
    table["columns"] = {
        column_name: {"enabled": column.enabled, "hashed": column.hashed}
        for column_name, column in columns.items()
    }
    return table


def schedule_args(schedule: Schedule) -> dict[str, Any]:
    """The ``ConnectorSchedule`` resource's arguments (the provider takes these values as strings).

    ``paused`` is deliberately absent: the pause state has its own resource, which exists whether
    or not a schedule is given, and two resources must not manage the same field.
    """
    args: dict[str, Any] = {
        "schedule_type": "auto",
        "sync_frequency": str(schedule.sync_frequency),
    }
    if schedule.daily_sync_time is not None:
        args["daily_sync_time"] = schedule.daily_sync_time
    return args


def connector_status(
    spec: FivetranConnectorSpec,
    connector_id: str | None,
    live: Mapping[str, Any] | None,
    package: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The component's status: what the daemon reports and needs, never a secret.

    ``live`` is Fivetran's own view of the connection (``getConnection``'s ``status`` block:
    ``setup_state``, ``sync_state``, ``update_state``, ``warnings``, ``tasks``) or None when it
    has not been read (a preview of a connection that does not exist yet). ``package`` is the
    :func:`package_status` of a ``connector_sdk`` connection.
    """
    live = live or {}
    setup_state = live.get("setup_state")
    conditions = setup_conditions(spec, live)
    status: dict[str, Any] = {
        **_health(spec, conditions),
        "conditions": conditions,
        "connectorId": connector_id,
        "adopted": spec.connection_id is not None,
        "service": spec.service,
        "groupId": spec.group_id,
        "destinationSchema": spec.destination_schema.to_provider(),
        "paused": spec.paused,
        "schedule": (
            {"syncFrequency": spec.schedule.sync_frequency, "dailySyncTime": spec.schedule.daily_sync_time}
            if spec.schedule
            else None
        ),
        "schemaConfig": (
            {
                "changeHandling": spec.schema_config.change_handling,
                "validationLevel": spec.schema_config.validation_level,
            }
            if spec.schema_config
            else None
        ),
        "setupTests": {
            "requested": spec.run_setup_tests,
            "passed": _condition_value(conditions, SETUP_TESTS_PASSED),
        },
        "setupState": setup_state,
        "syncState": live.get("sync_state"),
        "updateState": live.get("update_state"),
        "warnings": _messages(live.get("warnings")),
        "tasks": _messages(live.get("tasks")),
        # The references only (never values), so the daemon knows which Vault paths feed this connector.
        "vaultReferences": references({"config": spec.config, "auth": spec.auth}),
    }
    if package is not None:
        status["package"] = dict(package)
    if setup_state is not None and setup_state != CONNECTED:
        status["requeueAfterSeconds"] = RECHECK_SETUP_SECONDS
    return status


SETUP_CONNECTED = "SetupConnected"
SETUP_TESTS_PASSED = "SetupTestsPassed"


def setup_conditions(spec: FivetranConnectorSpec, live: Mapping[str, Any]) -> list[dict[str, str]]:
    """kstatus-style conditions from Fivetran's view: ``SetupConnected`` always, and
    ``SetupTestsPassed`` when the document asks for setup tests.

    Fivetran keeps no per-test history on the connection: a failed test leaves the setup state
    ``broken`` or ``incomplete`` with the failing test's message among the connection's tasks and
    warnings, so that is what the tests' condition reports.
    """
    setup_state = live.get("setup_state")
    problems = "; ".join(
        item["message"] for item in _messages(live.get("tasks")) + _messages(live.get("warnings"))
    )
    detail = f": {problems}" if problems else ""
    if setup_state is None:
        connected = _condition(
            SETUP_CONNECTED, None, "NotReported", "Fivetran has not reported the setup state"
        )
    elif setup_state == CONNECTED:
        sync = live.get("sync_state") or "state unknown"
        connected = _condition(SETUP_CONNECTED, True, "SetupConnected", f"setup connected; sync {sync}")
    else:
        reason = "SetupBroken" if setup_state == "broken" else "SetupIncomplete"
        connected = _condition(SETUP_CONNECTED, False, reason, f"setup {setup_state}{detail}")
    if not spec.run_setup_tests:
        return [connected]
    if setup_state is None:
        tests = _condition(SETUP_TESTS_PASSED, None, "NotReported", "no setup test result reported yet")
    elif setup_state == CONNECTED:
        tests = _condition(SETUP_TESTS_PASSED, True, "SetupTestsPassed", "setup tests passed")
    else:
        tests = _condition(
            SETUP_TESTS_PASSED, False, "SetupTestsFailed", f"setup tests failed (setup {setup_state}){detail}"
        )
    return [connected, tests]


def _condition(type_: str, value: bool | None, reason: str, message: str) -> dict[str, str]:
    fields = health(value, reason, message)
    return {"type": type_, "status": fields["ready"], "reason": reason, "message": message}


def _condition_value(conditions: list[dict[str, str]], type_: str) -> str | None:
    return next((c["status"] for c in conditions if c["type"] == type_), None)


def _health(spec: FivetranConnectorSpec, conditions: list[dict[str, str]]) -> dict[str, Any]:
    """Ready when Fivetran reports the connection's setup connected. When setup tests were asked
    for and fail, their condition is what the stack's status shows: reason and failing message."""
    worst = next((c for c in reversed(conditions) if c["status"] == FALSE), None)
    shown = worst or conditions[0]
    ready = {TRUE: True, FALSE: False}.get(shown["status"])
    return health(ready, shown["reason"], shown["message"])


def _messages(items: Any) -> list[dict[str, str]]:
    return [{"code": str(item.get("code")), "message": str(item.get("message"))} for item in items or ()]
