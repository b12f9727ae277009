"""The FivetranConnector component: one Fivetran connection with its config, schema and schedule.

Resources, in the order Fivetran needs them:

0. ``ConnectorSdkPackage`` (only for ``service: connector_sdk``): the zip of the ``package``
   folder, built by the factory (:func:`components.fivetran.create_fivetran_connector`) before
   anything is registered (:mod:`components.fivetran.package`). Its id goes into the
   connection's config as ``package_id``, with ``python_version`` and the document's ``config``
   as the connector's configuration (``secrets_list``). One package per document, even when two
   documents deploy the same folder: Fivetran ties a package to one connection.
1. ``Connection``: the connection itself (service, group, destination schema). Fivetran creates
   it paused. With ``connectionId`` an existing connection is imported instead of created.
2. ``ConnectionConfig`` (only when there is config or auth: the provider refuses one with neither,
   as a Connect Card connection has): ``config`` and ``auth`` as JSON, and the setup tests. JSON
   rather than the typed ``Connector`` resource because the typed one has a fixed per-service
   schema: with JSON, any service's fields work, including services newer than the provider.
   (``ConnectionV2`` also takes free-form objects but is in public preview and has no
   name/prefix/table destination schema.) Without it, the setup tests run on the ``Connection``.
3. ``ConnectorSchemaConfig`` (only with ``schemaConfig``): after the config, since the source's
   schemas can only be listed once Fivetran can reach the source.
4. ``ConnectorSchedule`` (only with ``schedule``).
5. ``ConnectionV2PauseState``: the pause state, last, so a connection never starts syncing before
   its schema selection is applied. It takes any connection id; the "V2" is the provider's naming.

Then Fivetran's own view of the connection (``getConnection``) is read for the status: setup
state (which reflects the setup tests), sync state, warnings.

``vault://`` references in ``config`` or ``auth`` are read from Vault (KV v2) at deploy time through
the stack's one shared Vault provider, created only when a reference exists. A JSON document that
contains a resolved value is a Pulumi secret as a whole, and so is one that holds a credential
written as a literal (a key named like one, ``secret_key`` or ``bearer_token``, or a URL with a
password or a token parameter: :mod:`components.common.masking`); ``auth`` is always a secret.

The Fivetran provider is the default one, configured from the stack (``fivetran:apiKey``,
``fivetran:apiSecret``) or the environment (``FIVETRAN_API_KEY``/``FIVETRAN_API_SECRET``; the
Terraform provider underneath also reads ``FIVETRAN_APIKEY``/``FIVETRAN_APISECRET``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_provider_fivetran as fivetran

from components.common.kubernetes import child
from components.common.vault import resolve_tree
from components.context import StackContext
from components.fivetran import builders
from components.fivetran.package import ConnectorPackage
from components.fivetran.spec import FivetranConnectorSpec

TYPE_TOKEN = "driftless:fivetran:FivetranConnector"


@dataclass(frozen=True)
class FivetranConnectorArgs:
    """What the component needs: its validated spec, the stack (for the shared Vault provider) and,
    for a ``connector_sdk`` connection, its built package."""

    spec: FivetranConnectorSpec
    context: StackContext
    package: ConnectorPackage | None = None


class FivetranConnector(pulumi.ComponentResource):
    """A Fivetran connection managed from a FivetranConnector document."""

    status: pulumi.Output[dict[str, Any]]
    connector_id: pulumi.Output[str]

    def __init__(self, name: str, args: FivetranConnectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec
        if (spec.package is None) != (args.package is None):
            raise ValueError(
                f"FivetranConnector/{name}: the package must be built for spec.package "
                "(see create_fivetran_connector)"
            )

        config: Mapping[str, Any] = spec.config
        package_id: pulumi.Output[str] | None = None
        if args.package is not None:
            sdk_package = fivetran.ConnectorSdkPackage(
                f"{name}-package", file_path=args.package.file_path, opts=child(self)
            )
            package_id = sdk_package.id
            config = builders.connector_sdk_config(spec, package_id)

        # Judged on the document's own config: a connector_sdk config becomes secrets_list pairs
        # whose names are the same keys.
        config_json = self._json(config, args.context, always_secret=builders.holds_credentials(spec.config))
        auth_json = self._json(spec.auth, args.context, always_secret=True)

        connection = fivetran.Connection(
            name,
            # The config goes along at creation too: some services (databases) refuse to be created
            # without fields such as update_method. Connection never reads it back; ConnectionConfig
            # owns it from then on.
            config=config_json,
            **builders.connection_args(spec),
            opts=self._connection_options(spec),
        )
        self.connector_id = connection.id

        # What the schema, schedule and pause state wait for: the config when there is one.
        configured: pulumi.Resource = connection
        if builders.has_connection_config(spec):
            configured = fivetran.ConnectionConfig(
                f"{name}-config",
                connection_id=connection.id,
                config=config_json,
                auth=auth_json,
                **builders.connection_config_flags(spec),
                opts=child(self, replace_on_changes=builders.RERUN_SETUP_TESTS_ON_CHANGE_OF),
            )
        applied: list[pulumi.Resource] = [configured]

        if spec.schema_config is not None:
            applied.append(
                fivetran.ConnectorSchemaConfig(
                    f"{name}-schema",
                    connector_id=connection.id,
                    **builders.schema_config_args(spec.schema_config),
                    opts=child(self, depends_on=[configured]),
                )
            )

        if spec.schedule is not None:
            applied.append(
                fivetran.ConnectorSchedule(
                    f"{name}-schedule",
                    connector_id=connection.id,
                    **builders.schedule_args(spec.schedule),
                    opts=child(self, depends_on=[configured]),
                )
            )

        pause_state = fivetran.ConnectionV2PauseState(
            f"{name}-pause",
            connection_id=connection.id,
            paused=spec.paused,
            opts=child(self, depends_on=applied),
        )

        live = fivetran.get_connection_output(
            id=connection.id,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[*applied, pause_state]),
        )
        built = args.package
        self.status = pulumi.Output.all(connection.id, live.status, package_id).apply(
            lambda values: builders.connector_status(
                spec,
                values[0],
                _plain(values[1]),
                builders.package_status(spec, built, values[2]) if built is not None else None,
            )
        )
        self.register_outputs({"status": self.status, "connectorId": self.connector_id})

    def _connection_options(self, spec: FivetranConnectorSpec) -> pulumi.ResourceOptions:
        """Adopting (``connectionId``) imports the existing connection: Pulumi reads it, compares
        it with the document and records it, with no create; a mismatch of service, group or
        destination schema fails the import instead of replacing the connection."""
        if spec.connection_id is None:
            return child(self)
        return child(self, import_=spec.connection_id, ignore_changes=builders.ADOPTED_CONNECTION_UNREAD)

    def _json(self, value: Mapping[str, Any], context: StackContext, *, always_secret: bool) -> Any:
        """``value`` as the JSON string Fivetran gets: a secret when it holds a Vault value or a
        literal credential (``always_secret``).

        None for an empty document, so an unset ``auth`` is not sent as ``{}``. ``value`` may hold
        Outputs (a package id): they resolve before the JSON is written, and whatever reads the
        JSON then depends on the resources behind them.
        """
        if not value:
            return None
        if builders.has_references(value):
            resolved = resolve_tree(dict(value), context, parent=self)
            return pulumi.Output.secret(pulumi.Output.from_input(resolved).apply(builders.json_text))
        text = pulumi.Output.from_input(dict(value)).apply(builders.json_text)
        return pulumi.Output.secret(text) if always_secret else text


def _plain(value: Any) -> dict[str, Any] | None:
    """The ``status`` block of ``getConnection`` as a plain dict, or None when not reported.

    It arrives as the provider's output type or, once unwrapped by ``Output.all``, as a dict.
    """
    if value is None:
        return None
    keys = ("setup_state", "sync_state", "update_state", "warnings", "tasks")
    if isinstance(value, Mapping):
        return {key: value.get(key) for key in keys}
    return {key: getattr(value, key, None) for key in keys}
