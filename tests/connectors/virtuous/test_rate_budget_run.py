"""The Virtuous connector under ``fivetran debug`` against an organization whose hourly budget is
nearly spent by another integration: it must slow down and wait for the reset, never run into 429."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.connectors.support import DebugProject
from tests.connectors.virtuous.fake_virtuous import FakeVirtuous

TOKEN = "vt-Budget-Token-9d2e"


def _contact(contact_id: int) -> dict[str, Any]:
    return {"id": contact_id, "contactType": "Individual", "name": f"Person {contact_id}"}


def _gift(gift_id: int) -> dict[str, Any]:
    return {"id": gift_id, "contactId": 1, "giftType": "Cash", "amount": 10, "currencyCode": "USD"}


def test_the_connector_waits_for_the_budget_instead_of_running_into_429(tmp_path: Path) -> None:
    contacts = [_contact(i) for i in range(1, 2501)]  # three pages of contacts, one of gifts
    with FakeVirtuous(TOKEN, contacts, [_gift(i) for i in range(1, 11)]) as fake:
        # A small organization-wide budget (the real one is 5,000 an hour) in a short window, most
        # of it already spent by another integration when the sync starts.
        fake.rate_limit = 3
        fake.window_seconds = 4.0
        fake.spend(2)
        project = DebugProject(
            tmp_path,
            "virtuous",
            {"bearer_token": TOKEN, "base_url": fake.url, "parallel_requests": "1", "max_attempts": "1"},
        )
        run = project.run(fake)

    assert run.returncode == 0, run.output[-3000:]
    # More requests than one window allows, yet the source never had to refuse one: the connector
    # read X-RateLimit-Remaining and waited for X-RateLimit-Reset. (With max_attempts 1, a 429
    # would have failed the sync.)
    queries = [r for r in run.requests if r.path.endswith("/Query")]
    assert len(queries) > fake.rate_limit - 2
    assert fake.over_budget == 0
    assert all(r.status == 200 for r in queries)
    waited = re.search(r"waited ([\d.]+)s in all for the source's request budget", run.output)
    assert waited is not None, run.output[-3000:]
    assert float(waited.group(1)) > 0
    assert sorted(int(row["id"]) for row in run.rows("contacts")) == list(range(1, 2501))
    assert len(run.rows("gifts")) == 10
