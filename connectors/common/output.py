"""Where a sync sends rows and checkpoints: the SDK's ``Operations`` in production, a recorder in tests.

``sync.py`` modules take an :class:`Output` instead of calling ``Operations`` directly, so their
logic (cursors, windows, state) is exercised without a runner; ``connector.py`` passes
:class:`SdkOutput`.
"""

from __future__ import annotations

from typing import Any, Protocol


class Output(Protocol):
    """What a sync emits."""

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        """Writes one row (replacing the row with the same primary key)."""

    def delete(self, table: str, keys: dict[str, Any]) -> None:
        """Marks the row with these primary-key values deleted (Fivetran soft-deletes it)."""

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Commits everything emitted so far and saves ``state`` as the point to resume from."""


class SdkOutput:
    """:class:`Output` through ``fivetran_connector_sdk.Operations`` (current call forms, no ``yield``)."""

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        from fivetran_connector_sdk import Operations

        Operations.upsert(table=table, data=data)

    def delete(self, table: str, keys: dict[str, Any]) -> None:
        from fivetran_connector_sdk import Operations

        Operations.delete(table=table, keys=keys)

    def checkpoint(self, state: dict[str, Any]) -> None:
        from fivetran_connector_sdk import Operations

        Operations.checkpoint(state=state)
