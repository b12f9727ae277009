"""Two FivetranConnectors of one group never write to one destination: rejected when the stack loads."""

from __future__ import annotations

import pytest

from components.documents import StackFileError, load_stack_text


def connector(name: str, destination: str, group: str = "decent_dropsy", service: str = "salesforce") -> str:
    return (
        f"kind: FivetranConnector\nmetadata: {{name: {name}}}\nspec:\n  groupId: {group}\n"
        f"  service: {service}\n  destinationSchema: {destination}\n"
    )


def errors_of(*documents: str) -> list[str]:
    with pytest.raises(StackFileError) as caught:
        load_stack_text("---\n".join(documents), "stacks/dev.yaml")
    return [str(e) for e in caught.value.errors]


def loads(*documents: str) -> int:
    return len(load_stack_text("---\n".join(documents), "stacks/dev.yaml"))


def test_two_connectors_writing_one_schema_of_one_group_are_rejected_at_the_second():
    first = connector("crm", "{name: salesforce}")
    second = connector("crm-copy", "{name: salesforce}", service="hubspot")
    assert errors_of(first, second) == [
        "stacks/dev.yaml:13: FivetranConnector/crm-copy: spec.destinationSchema.name: "
        "FivetranConnector/crm (line 1) already writes to schema 'salesforce' in group 'decent_dropsy'; "
        "Fivetran gives a destination to one connection only: choose another schema name"
    ]


def test_two_connectors_with_one_prefix_in_one_group_are_rejected():
    first = connector("orders-db", "{prefix: shop}", service="postgres")
    second = connector("orders-replica", "\n    prefix: shop", service="mysql")
    assert errors_of(first, second) == [
        "stacks/dev.yaml:14: FivetranConnector/orders-replica: spec.destinationSchema.prefix: "
        "FivetranConnector/orders-db (line 1) already writes to schema prefix 'shop' in group "
        "'decent_dropsy'; Fivetran gives a destination to one connection only: choose another prefix"
    ]


def test_file_connectors_share_a_schema_but_not_a_table():
    events = connector("events", "{name: s3, table: events}", service="s3")
    clicks = connector("clicks", "{name: s3, table: clicks}", service="s3")
    assert loads(events, clicks) == 2
    (error,) = errors_of(events, clicks, connector("events-again", "{name: s3, table: events}", service="s3"))
    assert error.startswith(
        "stacks/dev.yaml:20: FivetranConnector/events-again: spec.destinationSchema.table: "
    )
    assert "FivetranConnector/events (line 1) already writes to table 'events' of schema 's3'" in error


@pytest.mark.parametrize(
    ("first", "second"),
    [("{name: s3}", "{name: s3, table: events}"), ("{name: s3, table: events}", "{name: s3}")],
)
def test_a_whole_schema_connector_and_a_table_connector_cannot_share_the_schema(first: str, second: str):
    (error,) = errors_of(connector("one", first, service="s3"), connector("two", second, service="s3"))
    assert error.startswith("stacks/dev.yaml:")
    assert "FivetranConnector/two: spec.destinationSchema." in error
    assert "FivetranConnector/one (line 1) already writes to" in error


def test_the_same_destination_in_other_groups_or_as_name_and_prefix_loads():
    assert (
        loads(
            connector("a", "{name: salesforce}"),
            connector("b", "{name: salesforce}", group="other_group"),
            connector("c", "{prefix: salesforce}", service="postgres"),
            connector("d", "{name: hubspot}", service="hubspot"),
        )
        == 4
    )
