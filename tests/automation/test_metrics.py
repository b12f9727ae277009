"""Prometheus metrics, read back through the exposition text a scraper sees."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from automation.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_stacks_by_phase_follow_the_latest_phases() -> None:
    metrics = Metrics()
    metrics.set_stack_phases({"dev": "Ready", "prod": "Ready", "lab": "Drifted"})
    metrics.set_stack_phases({"dev": "Ready", "prod": "Stalled"})

    found = samples(metrics)

    assert found[("driftless_stacks", (("phase", "Ready"),))] == 1
    assert found[("driftless_stacks", (("phase", "Stalled"),))] == 1
    assert found[("driftless_stacks", (("phase", "Drifted"),))] == 0  # lab is gone: back to zero


def test_operations_drift_and_failures_are_counted() -> None:
    metrics = Metrics()
    metrics.count_operation("up", "succeeded")
    metrics.count_operation("up", "succeeded")
    metrics.count_operation("up", "failed")
    metrics.count_drift("prod")
    metrics.count_failure("ConcurrentUpdate")

    found = samples(metrics)

    assert found[("driftless_operations_total", (("kind", "up"), ("result", "succeeded")))] == 2
    assert found[("driftless_operations_total", (("kind", "up"), ("result", "failed")))] == 1
    assert found[("driftless_drift_detections_total", (("stack", "prod"),))] == 1
    assert found[("driftless_failures_total", (("reason", "ConcurrentUpdate"),))] == 1


def test_reconcile_durations_are_a_histogram() -> None:
    metrics = Metrics()
    metrics.observe_reconcile("dev", 3.0)
    metrics.observe_reconcile("dev", 45.0)

    found = samples(metrics)

    assert found[("driftless_reconcile_duration_seconds_count", (("stack", "dev"),))] == 2
    assert found[("driftless_reconcile_duration_seconds_sum", (("stack", "dev"),))] == 48.0
    assert found[("driftless_reconcile_duration_seconds_bucket", (("le", "5.0"), ("stack", "dev")))] == 1


def test_two_daemons_in_one_process_do_not_share_counters() -> None:
    first, second = Metrics(), Metrics()
    first.count_failure("Timeout")

    assert ("driftless_failures_total", (("reason", "Timeout"),)) not in samples(second)
