"""What the daemon core needs from the observation store and the metrics, as Protocols.

The real implementations live in :mod:`automation.observation_store` and
:mod:`automation.metrics`; the reconciler depends only
on these shapes, so it is tested with the null objects below and wired to the real ones in the
command line.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from automation.daemon.health import ComponentHealth
from components.documents import StackDocuments
from components.observations import Observations


class ObservationSource(Protocol):
    def for_stack(self, documents: StackDocuments, now: datetime) -> Observations: ...

    def fingerprint_material(self, documents: StackDocuments, now: datetime) -> dict[str, Any]: ...

    def record_outputs(self, stack: str, kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        """Keep what a component's outputs tell for the stack's next run; True when it changed."""
        ...

    def component_checks(self, documents: StackDocuments) -> dict[str, tuple[bool, str]]:
        """``"<Kind>/<name>"`` → (passed, message) of the daemon's own check of that component."""
        ...

    def save(self) -> None: ...


class LockedObservations:
    """An observation source shared by the cycle and the pool's threads: every call holds ``lock``."""

    def __init__(self, observations: ObservationSource, lock: threading.RLock):
        self._observations = observations
        self._lock = lock

    def for_stack(self, documents: StackDocuments, now: datetime) -> Observations:
        with self._lock:
            return self._observations.for_stack(documents, now)

    def fingerprint_material(self, documents: StackDocuments, now: datetime) -> dict[str, Any]:
        with self._lock:
            return self._observations.fingerprint_material(documents, now)

    def record_outputs(self, stack: str, kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        with self._lock:
            return self._observations.record_outputs(stack, kind, name, outputs)

    def component_checks(self, documents: StackDocuments) -> dict[str, tuple[bool, str]]:
        with self._lock:
            return self._observations.component_checks(documents)

    def save(self) -> None:
        with self._lock:
            self._observations.save()


class MetricsSink(Protocol):
    def set_stack_phases(self, phases: Mapping[str, str]) -> None: ...

    def set_component_health(self, stack: str, components: list[ComponentHealth]) -> None: ...

    def observe_reconcile(self, stack: str, seconds: float) -> None: ...

    def count_operation(self, kind: str, result: str) -> None: ...

    def count_drift(self, stack: str) -> None: ...

    def count_failure(self, reason: str) -> None: ...


class NoObservations:
    """Nothing observed: the program sees only the clock."""

    def for_stack(self, documents: StackDocuments, now: datetime) -> Observations:
        return Observations(now=now)

    def fingerprint_material(self, documents: StackDocuments, now: datetime) -> dict[str, Any]:
        return {}

    def record_outputs(self, stack: str, kind: str, name: str, outputs: Mapping[str, Any]) -> bool:
        return False

    def component_checks(self, documents: StackDocuments) -> dict[str, tuple[bool, str]]:
        return {}

    def save(self) -> None:
        return None


class NoMetrics:
    """Metrics that go nowhere (``run --once``, tests)."""

    def set_stack_phases(self, phases: Mapping[str, str]) -> None:
        return None

    def set_component_health(self, stack: str, components: list[ComponentHealth]) -> None:
        return None

    def observe_reconcile(self, stack: str, seconds: float) -> None:
        return None

    def count_operation(self, kind: str, result: str) -> None:
        return None

    def count_drift(self, stack: str) -> None:
        return None

    def count_failure(self, reason: str) -> None:
        return None
