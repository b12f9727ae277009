"""A stack is Ready only when it is applied and every component says it is ready.

Component status outputs carry ``ready``/``reason``/``message``; the stack's ``Ready`` condition,
its phase, ``status``, ``/stacks`` and ``/metrics`` follow them. A dry run cannot read live status,
so its components are Unknown and it says so.
"""

from __future__ import annotations

import pytest

from automation.daemon.app import status_table
from automation.daemon.driver import ResourceChange
from automation.daemon.health import OFFLINE, component_health, not_ready_message, previews
from automation.daemon.settings import DaemonSettings
from automation.daemon.status import READY, StackStatus
from automation.metrics import Metrics
from tests.automation.daemon.helpers import FakeDriver, write_stack
from tests.automation.daemon.helpers import note as note_document

RUNNING = {
    "ready": "True",
    "reason": "AllComponentsReady",
    "message": "all components ready",
    "phase": "Running",
}
FAILED = {
    "ready": "False",
    "reason": "ComponentFailed",
    "message": "indexer: progress deadline exceeded",
    "phase": "Failed",
}
KAFKA_ERROR = {
    "ready": "False",
    "reason": "PieceInError",
    "message": "kafka: Error: NotReady",
    "state": "Error",
}


@pytest.fixture
def stack(layout):
    write_stack(layout.stacks_dir / "alpha.yaml", note_document("a"))


# --- reading health from outputs -------------------------------------------------------------------


def test_each_component_reads_its_ready_reason_and_message():
    health = component_health({"WazuhCluster/siem": FAILED, "WandB/ml": RUNNING}, live=True)
    assert [(h.subject, h.ready, h.reason, h.message) for h in health] == [
        ("WandB/ml", "True", "AllComponentsReady", "all components ready"),
        ("WazuhCluster/siem", "False", "ComponentFailed", "indexer: progress deadline exceeded"),
    ]


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("[computed]", "StatusNotComputed"),
        (None, "StatusNotComputed"),
        ({"phase": "Running"}, "HealthNotReported"),
        ({"ready": True, "phase": "Running"}, "HealthNotReported"),  # a bool is not the uniform field
        ({"ready": "Yes"}, "HealthNotReported"),
    ],
)
def test_a_status_that_cannot_say_is_unknown_never_ready(status, reason):
    (health,) = component_health({"Project/api": status}, live=True)
    assert (health.ready, health.reason) == ("Unknown", reason)


def test_offline_every_component_is_unknown_and_says_why():
    (health,) = component_health({"WazuhCluster/siem": RUNNING}, live=False)
    assert (health.ready, health.reason) == ("Unknown", OFFLINE)
    assert "dry-run" in health.message


def test_outputs_that_are_not_components_are_ignored():
    assert component_health({"connectorId": "abc", "/x": {}, "Kind/": {}}, live=True) == []


def test_the_not_ready_message_counts_and_names_each_component():
    health = component_health(
        {"WazuhCluster/siem": FAILED, "WandB/ml": RUNNING, "WandB/b": KAFKA_ERROR}, live=True
    )
    assert not_ready_message(health) == (
        "2 of 3 component(s) not ready: WandB/b (False, PieceInError): kafka: Error: NotReady; "
        "WazuhCluster/siem (False, ComponentFailed): indexer: progress deadline exceeded"
    )


def test_previews_are_listed_with_their_component_url_and_expiry():
    outputs = {
        "Project/api": {
            **RUNNING,
            "previews": {
                "feature-x": {
                    "branch": "feature/x",
                    "url": "https://feature-x.api.apps",
                    "expiresAt": "2026-12-10T00:00:00Z",
                }
            },
        },
        "WandB/ml": RUNNING,
    }
    status = StackStatus("alpha", previews=previews(outputs))
    assert status.to_json()["previews"] == [
        {
            "component": "Project/api",
            "slug": "feature-x",
            "branch": "feature/x",
            "url": "https://feature-x.api.apps",
            "expiresAt": "2026-12-10T00:00:00Z",
        }
    ]


# --- the stack's Ready condition and phase -----------------------------------------------------------


@pytest.mark.usefixtures("stack")
def test_an_applied_stack_with_a_failed_component_is_not_ready(make_reconciler, driver: FakeDriver):
    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": FAILED, "WandB/ml": RUNNING}
    reconciler = make_reconciler(driver)
    reconciler.cycle()

    status = reconciler.status("alpha")
    ready = status.condition(READY)
    assert (ready.status, ready.reason) == ("False", "ComponentsNotReady")
    assert "WazuhCluster/siem (False, ComponentFailed): indexer: progress deadline exceeded" in ready.message
    assert status.phase == "NotReady"
    assert status.last_operation.result == "succeeded"  # the up itself did not fail
    assert [c["ready"] for c in status.to_json()["components"]] == ["True", "False"]


@pytest.mark.usefixtures("stack")
def test_the_stack_becomes_ready_when_every_component_is(make_reconciler, driver: FakeDriver, clock):
    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": {**FAILED, "requeueAfterSeconds": 30}}
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    assert reconciler.status("alpha").phase == "NotReady"

    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": {**RUNNING, "requeueAfterSeconds": 30}}
    clock.advance(30)
    reconciler.cycle()  # the component's requeue hint brings the up that reads it again

    status = reconciler.status("alpha")
    assert (status.condition(READY).status, status.condition(READY).reason) == ("True", "UpSucceeded")
    assert status.phase == "Ready"


@pytest.mark.usefixtures("stack")
def test_a_component_with_unknown_health_holds_the_stack_back(make_reconciler, driver: FakeDriver):
    driver.stack_outputs["alpha"] = {"Project/api": {"phase": "Running"}}
    reconciler = make_reconciler(driver)
    reconciler.cycle()
    ready = reconciler.status("alpha").condition(READY)
    assert (ready.status, ready.reason) == ("False", "ComponentsNotReady")
    assert "Project/api (Unknown, HealthNotReported)" in ready.message


@pytest.mark.usefixtures("stack")
def test_a_clean_drift_check_does_not_make_an_unhealthy_stack_ready(
    make_reconciler, driver: FakeDriver, clock
):
    driver.stack_outputs["alpha"] = {"WandB/ml": KAFKA_ERROR}
    settings = DaemonSettings.model_validate({"drift": {"enabled": True, "intervalSeconds": 600}})
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()
    clock.advance(600)
    reconciler.cycle()

    assert [c[0] for c in driver.calls] == ["up", "drift"]
    status = reconciler.status("alpha")
    assert status.condition(READY).reason == "ComponentsNotReady"
    assert status.phase == "NotReady"


@pytest.mark.usefixtures("stack")
def test_drift_outranks_not_ready_in_the_phase(make_reconciler, driver: FakeDriver, clock):
    driver.stack_outputs["alpha"] = {"WandB/ml": KAFKA_ERROR}
    driver.drift["alpha"] = (ResourceChange("update", "kubernetes:apps/v1:Deployment", "api"),)
    settings = DaemonSettings.model_validate({"drift": {"enabled": True, "intervalSeconds": 600}})
    reconciler = make_reconciler(driver, settings=settings)
    reconciler.cycle()
    clock.advance(600)
    reconciler.cycle()
    assert reconciler.status("alpha").phase == "Drifted"


# --- where people see it -------------------------------------------------------------------------


@pytest.mark.usefixtures("stack")
def test_status_shows_components_ready_and_the_reason(make_reconciler, driver: FakeDriver):
    driver.stack_outputs["alpha"] = {"WazuhCluster/siem": FAILED, "WandB/ml": RUNNING}
    reconciler = make_reconciler(driver)
    reconciler.cycle()

    table = status_table(reconciler.statuses())
    header, row = table.splitlines()[:2]
    assert "COMPONENTS READY" in header
    assert row.split()[:3] == ["alpha", "NotReady", "1/2"]
    assert "ComponentsNotReady: 1 of 2 component(s) not ready: WazuhCluster/siem" in row


def test_the_status_json_round_trips_components_and_previews():
    status = StackStatus("alpha")
    status.components = component_health({"WazuhCluster/siem": FAILED}, live=True)
    status.previews = previews({"Project/api": {"previews": {"x": {"branch": "x", "url": "https://x"}}}})
    again = StackStatus.from_json(status.to_json())
    assert (again.components, again.previews) == (status.components, status.previews)


def test_metrics_export_a_series_per_component_and_ready_value():
    metrics = Metrics()
    metrics.set_component_health("alpha", component_health({"WazuhCluster/siem": FAILED}, live=True))
    text = metrics.exposition().decode()
    series = 'driftless_component_ready{kind="WazuhCluster",name="siem",ready="%s",stack="alpha"}'
    assert series % "False" + " 1.0" in text
    assert series % "True" + " 0.0" in text
    assert series % "Unknown" + " 0.0" in text

    metrics.set_component_health("alpha", [])  # the component was removed
    assert "driftless_component_ready{" not in metrics.exposition().decode()
