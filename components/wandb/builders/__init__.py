"""The five infra pieces, each a pure *write* (spec → custom resource body) and *infer* (live
status → :class:`~components.wandb.status.PieceStatus`). Nothing here imports Pulumi: the
components in ``components.wandb.resources`` register what these functions build, read the live
objects back and feed their ``status`` to the infer functions.

Every custom resource is named after the WandB document (``kubectl get kafka,chi,tenant`` all show
``wandb``); each operator adds its own suffixes to what it derives, so the names do not collide.
One WandB per namespace, which MinIO demands anyway (one Tenant per namespace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.common.objects import SKIP_AWAIT_ANNOTATION, labels

PART_OF = "wandb"


@dataclass(frozen=True)
class Target:
    """Where and how a piece's resources go: shared by every piece of one WandB document."""

    name: str  # the WandB document's name; every custom resource is named after it
    namespace: str
    retain: bool  # keep data-bearing resources and their volumes when deleted from the stack


def metadata(
    target: Target,
    piece: str,
    *,
    name: str | None = None,
    labels_extra: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Metadata for one of a piece's objects.

    ``pulumi.com/skipAwait``: an ``up`` registers what is wanted and returns; readiness is read
    back from the resource's status and retried on the requeue hint, never waited for inline.
    """
    meta: dict[str, Any] = {
        "name": name or target.name,
        "namespace": target.namespace,
        "labels": labels(target.name, piece, PART_OF, labels_extra),
        "annotations": {SKIP_AWAIT_ANNOTATION: "true", **(annotations or {})},
    }
    return meta


# --- reading live status ----------------------------------------------------------------------


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else empty: a missing or odd status reads as nothing reported."""
    return value if isinstance(value, Mapping) else {}


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def count(value: Any) -> int | None:
    """An integer field of a status (the engine hands numbers over as floats)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def conditions(status: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    found = status.get("conditions")
    if not isinstance(found, list):
        return ()
    return [c for c in found if isinstance(c, Mapping)]


def condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    """The condition of ``kind`` (the last one, if an operator repeats it)."""
    found = [c for c in conditions(status) if c.get("type") == kind]
    return found[-1] if found else None


def describe(reason: str, message: str) -> str:
    """``reason: message``, either part optional."""
    return ": ".join(part for part in (reason, message) if part)
