"""The change cursor: its state survives a crash, and the next pass reads from where the last one began."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from common.changes import OVERLAP, ChangeCursor, overlap_from
from common.errors import ConfigurationError

FIRST = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SECOND = datetime(2024, 5, 2, 10, 0, tzinfo=UTC)


def _through_state(cursor: ChangeCursor) -> ChangeCursor:
    """The cursor as the next run finds it: through the JSON state file."""
    return ChangeCursor.from_state(json.loads(json.dumps(cursor.to_state())))


def test_a_pass_interrupted_mid_way_resumes_with_the_same_bounds() -> None:
    cursor = ChangeCursor(since=FIRST)
    cursor.begin(SECOND, ceiling="900")
    cursor.ids.last_id, cursor.ids.total_synced = "412", 37
    resumed = _through_state(cursor)
    assert resumed.under_way
    assert (resumed.since, resumed.began, resumed.ceiling) == (FIRST, SECOND, "900")
    assert (resumed.ids.last_id, resumed.ids.total_synced) == ("412", 37)


def test_the_next_pass_reads_from_where_this_one_began_less_the_overlap() -> None:
    cursor = ChangeCursor(since=FIRST)
    cursor.begin(SECOND, ceiling="900")
    cursor.ids.last_id = "899"
    cursor.finish()
    finished = _through_state(cursor)
    assert not finished.under_way
    assert finished.ids.last_id is None
    assert finished.lower_bound(timedelta(minutes=5)) == SECOND - timedelta(minutes=5)


def test_a_cursor_without_a_start_reads_everything() -> None:
    assert ChangeCursor(since=None).lower_bound(OVERLAP) is None


def test_the_overlap_is_tunable_and_refuses_nonsense() -> None:
    assert overlap_from({}) == timedelta(minutes=15)
    assert overlap_from({"modified_overlap_seconds": "86400"}) == timedelta(days=1)
    with pytest.raises(ConfigurationError, match="modified_overlap_seconds"):
        overlap_from({"modified_overlap_seconds": "-1"})
    with pytest.raises(ConfigurationError, match="modified_overlap_seconds"):
        overlap_from({"modified_overlap_seconds": "a while"})
