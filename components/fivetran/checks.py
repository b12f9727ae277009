"""Rules across the FivetranConnector documents of a stack, checked when the stack loads.

Fivetran names a connection after where it writes: within one group (destination), a schema name
(``destinationSchema.name``, or ``name.table`` for a single-table file connector) or a schema
prefix (``destinationSchema.prefix``, database connectors) can belong to one connection only. A
second one would load and render, then fail halfway through ``up`` when Fivetran refuses to create
it, so the stack is rejected up front instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document, SpecError, StackDocuments
from components.fivetran import package
from components.fivetran.spec import FivetranConnectorSpec

KIND = "FivetranConnector"


def one_destination_each(stack: StackDocuments) -> Iterator[SpecError]:
    """No two connectors of one group write to the same schema, schema table or schema prefix.

    A connector writing a whole schema (``name`` without ``table``) claims every table of it; file
    connectors writing one table each (``name`` and ``table``) may share a schema.
    """
    schemas: dict[tuple[str, str], Document] = {}  # (group, name) -> whole-schema connector
    tables: dict[tuple[str, str], Document] = {}  # (group, name) -> first single-table connector
    schema_tables: dict[tuple[str, str, str], Document] = {}  # (group, name, table) -> connector
    prefixes: dict[tuple[str, str], Document] = {}  # (group, prefix) -> connector
    for document in stack.of_kind(KIND):
        spec = spec_of(document, FivetranConnectorSpec)
        group, destination = spec.group_id, spec.destination_schema
        if destination.prefix is not None:
            field, target, instead = "prefix", f"schema prefix {destination.prefix!r}", "prefix"
            first = prefixes.setdefault((group, destination.prefix), document)
        elif destination.table is None:
            assert destination.name is not None  # DestinationSchema requires name or prefix
            field, target, instead = "name", f"schema {destination.name!r}", "schema name"
            schema = (group, destination.name)
            first = tables.get(schema) or schemas.setdefault(schema, document)
        else:
            assert destination.name is not None  # DestinationSchema: table needs name
            field, instead = "table", "schema name or table"
            target = f"table {destination.table!r} of schema {destination.name!r}"
            schema = (group, destination.name)
            first = schemas.get(schema) or schema_tables.setdefault((*schema, destination.table), document)
            if first is document:
                tables.setdefault(schema, document)
        if first is document:
            continue
        yield document.error(
            ("spec", "destinationSchema", field),
            f"{first.subject} (line {first.line}) already writes to {target} in group {group!r}; "
            f"Fivetran gives a destination to one connection only: choose another {instead}",
        )


def one_document_per_connection(stack: StackDocuments) -> Iterator[SpecError]:
    """No two documents adopt the same existing connection (``connectionId``): both would import
    it and then overwrite each other's settings on every ``up``."""
    adopted: dict[str, Document] = {}
    for document in stack.of_kind(KIND):
        connection_id = spec_of(document, FivetranConnectorSpec).connection_id
        if connection_id is None:
            continue
        first = adopted.setdefault(connection_id, document)
        if first is document:
            continue
        yield document.error(
            ("spec", "connectionId"),
            f"{first.subject} (line {first.line}) already adopts connection {connection_id!r}; "
            "a connection is managed by one document only",
        )


def fivetran_rules(stack: StackDocuments) -> Iterator[SpecError]:
    """Every rule across a stack's FivetranConnector documents."""
    return chain(one_destination_each(stack), one_document_per_connection(stack))


def check_package(document: Document, context: StackContext) -> list[SpecError]:
    """A ``package`` must name a connector folder; checked before any document registers."""
    spec = spec_of(document, FivetranConnectorSpec)
    if spec.package is None:
        return []
    try:
        package.check_package(spec.package, context.settings)
    except package.PackageError as exc:
        return [document.error(("spec", "package"), str(exc))]
    return []
