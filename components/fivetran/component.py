"""The FivetranConnector component: one Fivetran connection with its config, schema and schedule.

Resources, in the order Fivetran needs them:

1. ``Connection``: the connection itself (service, group, destination schema). Fivetran creates
   it paused.
2. ``ConnectionConfig``: ``config`` and ``auth`` as JSON, and the setup tests. JSON rather than
   the typed ``Connector`` resource because the typed one has a fixed per-service schema: with JSON,
   any service's fields work, including services newer than the provider. (``ConnectionV2`` also
   takes free-form objects but is in public preview and has no name/prefix/table destination schema.)
3. ``ConnectorSchemaConfig`` (only with ``schemaConfig``): after the config, since the source's
   schemas can only be listed once Fivetran can reach the source.
4. ``ConnectorSchedule`` (only with ``schedule``).
5. ``ConnectionV2PauseState``: the pause state, last, so a connection never starts syncing before
   its schema selection is applied. It takes any connection id; the "V2" is the provider's naming.

Then Fivetran's own view of the connection (``getConnection``) is read for the status: setup
state (which reflects the setup tests), sync state, warnings.

``vault://`` references in ``config`` or ``auth`` are read from Vault (KV v2) at deploy time through
the stack's one shared Vault provider, created only when a reference exists. A JSON document that
contains a resolved value is a Pulumi secret as a whole; ``auth`` is always a secret.

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
from components.documents import Document
from components.fivetran import builders
from components.fivetran.spec import FivetranConnectorSpec

TYPE_TOKEN = "driftless:fivetran:FivetranConnector"


@dataclass(frozen=True)
class FivetranConnectorArgs:
    """What the component needs: its validated spec and the stack (for the shared Vault provider)."""

    spec: FivetranConnectorSpec
    context: StackContext


class FivetranConnector(pulumi.ComponentResource):
    """A Fivetran connection managed from a FivetranConnector document."""

    status: pulumi.Output[dict[str, Any]]
    connector_id: pulumi.Output[str]

    def __init__(self, name: str, args: FivetranConnectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec

        config_json = self._json(spec.config, args.context, always_secret=False)
        auth_json = self._json(spec.auth, args.context, always_secret=True)

        connection = fivetran.Connection(
            name,
            # The config goes along at creation too: some services (databases) refuse to be created
            # without fields such as update_method. Connection never reads it back; ConnectionConfig
            # owns it from then on.
            config=config_json,
            **builders.connection_args(spec),
            opts=child(self),
        )
        self.connector_id = connection.id

        connection_config = fivetran.ConnectionConfig(
            f"{name}-config",
            connection_id=connection.id,
            config=config_json,
            auth=auth_json,
            **builders.connection_config_flags(spec),
            opts=child(self),
        )
        applied: list[pulumi.Resource] = [connection_config]

        if spec.schema_config is not None:
            applied.append(
                fivetran.ConnectorSchemaConfig(
                    f"{name}-schema",
                    connector_id=connection.id,
                    **builders.schema_config_args(spec.schema_config),
                    opts=child(self, depends_on=[connection_config]),
                )
            )

        if spec.schedule is not None:
            applied.append(
                fivetran.ConnectorSchedule(
                    f"{name}-schedule",
                    connector_id=connection.id,
                    **builders.schedule_args(spec.schedule),
                    opts=child(self, depends_on=[connection_config]),
                )
            )

        if spec.package is not None:
            # Uploading a connectors/<package> folder (ConnectorSdkPackage, its id into
            # config.package_id) is not wired yet; say so rather than deploy something else silently.
            pulumi.log.warn(
                f"FivetranConnector/{name}: package {spec.package!r} is not uploaded yet; "
                "set config.package_id yourself until connector packaging lands",
                resource=self,
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
        self.status = pulumi.Output.all(connection.id, live.status).apply(
            lambda values: builders.connector_status(spec, values[0], _plain(values[1]))
        )
        self.register_outputs({"status": self.status, "connectorId": self.connector_id})

    def _json(self, value: Mapping[str, Any], context: StackContext, *, always_secret: bool) -> Any:
        """``value`` as the JSON string Fivetran gets: a secret when it holds a Vault value (or must).

        None for an empty document, so an unset ``auth`` is not sent as ``{}``.
        """
        if not value:
            return None
        if builders.has_references(value):
            resolved = resolve_tree(dict(value), context, parent=self)
            return pulumi.Output.secret(pulumi.Output.json_dumps(resolved, sort_keys=True))
        text = builders.json_text(value)
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


def create(document: Document, context: StackContext) -> FivetranConnector:
    """The registry factory: one component per FivetranConnector document."""
    spec = document.spec
    if not isinstance(spec, FivetranConnectorSpec):  # the registry guarantees it; keeps mypy honest
        raise TypeError(f"{document.subject}: expected a FivetranConnectorSpec")
    return FivetranConnector(document.name, FivetranConnectorArgs(spec=spec, context=context))
