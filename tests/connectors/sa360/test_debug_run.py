"""The SA360 connector under the SDK's real local runner (``fivetran debug``) against a fake Reporting API.

One scenario, three runs (module fixture, as each run starts a Python process): a first sync that
the fake crashes in its second search; a rerun that must resume from the checkpoint (less the
lookback), during which the fake revokes the access token; and an incremental sync after late
conversions changed two days, with access tokens that expire within it. Then what each API error
becomes: a day that keeps failing goes to the ``errors`` table, the others fail the sync.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.common.archive import build_connector_package
from tests.connectors.sa360.fake_sa360 import FakeSa360, query_window
from tests.connectors.support import CONNECTORS, SHARED, DebugProject, DebugRun

CUSTOMER, MANAGER = "1234567890", "9876543210"
CLIENT_ID = "1029384756-driftless.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-s3cr3t-9a8b7c6d5e"
REFRESH_TOKEN = "1//0gRefresh-Tok3n-x7Y8z9"
DAY = timedelta(days=1)
LOOKBACK = 7
SEARCH_PATH = f"/v0/customers/{CUSTOMER}/searchAds360:searchStream"


def _today() -> date:
    return datetime.now(UTC).date()


def _fake(first_day: date, **extra: Any) -> FakeSa360:
    return FakeSa360(
        customer_id=CUSTOMER,
        login_customer_id=MANAGER,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        first_day=first_day,
        **extra,
    )


def _configuration(fake: FakeSa360, start: date, **extra: str) -> dict[str, str]:
    return {
        "customer_id": "123-456-7890",
        "login_customer_id": "987-654-3210",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": REFRESH_TOKEN,
        "start_date": start.isoformat(),
        "lookback_days": str(LOOKBACK),
        "base_url": f"{fake.url}/v0",
        "token_url": f"{fake.url}/token",
        "max_attempts": "2",
        "backoff_base_seconds": "0.01",
        "backoff_max_seconds": "0.05",
        **extra,
    }


def _searches(run: DebugRun, resource: str | None = None) -> list[tuple[str, date, date]]:
    """The (resource, first day, last day) of every search the run sent that was answered 200."""
    windows = [
        query_window(r.body["query"]) for r in run.requests if r.path == SEARCH_PATH and r.status == 200
    ]
    return [w for w in windows if resource is None or w[0] == resource]


def _keys(rows: list[dict[str, Any]], key: str) -> list[tuple[str, date]]:
    return [(row[key], row["segments_date"]) for row in rows]


@dataclass
class Scenario:
    fake: FakeSa360
    first_day: date
    crashed: DebugRun
    crashed_state: dict[str, Any]
    crashed_campaigns: list[dict[str, Any]]
    resumed: DebugRun
    resumed_state: dict[str, Any]
    resumed_campaigns: list[dict[str, Any]]
    resumed_ad_groups: list[dict[str, Any]]
    incremental: DebugRun


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    first_day = _today() - 59 * DAY
    with _fake(first_day) as fake:
        project = DebugProject(tmp_path_factory.mktemp("sa360"), "sa360", _configuration(fake, first_day))
        fake.crash_on_search = 2  # the campaign report's second window: the first is checkpointed
        crashed = project.run(fake, crash=True)
        # The runs share the warehouse and the state file: keep what each one left.
        crashed_state, crashed_campaigns = crashed.state(), crashed.rows("campaign")
        fake.crash_on_search = None
        fake.revoke_tokens_on_search = fake.searches + 2  # the access token stops working mid-sync
        resumed = project.run(fake)
        resumed_state = resumed.state()
        resumed_campaigns, resumed_ad_groups = resumed.rows("campaign"), resumed.rows("ad_group")
        fake.settle("101", _today() - 3 * DAY, 99.5)  # within the lookback: re-read
        fake.settle("1011", _today() - 20 * DAY, 42.0)  # beyond it: not re-read
        fake.token_lifetime = 61  # the connector renews 60 s early: every token lasts 1 s
        fake.search_delay = 1.1
        incremental = project.run(fake)
    return Scenario(
        fake,
        first_day,
        crashed,
        crashed_state,
        crashed_campaigns,
        resumed,
        resumed_state,
        resumed_campaigns,
        resumed_ad_groups,
        incremental,
    )


def test_a_crash_mid_sync_leaves_exactly_the_checkpointed_window(scenario: Scenario) -> None:
    assert scenario.crashed.returncode != 0, scenario.crashed.output[-2000:]
    cursor = scenario.first_day + 30 * DAY
    assert scenario.crashed_state == {"campaign": {"cursor": cursor.isoformat()}}
    days = [scenario.first_day + n * DAY for n in range(30)]
    expected = {(campaign, day) for campaign in ("101", "102", "103") for day in days}
    assert sorted(_keys(scenario.crashed_campaigns, "campaign_id")) == sorted(expected)


def test_the_rerun_resumes_from_the_checkpoint_less_the_lookback(scenario: Scenario) -> None:
    assert scenario.resumed.returncode == 0, scenario.resumed.output[-3000:]
    cursor = date.fromisoformat(scenario.crashed_state["campaign"]["cursor"])
    campaign = _searches(scenario.resumed, "campaign")
    assert campaign[0][1] == cursor - LOOKBACK * DAY
    assert campaign[-1][2] == _today()
    ad_group = _searches(scenario.resumed, "ad_group")
    assert ad_group[0][1] == scenario.first_day  # never checkpointed: from the start date
    for windows in (campaign, ad_group):  # consecutive windows neither overlap nor leave a gap
        assert all(after[1] == before[2] + DAY for before, after in itertools.pairwise(windows))
    tomorrow = (_today() + DAY).isoformat()
    assert scenario.resumed_state == {"campaign": {"cursor": tomorrow}, "ad_group": {"cursor": tomorrow}}


def test_every_row_lands_exactly_once_with_its_metrics(scenario: Scenario) -> None:
    days = [scenario.first_day + n * DAY for n in range(60)]
    campaigns = _keys(scenario.resumed_campaigns, "campaign_id")
    assert len(campaigns) == len(set(campaigns)) == 3 * 60
    assert set(campaigns) == {(c, d) for c in ("101", "102", "103") for d in days}
    ad_groups = _keys(scenario.resumed_ad_groups, "ad_group_id")
    assert len(ad_groups) == len(set(ad_groups)) == 6 * 60
    row = next(
        r for r in scenario.resumed_ad_groups if (r["ad_group_id"], r["segments_date"]) == ("1021", days[5])
    )
    metrics = scenario.fake.metrics("1021", days[5])
    assert row["metrics_clicks"] == int(metrics["clicks"])
    assert row["metrics_impressions"] == int(metrics["impressions"])
    assert row["metrics_cost_micros"] == int(metrics["costMicros"])
    assert row["metrics_conversions"] == pytest.approx(metrics["conversions"])
    assert (row["customer_id"], row["campaign_id"], row["ad_group_name"]) == (
        CUSTOMER,
        "102",
        "Ad group 1021",
    )


def test_a_revoked_access_token_is_renewed_once_and_the_search_sent_again(scenario: Scenario) -> None:
    requests = scenario.resumed.requests
    (refused,) = [n for n, r in enumerate(requests) if r.status == 401]
    renewal, again = requests[refused + 1], requests[refused + 2]
    assert (renewal.path, renewal.status) == ("/token", 200)
    assert (again.path, again.status, again.body) == (SEARCH_PATH, 200, requests[refused].body)
    assert again.headers["authorization"] != requests[refused].headers["authorization"]
    assert all(r.headers.get("login-customer-id") == MANAGER for r in requests if r.path == SEARCH_PATH)


def test_late_conversions_within_the_lookback_arrive_on_the_next_sync(scenario: Scenario) -> None:
    run = scenario.incremental
    assert run.returncode == 0, run.output[-3000:]
    assert [w[1:] for w in _searches(run)] == [(_today() - (LOOKBACK - 1) * DAY, _today())] * 2
    assert run.upserts() == LOOKBACK * (3 + 6)
    campaigns = {(r["campaign_id"], r["segments_date"]): r for r in run.rows("campaign")}
    assert len(campaigns) == 3 * 60
    assert campaigns[("101", _today() - 3 * DAY)]["metrics_conversions"] == 99.5
    ad_groups = {(r["ad_group_id"], r["segments_date"]): r for r in run.rows("ad_group")}
    assert len(ad_groups) == 6 * 60
    # Beyond the lookback a settled day is not read again: that is what lookback_days bounds.
    assert ad_groups[("1011", _today() - 20 * DAY)]["metrics_conversions"] != 42.0


def test_an_access_token_is_renewed_before_it_expires(scenario: Scenario) -> None:
    requests = scenario.incremental.requests
    assert [r.path for r in requests] == ["/token", SEARCH_PATH, "/token", SEARCH_PATH]
    assert all(r.status == 200 for r in requests)


def test_no_secret_reaches_a_log_the_state_or_a_request_url(scenario: Scenario) -> None:
    secrets = [CLIENT_SECRET, REFRESH_TOKEN, *scenario.fake.issued]
    assert len(scenario.fake.issued) >= 5
    stored = (scenario.incremental.project / "files" / "state.json").read_text()
    for run in (scenario.crashed, scenario.resumed, scenario.incremental):
        for secret in secrets:
            assert secret not in run.output
            assert secret not in stored
    for request in scenario.fake.log:
        assert not request.query
        if request.path == SEARCH_PATH:
            assert set(request.body) == {"query"}


def test_days_that_keep_failing_go_to_the_errors_table(tmp_path: Path) -> None:
    start, failing, failing_in_stream = _today() - 29 * DAY, _today() - 10 * DAY, _today() - 25 * DAY
    with _fake(start) as fake:
        fake.failing_day = failing  # HTTP 500
        fake.stream_failing_day = failing_in_stream  # 200, and the stream ends in an error
        project = DebugProject(tmp_path, "sa360", _configuration(fake, start, reports="campaign"))
        run = project.run(fake)
    assert run.returncode == 0, run.output[-3000:]
    errors = {query_window(json.loads(e["payload"])["query"])[1]: e for e in run.rows("errors")}
    assert sorted(errors) == [failing_in_stream, failing]
    for day, error in errors.items():
        assert query_window(json.loads(error["payload"])["query"]) == ("campaign", day, day)
        assert error["stream"] == "campaign"
        assert error["url"] == f"{fake.url}{SEARCH_PATH}"
        assert "INTERNAL" in error["message"]
        assert CLIENT_SECRET not in json.dumps(error, default=str)
        assert REFRESH_TOKEN not in json.dumps(error, default=str)
    assert "HTTP 500" in errors[failing]["message"]
    landed = _keys(run.rows("campaign"), "campaign_id")
    assert len(landed) == len(set(landed))
    # The rows of the batch sent before the stream failed are not kept: a window is all or nothing.
    assert {day for _, day in landed} == {start + n * DAY for n in range(30)} - {failing, failing_in_stream}
    assert run.state() == {"campaign": {"cursor": (_today() + DAY).isoformat()}}


@pytest.mark.parametrize(
    ("case", "expected", "searches", "token_requests"),
    [
        ("quota", "RESOURCE_EXHAUSTED", 2, 1),  # retried (max_attempts 2), never shrunk or skipped
        ("denied", "PERMISSION_DENIED", 1, 1),
        ("revoked_refresh_token", "invalid_grant", 0, 1),
        ("access_never_accepted", "UNAUTHENTICATED", 2, 2),  # renewed once on the 401, then it fails
        ("unknown_report", "configuration key 'reports' must list reports among campaign, ad_group", 0, 0),
    ],
)
def test_errors_that_fail_the_sync(
    tmp_path: Path, case: str, expected: str, searches: int, token_requests: int
) -> None:
    start = _today() - 5 * DAY
    with _fake(start) as fake:
        extra: dict[str, str] = {"reports": "campaign"}
        if case == "quota":
            fake.quota_exhausted = True
        elif case == "denied":
            fake.denied = True
        elif case == "revoked_refresh_token":
            fake.refresh_token = "1//0gAnother-Grant-q1w2e3"
        elif case == "access_never_accepted":
            fake.token_lifetime = 0
        else:
            extra["reports"] = "campaign,keyword_view"
        project = DebugProject(tmp_path, "sa360", _configuration(fake, start, **extra))
        run = project.run(fake)
    assert run.returncode != 0
    assert expected in run.output, run.output[-3000:]
    assert len([r for r in fake.log if r.path == SEARCH_PATH]) == searches
    assert len([r for r in fake.log if r.path == "/token"]) == token_requests
    if case == "revoked_refresh_token":
        assert "authorize again" in run.output
    for secret in (CLIENT_SECRET, REFRESH_TOKEN, *fake.issued):
        assert secret not in run.output


def test_the_deployment_package_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = build_connector_package(CONNECTORS / "sa360", SHARED, tmp_path / "one")
    second = build_connector_package(CONNECTORS / "sa360", SHARED, tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
