"""The health every component's status output carries, in one shape for every kind.

Next to its domain fields (a WazuhCluster's phase, a WandB's pieces, a Project's builds), each
status output has ``ready`` (``"True"``, ``"False"`` or ``"Unknown"``, as a kstatus condition
writes it), a CamelCase ``reason`` and a ``message`` for people. The daemon reads only these three
to decide whether a stack is Ready, so it never needs to know what a kind's own fields mean.
"""

from __future__ import annotations

from typing import Any

TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


def health(ready: bool | None, reason: str, message: str) -> dict[str, Any]:
    """The three health fields; ``ready=None`` when the live state could not tell."""
    return {
        "ready": UNKNOWN if ready is None else (TRUE if ready else FALSE),
        "reason": reason,
        "message": message,
    }


def from_condition(condition: dict[str, Any]) -> dict[str, Any]:
    """The health fields of a kind whose status already has a ``Ready`` condition."""
    status = str(condition.get("status", UNKNOWN))
    return {
        "ready": status if status in (TRUE, FALSE) else UNKNOWN,
        "reason": str(condition.get("reason", "")),
        "message": str(condition.get("message", "")),
    }
