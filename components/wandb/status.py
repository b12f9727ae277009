"""Piece states and the WandB summary (the seed's Infer and Summarize steps), as plain data.

Every piece's live status is inferred into one :class:`State` with a message. The WandB summary is
the most severe piece state (Error > Unavailable > Pending > Degraded > Healthy), and the whole is
Ready when no piece is in Error, Pending or Unavailable: a Degraded piece still serves. The
summary carries the daemon's requeue hint for that state, so a cluster still coming up is looked
at again soon and a healthy one rarely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components.common.health import health


class State(StrEnum):
    """A piece's (or the whole infra's) condition, least to most severe."""

    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    PENDING = "Pending"
    UNAVAILABLE = "Unavailable"
    ERROR = "Error"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def ready(self) -> bool:
        """Serving: Healthy, or Degraded (reduced redundancy, still usable)."""
        return self in (State.HEALTHY, State.DEGRADED)


_SEVERITY = {state: rank for rank, state in enumerate(State)}
_NOT_READY = frozenset({State.ERROR, State.PENDING, State.UNAVAILABLE})

_SUMMARY_REASONS: Mapping[State, str] = {
    State.HEALTHY: "AllPiecesHealthy",
    State.DEGRADED: "PiecesDegraded",
    State.PENDING: "PiecesPending",
    State.UNAVAILABLE: "PiecesUnavailable",
    State.ERROR: "PieceInError",
}

# Seconds until the daemon should look again. Unavailable is not in the seed's list; it takes the
# upstream operator's default of three minutes.
REQUEUE_AFTER_SECONDS: Mapping[State, int] = {
    State.ERROR: 15,
    State.UNAVAILABLE: 180,
    State.PENDING: 120,
    State.DEGRADED: 300,
    State.HEALTHY: 600,
}


@dataclass(frozen=True)
class PieceStatus:
    """What one piece's live status means: a state and a message a person can act on."""

    state: State
    message: str
    # What the state was read from, when a piece has more than one place to read it.
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The output form. ``ready``/``progressing``/``degraded`` are the three flags every piece reports."""
        data: dict[str, Any] = {
            "state": self.state.value,
            "message": self.message,
            "ready": self.state.ready,
            "progressing": self.state is State.PENDING,
            "degraded": self.state in (State.DEGRADED, State.UNAVAILABLE, State.ERROR),
        }
        if self.source is not None:
            data["source"] = self.source
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PieceStatus:
        source = data.get("source")
        return cls(State(data["state"]), str(data.get("message", "")), str(source) if source else None)


def summarize(pieces: Mapping[str, PieceStatus]) -> dict[str, Any]:
    """The WandB status output: health, summary state, per-piece states, requeue hint."""
    if not pieces:
        state, message = State.HEALTHY, "no infra piece is enabled"
    else:
        state = max((p.state for p in pieces.values()), key=lambda s: s.severity)
        troubled = sorted(
            ((name, p) for name, p in pieces.items() if p.state is not State.HEALTHY),
            key=lambda item: (-item[1].state.severity, item[0]),
        )
        if troubled:
            message = "; ".join(f"{name}: {p.state.value}: {p.message}" for name, p in troubled)
        else:
            message = f"all {len(pieces)} infra pieces are healthy"
    ready = not any(p.state in _NOT_READY for p in pieces.values())
    return {
        **health(ready, _SUMMARY_REASONS[state], message),
        "state": state.value,
        "pieces": {name: pieces[name].to_dict() for name in sorted(pieces)},
        "requeueAfterSeconds": REQUEUE_AFTER_SECONDS[state],
    }
