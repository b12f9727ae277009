"""SA360 reports: their queries, their tables, and searchStream rows as warehouse rows."""

from __future__ import annotations

from datetime import date

import pytest
from common.errors import ConfigurationError

from tests.connectors.support import load_connector

sa360 = load_connector("sa360")
CAMPAIGN = sa360.models.REPORTS["campaign"]


def test_a_report_queries_its_days_both_included() -> None:
    assert CAMPAIGN.query(date(2024, 5, 1), date(2024, 5, 31)) == (
        "SELECT customer.id, campaign.id, campaign.name, campaign.status, metrics.clicks, "
        "metrics.impressions, metrics.cost_micros, metrics.conversions, segments.date FROM campaign "
        "WHERE segments.date BETWEEN '2024-05-01' AND '2024-05-31'"
    )


def test_a_report_table_is_keyed_by_the_resource_id_and_the_date() -> None:
    schema = sa360.models.REPORTS["ad_group"].schema
    assert schema["primary_key"] == ["ad_group_id", "segments_date"]
    assert schema["columns"]["campaign_id"] == "STRING"
    assert schema["columns"]["metrics_cost_micros"] == "LONG"
    assert schema["columns"]["segments_date"] == "NAIVE_DATE"


def test_a_search_result_becomes_a_row() -> None:
    result = {
        "customer": {"resourceName": "customers/1234567890", "id": "1234567890"},
        "campaign": {"resourceName": "customers/1234567890/campaigns/101", "id": "101", "name": "Brand"},
        "metrics": {"clicks": "12", "impressions": "240", "costMicros": "3000000", "conversions": 1.5},
        "segments": {"date": "2024-05-01"},
    }
    assert sa360.models.row(result, CAMPAIGN) == {
        "customer_resource_name": "customers/1234567890",
        "customer_id": "1234567890",
        "campaign_resource_name": "customers/1234567890/campaigns/101",
        "campaign_id": "101",
        "campaign_name": "Brand",
        "metrics_clicks": 12,
        "metrics_impressions": 240,
        "metrics_cost_micros": 3_000_000,
        "metrics_conversions": 1.5,
        "segments_date": "2024-05-01",
    }


def test_a_result_without_its_key_cannot_be_a_row() -> None:
    with pytest.raises(ValueError, match="campaign row has no campaign_id"):
        sa360.models.row({"segments": {"date": "2024-05-01"}}, CAMPAIGN)


def test_reports_are_chosen_by_name_once_each() -> None:
    chosen = sa360.sync.reports_from("ad_group, campaign,ad_group")
    assert [report.table for report in chosen] == ["ad_group", "campaign"]
    with pytest.raises(ConfigurationError, match="'reports'"):
        sa360.sync.reports_from("keyword_view")
