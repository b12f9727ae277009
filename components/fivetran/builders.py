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
from components.common.health import health
from components.common.vault import find_references
from components.fivetran.package import ConnectorPackage
from components.fivetran.spec import FivetranConnectorSpec, Schedule, SchemaConfig

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


def connection_args(spec: FivetranConnectorSpec) -> dict[str, Any]:
    """The ``Connection`` resource's arguments, without config (the component adds it, maybe secret)."""
    return {
        "service": spec.service,
        "group_id": spec.group_id,
        "destination_schema": spec.destination_schema.to_provider(),
        "trust_certificates": spec.trust_certificates,
        "trust_fingerprints": spec.trust_fingerprints,
        # Setup tests at creation would run before auth exists (it is applied by ConnectionConfig)
        # and fail; they run once, in ConnectionConfig, when config and auth are both in place.
        "run_setup_tests": False,
    }


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
    status: dict[str, Any] = {
        **_health(setup_state, live),
        "connectorId": connector_id,
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
        "setupTests": {"requested": spec.run_setup_tests},
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


def _health(setup_state: str | None, live: Mapping[str, Any]) -> dict[str, Any]:
    """Ready when Fivetran reports the connection's setup connected; its tasks say what is missing."""
    if setup_state is None:
        return health(None, "NotReported", "Fivetran has not reported this connection's setup state yet")
    if setup_state == CONNECTED:
        return health(
            True, "SetupConnected", f"setup connected; sync {live.get('sync_state') or 'state unknown'}"
        )
    problems = "; ".join(
        item["message"] for item in _messages(live.get("tasks")) + _messages(live.get("warnings"))
    )
    reason = "SetupBroken" if setup_state == "broken" else "SetupIncomplete"
    return health(False, reason, f"setup {setup_state}" + (f": {problems}" if problems else ""))


def _messages(items: Any) -> list[dict[str, str]]:
    return [{"code": str(item.get("code")), "message": str(item.get("message"))} for item in items or ()]
