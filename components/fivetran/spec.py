"""The FivetranConnector spec: a Fivetran connection described as data.

``config`` and ``auth`` stay free-form on purpose: every Fivetran service has its own fields, and
the provider resources we use take them as JSON, so a new service needs no change here. What *is*
checked at load time is everything Fivetran would otherwise reject halfway through an ``up``:
empty ids, malformed ``vault://`` references, schedules Fivetran does not offer, unknown schema
policies, a connector package on a service that cannot use one.

A ``connector_sdk`` connection is different: it runs our own code, a folder under ``connectors/``
(``package``), and its ``config`` is that connector's configuration, which Fivetran hands over as
strings. So it needs a package, its config values must be strings, it has no ``auth`` and writes
to one schema (``destinationSchema.name``). Whether the folder exists is checked when the program
runs (the factory), where the project's folder is known.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from components.common.spec import SpecModel
from components.common.vault import validate_references

CONNECTOR_SDK_SERVICE = "connector_sdk"

# Fivetran accepts only these sync frequencies (minutes); anything else fails at apply time.
SYNC_FREQUENCIES = (1, 5, 15, 30, 60, 120, 180, 360, 480, 720, 1440)
DAILY_FREQUENCY = 1440

ChangeHandling = Literal["ALLOW_ALL", "ALLOW_COLUMNS", "BLOCK_ALL"]
ValidationLevel = Literal["NONE", "TABLES", "COLUMNS"]
SyncMode = Literal["HISTORY", "SOFT_DELETE", "LIVE"]
SyncFrequency = Literal[1, 5, 15, 30, 60, 120, 180, 360, 480, 720, 1440]

_SERVICE = re.compile(r"^[a-z0-9_]+$")
_CONNECTION_ID = re.compile(r"^[A-Za-z0-9_]+$")
_DAILY_SYNC_TIME = re.compile(r"^([01]\d|2[0-3]):00$")
# A folder directly under connectors/: one path segment, no hidden folders, no "..".
_PACKAGE_FOLDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
CONNECTORS_PREFIX = "connectors/"
# The connectors use datetime.UTC (3.11+) and are tested on 3.11 (pyproject's requires-python), so
# that is what Fivetran runs unless a document asks for a newer one. Fivetran takes "3.12" or "3.12.8".
DEFAULT_PYTHON_VERSION = "3.11"
MIN_PYTHON_MINOR = 11
_PYTHON_VERSION = re.compile(r"^3\.(?P<minor>\d+)(\.\d+)?$")

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _service(value: str) -> str:
    if not _SERVICE.match(value):
        raise ValueError(
            f"{value!r} is not a Fivetran service id (lowercase letters, digits and '_', e.g. 'salesforce')"
        )
    return value


def _connection_id(value: str) -> str:
    if not _CONNECTION_ID.match(value):
        raise ValueError(
            f"{value!r} is not a Fivetran connection id (letters, digits and '_', e.g. 'decent_dropsy')"
        )
    return value


def _no_whitespace(value: str) -> str:
    if any(char.isspace() for char in value):
        raise ValueError(f"{value!r} must not contain whitespace")
    return value


ServiceId = Annotated[NonEmpty, AfterValidator(_service)]
GroupId = Annotated[NonEmpty, AfterValidator(_no_whitespace)]
ConnectionId = Annotated[NonEmpty, AfterValidator(_connection_id)]
# Free-form JSON objects whose strings may be vault:// references; malformed ones fail at load.
FreeForm = Annotated[dict[str, Any], AfterValidator(validate_references)]


class DestinationSchema(SpecModel):
    """Where the connector writes: ``name`` (app connectors), ``prefix`` (databases), ``table`` (files)."""

    name: NonEmpty | None = Field(default=None, description="Schema name in the destination.")
    table: NonEmpty | None = Field(default=None, description="Table name, for single-table connectors.")
    prefix: NonEmpty | None = Field(default=None, description="Schema prefix, for database connectors.")

    @model_validator(mode="after")
    def _one_naming(self) -> DestinationSchema:
        if self.name is None and self.prefix is None:
            raise ValueError("set either name or prefix")
        if self.name is not None and self.prefix is not None:
            raise ValueError("set name or prefix, not both")
        if self.table is not None and self.name is None:
            raise ValueError("table needs name (file connectors write to name.table)")
        return self

    def to_provider(self) -> dict[str, str]:
        """The provider's ``destination_schema`` block, without unset fields."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


class Schedule(SpecModel):
    """How often Fivetran syncs."""

    sync_frequency: SyncFrequency = Field(default=360, description="Minutes between syncs.")
    daily_sync_time: str | None = Field(
        default=None, description="HH:00 start time; only with syncFrequency 1440."
    )

    @field_validator("daily_sync_time")
    @classmethod
    def _daily_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if not _DAILY_SYNC_TIME.match(value):
            raise ValueError(f"{value!r} is not a whole hour between 00:00 and 23:00 (e.g. '03:00')")
        frequency = info.data.get("sync_frequency")
        if frequency is not None and frequency != DAILY_FREQUENCY:
            raise ValueError(f"dailySyncTime is only allowed with syncFrequency {DAILY_FREQUENCY}")
        return value


class ColumnSettings(SpecModel):
    """One column: synced or not, hashed or not."""

    enabled: bool = True
    hashed: bool = False


class TableSettings(SpecModel):
    """One table: synced or not, its sync mode, and per-column overrides."""

    enabled: bool = True
    sync_mode: SyncMode | None = Field(default=None, description="Left to Fivetran when unset.")
    columns: dict[str, ColumnSettings] = Field(default_factory=dict)


class SchemaSettings(SpecModel):
    """One source schema: synced or not, and per-table overrides."""

    enabled: bool = True
    tables: dict[str, TableSettings] = Field(default_factory=dict)


class SchemaConfig(SpecModel):
    """Which schemas, tables and columns sync, and what happens to new ones."""

    change_handling: ChangeHandling = "ALLOW_ALL"
    # TABLES is the provider's default: unknown schema/table names fail, columns are not checked.
    validation_level: ValidationLevel = "TABLES"
    schemas: dict[str, SchemaSettings] = Field(default_factory=dict)


class FivetranConnectorSpec(SpecModel):
    """A Fivetran connection, its secrets by reference, and its optional schema and schedule."""

    group_id: GroupId = Field(description="Fivetran group (destination) id.")
    service: ServiceId = Field(description="Fivetran connector type id, e.g. 'salesforce'.")
    destination_schema: DestinationSchema
    config: FreeForm = Field(default_factory=dict, description="Service config; strings may be vault://.")
    auth: FreeForm = Field(default_factory=dict, description="Service auth; strings may be vault://.")
    package: str | None = Field(
        default=None,
        description="For service connector_sdk: a folder under connectors/ (virtuous, connectors/virtuous).",
    )
    python_version: str | None = Field(
        default=None,
        description=f"For service connector_sdk: the Python the package runs on ({DEFAULT_PYTHON_VERSION}).",
    )
    connection_id: ConnectionId | None = Field(
        default=None,
        description=(
            "Id of a connection that already exists in Fivetran: adopted (imported) on the next up "
            "instead of created; its service, group and destination schema must match."
        ),
    )
    run_setup_tests: bool = Field(
        default=False,
        description="Run Fivetran's setup tests on every change of config or auth, and when turned on.",
    )
    trust_certificates: bool = False
    trust_fingerprints: bool = False
    paused: bool = False
    schedule: Schedule | None = None
    schema_config: SchemaConfig | None = None

    @field_validator("config")
    @classmethod
    def _sdk_config_is_strings(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if info.data.get("service") != CONNECTOR_SDK_SERVICE:
            return value
        # Fivetran passes a connector its configuration as strings (secrets_list key/value pairs):
        # a number or a nested object would arrive as something the connector does not expect.
        for key, item in value.items():
            if not isinstance(item, str):
                raise ValueError(
                    f"{key}: a {CONNECTOR_SDK_SERVICE} configuration value must be a string "
                    f"(Fivetran passes every value as one), not {type(item).__name__}; quote it"
                )
        return value

    @field_validator("auth")
    @classmethod
    def _no_auth_for_sdk(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if value and info.data.get("service") == CONNECTOR_SDK_SERVICE:
            raise ValueError(
                f"a {CONNECTOR_SDK_SERVICE} connection has no auth: put credentials in config "
                "(the connector's configuration; vault:// references work there)"
            )
        return value

    @field_validator("package")
    @classmethod
    def _package_for_sdk_only(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        service = info.data.get("service")
        if service is not None and service != CONNECTOR_SDK_SERVICE:
            raise ValueError(
                f"package is only allowed with service {CONNECTOR_SDK_SERVICE!r}, not {service!r}"
            )
        # The documented form is "a folder under connectors/": accept the folder's name or its path.
        name = value.removeprefix(CONNECTORS_PREFIX).rstrip("/")
        if not _PACKAGE_FOLDER.match(name) or name == "common":
            raise ValueError(
                f"{value!r} is not a connector folder under connectors/ (its name, e.g. 'virtuous', "
                "or 'connectors/virtuous'; one path segment, no '..', not the shared 'common')"
            )
        return name

    @field_validator("python_version")
    @classmethod
    def _supported_python(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("service") != CONNECTOR_SDK_SERVICE:
            raise ValueError(f"pythonVersion is only allowed with service {CONNECTOR_SDK_SERVICE!r}")
        match = _PYTHON_VERSION.match(value)
        if match is None or int(match["minor"]) < MIN_PYTHON_MINOR:
            raise ValueError(
                f"{value!r} is not a Python version the connectors run on: 3.{MIN_PYTHON_MINOR} or later, "
                "as '3.12' or '3.12.8'"
            )
        return value

    @model_validator(mode="after")
    def _sdk_connection(self) -> FivetranConnectorSpec:
        if self.service != CONNECTOR_SDK_SERVICE:
            return self
        if self.package is None:
            raise ValueError(
                f"service {CONNECTOR_SDK_SERVICE!r} needs package: the folder under connectors/ to deploy"
            )
        if self.destination_schema.name is None or self.destination_schema.table is not None:
            raise ValueError(
                f"a {CONNECTOR_SDK_SERVICE} connection writes to one schema: set destinationSchema.name only"
            )
        return self

    @property
    def sdk_python_version(self) -> str:
        """The Python a connector_sdk package runs on: the document's choice or the default."""
        return self.python_version or DEFAULT_PYTHON_VERSION
