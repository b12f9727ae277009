"""Re-reading records changed since the last sync: a cursor on the modification time, with an overlap.

An ID cursor (:mod:`common.cursor`) reads each record once, when it is new. A record edited after
that is found again through the source's last-modified date: each sync reads the records modified
since the previous one began, less ``overlap`` (15 minutes by default), and upserts them. The
overlap covers a source clock a little behind ours and changes committed with a modification time
slightly before they became visible; it re-reads a few records twice, which the upserts (keyed by
primary key) make harmless.

The lower bound of the next pass is the instant the current one *began* (never the newest
modification time seen): a record edited while the pass runs has a later modification time and is
read again next time, however the pages fell.

:class:`ChangeCursor` is the state of such a pass over an ID-sorted query (``id > last_id``, as the
ID cursor, plus ``modified >= since - overlap``): it is resumable after a crash like the ID cursor
and stops at ``ceiling``, the ID cursor's position when the pass began, so the records above it (new
ones) are left to the ID cursor and arrive once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common import config
from common.cursor import IdCursor

OVERLAP = timedelta(minutes=15)


def overlap_from(configuration: Mapping[str, object]) -> timedelta:
    """The overlap window, tunable through ``modified_overlap_seconds``."""
    seconds = config.number(configuration, "modified_overlap_seconds", OVERLAP.total_seconds(), minimum=0)
    return timedelta(seconds=seconds)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


@dataclass
class ChangeCursor:
    """Where the re-reading of changed records stands.

    ``since``: changes from this instant on (less the overlap) are still to be read; ``None`` reads
    every record up to the ceiling once (a stream synced before changes were tracked).
    ``began``/``ceiling``/``ids``: a pass under way, the instant it began (the next ``since``),
    the highest ID it reads, and how far it got.
    """

    since: datetime | None
    began: datetime | None = None
    ceiling: str | None = None
    ids: IdCursor = field(default_factory=IdCursor)

    @property
    def under_way(self) -> bool:
        """Whether a pass began and has not finished (a crash interrupted it)."""
        return self.began is not None

    def lower_bound(self, overlap: timedelta) -> datetime | None:
        """The modification time the pass reads from: ``since`` less the overlap (None: from the start)."""
        return None if self.since is None else self.since - overlap

    def begin(self, now: datetime, ceiling: str) -> None:
        """Starts a pass at ``now`` over the records up to ``ceiling``."""
        self.began, self.ceiling, self.ids = now, ceiling, IdCursor()

    def finish(self) -> None:
        """The pass is complete: the next one reads the changes since this one began."""
        self.since, self.began, self.ceiling, self.ids = self.began, None, None, IdCursor()

    def to_state(self) -> dict[str, Any]:
        """The cursor as it is kept in the connector state."""
        return {
            "since": _text(self.since),
            "began": _text(self.began),
            "ceiling": self.ceiling,
            **self.ids.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ChangeCursor:
        """The cursor kept in ``state``."""
        ceiling = state.get("ceiling")
        return cls(
            since=_instant(state.get("since")),
            began=_instant(state.get("began")),
            ceiling=None if ceiling is None else str(ceiling),
            ids=IdCursor.from_state(dict(state)),
        )
