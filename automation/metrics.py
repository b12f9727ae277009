"""Prometheus metrics of the daemon, served at ``/metrics``.

The metrics live in their own :class:`prometheus_client.CollectorRegistry`, not the process-wide
default one, so two daemons (or two tests) in one process never share or collide on counters.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from automation.daemon.health import READY_VALUES, ComponentHealth
from automation.daemon.status import PHASES

CONTENT_TYPE = CONTENT_TYPE_LATEST


# A reconcile is one Pulumi operation: seconds for a no-op preview, many minutes for a cluster.
RECONCILE_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class Metrics:
    """The daemon's Prometheus metrics, in a registry of their own (not the process-global one)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._lock = threading.Lock()
        self._stacks = Gauge(
            "driftless_stacks", "Stacks by phase.", labelnames=("phase",), registry=self.registry
        )
        self._reconcile = Histogram(
            "driftless_reconcile_duration_seconds",
            "Duration of reconciles (one Pulumi operation each).",
            labelnames=("stack",),
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self._operations = Counter(
            "driftless_operations",
            "Pulumi operations by kind (preview, up, refresh, drift, destroy) and result.",
            labelnames=("kind", "result"),
            registry=self.registry,
        )
        self._drift = Counter(
            "driftless_drift_detections",
            "Drift checks that found live state differing from the desired state.",
            labelnames=("stack",),
            registry=self.registry,
        )
        self._failures = Counter(
            "driftless_failures",
            "Failed operations by reason.",
            labelnames=("reason",),
            registry=self.registry,
        )
        self._components = Gauge(
            "driftless_component_ready",
            "1 for the ready value (True, False, Unknown) each stack's component reported at the last up.",
            labelnames=("stack", "kind", "name", "ready"),
            registry=self.registry,
        )
        self._component_series: dict[str, list[tuple[str, str, str, str]]] = {}  # stack -> its labels
        self._phases_seen: set[str] = set(PHASES)  # all exported, so a dashboard shows 0 rather than no data
        self.set_stack_phases({})

    def set_stack_phases(self, phases: Mapping[str, str]) -> None:
        """Set ``driftless_stacks{phase}`` from every stack's current phase (stack → phase)."""
        counts: dict[str, int] = {}
        for phase in phases.values():
            counts[phase] = counts.get(phase, 0) + 1
        with self._lock:
            self._phases_seen |= counts.keys()
            for phase in self._phases_seen:
                self._stacks.labels(phase=phase).set(counts.get(phase, 0))

    def set_component_health(self, stack: str, components: list[ComponentHealth]) -> None:
        """Set ``driftless_component_ready`` for one stack's components (at each save of its status).

        Each component has a series per ready value, 1 for the current one and 0 for the others, as
        kube-state-metrics exports conditions; a component that is gone loses its series.
        """
        with self._lock:
            for labels in self._component_series.pop(stack, []):
                self._components.remove(*labels)
            series = []
            for health in components:
                for value in READY_VALUES:
                    labels = (stack, health.kind, health.name, value)
                    self._components.labels(*labels).set(1 if health.ready == value else 0)
                    series.append(labels)
            self._component_series[stack] = series

    def observe_reconcile(self, stack: str, seconds: float) -> None:
        self._reconcile.labels(stack=stack).observe(seconds)

    def count_operation(self, kind: str, result: str) -> None:
        self._operations.labels(kind=kind, result=result).inc()

    def count_drift(self, stack: str) -> None:
        self._drift.labels(stack=stack).inc()

    def count_failure(self, reason: str) -> None:
        self._failures.labels(reason=reason).inc()

    def exposition(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
