"""Search Ads 360 report rows as warehouse rows, and the reports' queries. Pure: no I/O, no SDK.

A report is one resource's daily metrics (``FROM campaign``, ``FROM ad_group``...) segmented by
``segments.date``: one table per report, keyed by the resource's ID and the date. A searchStream
row nests fields by resource in camelCase (``{"adGroup": {"id": "7"}, "metrics": {"costMicros":
"5"}}``); each becomes a ``<resource>_<field>`` column in snake_case (``ad_group_id``,
``metrics_cost_micros``). IDs are strings, whole-number metrics (int64, sent as JSON strings)
integers, other metrics floats, ``segments_date`` a date; fields not selected are absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from common.transform import id_str, is_empty, snake_case

DATE_COLUMN = "segments_date"
METRICS = ("metrics.clicks", "metrics.impressions", "metrics.cost_micros", "metrics.conversions")
WHOLE_METRICS = frozenset({"metrics_clicks", "metrics_impressions", "metrics_cost_micros"})
FRACTIONAL_METRICS = frozenset({"metrics_conversions"})


@dataclass(frozen=True)
class Report:
    """One table: the fields selected ``FROM resource`` per day, keyed by ``key`` and the date."""

    table: str
    resource: str
    fields: tuple[str, ...]
    key: tuple[str, ...]

    def query(self, first: date, last: date) -> str:
        """The SA360 Query Language query for the days ``first``..``last`` (both included)."""
        selected = ", ".join((*self.fields, *METRICS, "segments.date"))
        return (
            f"SELECT {selected} FROM {self.resource} "
            f"WHERE segments.date BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'"
        )

    @property
    def primary_key(self) -> list[str]:
        return [*self.key, DATE_COLUMN]

    @property
    def schema(self) -> dict[str, Any]:
        # Every selected attribute is text (IDs included: they overflow or lose their form otherwise).
        columns: dict[str, str] = {field.replace(".", "_"): "STRING" for field in self.fields}
        columns.update({column: "LONG" for column in sorted(WHOLE_METRICS)})
        columns.update({column: "DOUBLE" for column in sorted(FRACTIONAL_METRICS)})
        columns[DATE_COLUMN] = "NAIVE_DATE"
        return {"table": self.table, "primary_key": self.primary_key, "columns": columns}


REPORTS: dict[str, Report] = {
    report.table: report
    for report in (
        Report(
            "campaign",
            "campaign",
            ("customer.id", "campaign.id", "campaign.name", "campaign.status"),
            ("campaign_id",),
        ),
        Report(
            "ad_group",
            "ad_group",
            ("customer.id", "campaign.id", "ad_group.id", "ad_group.name", "ad_group.status"),
            ("ad_group_id",),
        ),
    )
}
DEFAULT_REPORTS = ("campaign", "ad_group")


def row(result: dict[str, Any], report: Report) -> dict[str, Any]:
    """A searchStream result as a row; raises ValueError when a key column or the date is missing."""
    converted: dict[str, Any] = {}
    for resource, fields in result.items():
        if not isinstance(fields, dict):
            continue
        for name, value in fields.items():
            column = f"{snake_case(resource)}_{snake_case(name)}"
            if column.endswith("_resource_name"):
                converted[column] = None if is_empty(value) else str(value)
            elif column == "id" or column.endswith("_id"):
                converted[column] = id_str(value)
            elif column in WHOLE_METRICS:
                converted[column] = None if is_empty(value) else int(value)
            elif column in FRACTIONAL_METRICS:
                converted[column] = None if is_empty(value) else float(value)
            elif column == DATE_COLUMN:
                converted[column] = date.fromisoformat(str(value)).isoformat()
            elif isinstance(value, dict | list):
                continue  # nested messages are not selected by the built-in reports
            else:
                converted[column] = None if is_empty(value) else value
    missing = [column for column in report.primary_key if converted.get(column) is None]
    if missing:
        raise ValueError(f"a {report.table} row has no {', '.join(missing)}")
    return converted
