"""Preview TTLs: wake the daemon when a preview environment expires.

A preview lives until the expiry recorded when its branch was first seen (``ttlHours`` later).
Nothing outside changes at that moment, so without this source an expired preview would linger
until some other input changed. ``next_due`` is the earliest expiry not yet reported, so the loop
sleeps exactly until then; ``poll`` names the stacks whose previews expired. The expiry itself
reaches the program through the observations (the program drops a preview past its expiry), and
the fingerprint includes the set of expired previews, so each expiry causes exactly one ``up``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime

from automation.observation_store import ObservationStore
from automation.sources.base import Change
from components.documents import StackDocuments
from components.inputs import NEW

log = logging.getLogger("driftless.sources.ttl")


class TtlSource:
    """Reports each preview's expiry once, at the time it expires."""

    name = "ttl"

    def __init__(self, stacks: Mapping[str, StackDocuments], store: ObservationStore):
        self._store = store
        # (stack, preview key, first-seen) already reported: a branch deleted and pushed again gets
        # a new first-seen time, and its new preview expires in its own time. Each stack has its
        # own previews, so two stacks defining the same Project expire theirs independently.
        self._reported: set[tuple[str, str, datetime]] = set()
        self.update_stacks(stacks)

    def update_stacks(self, stacks: Mapping[str, StackDocuments]) -> None:
        self._stacks = dict(stacks)

    def _expiries(self, now: datetime) -> Iterator[tuple[str, str, datetime, datetime]]:
        """(stack, preview key, first seen, expiry) of every recorded preview.

        The expiry is the one recorded when the branch was first seen.
        """
        for stack, documents in self._stacks.items():
            for repository in self._store.repositories(documents):
                for identity in self._store.preview_identities(stack, repository, now).values():
                    if identity.origin != NEW:
                        key = repository.key_prefix() + identity.slug
                        yield stack, key, identity.first_seen, identity.expires_at

    def next_due(self, now: datetime) -> datetime | None:
        pending = [
            expiry
            for stack, key, seen, expiry in self._expiries(now)
            if (stack, key, seen) not in self._reported
        ]
        return min(pending, default=None)

    def poll(self, now: datetime) -> list[Change]:
        """A change for the stacks whose previews expired since the last poll."""
        expired: dict[str, list[str]] = {}
        current: set[tuple[str, str, datetime]] = set()
        newly: set[tuple[str, str, datetime]] = set()
        for stack, key, first_seen, expiry in self._expiries(now):
            current.add((stack, key, first_seen))
            if expiry <= now and (stack, key, first_seen) not in self._reported:
                expired.setdefault(stack, []).append(key)
                newly.add((stack, key, first_seen))
        # forget previews that are gone, so the set stays as small as the previews that exist
        self._reported = (self._reported & current) | newly
        if not expired:
            return []
        keys = sorted({key for keys in expired.values() for key in keys})
        detail = f"preview TTL expired: {', '.join(keys)}"
        log.info(detail, extra={"previews": keys})
        return [Change("ttl", frozenset(expired), detail)]

    def close(self) -> None:
        pass
