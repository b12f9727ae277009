"""Phase and requeue inference from realistic StatefulSet and Deployment status payloads."""

from __future__ import annotations

import pytest

from components.wazuh.status import (
    ComponentStatus,
    cluster_phase,
    cluster_status,
    earliest,
    infer_component,
    requeue_after,
)
from tests.components.wazuh import fakes


@pytest.mark.parametrize(
    ("desired", "payload", "generation", "expected"),
    [
        pytest.param(3, None, None, ("Pending", 0), id="not observed yet"),
        pytest.param(3, {}, None, ("Pending", 0), id="empty status"),
        pytest.param(
            3,
            {"observedGeneration": 1, "replicas": 0, "availableReplicas": 0},
            1,
            ("Pending", 0),
            id="no pods yet",
        ),
        pytest.param(3, fakes.statefulset_starting(3, ready=0), 1, ("Creating", 0), id="pods starting"),
        pytest.param(3, fakes.statefulset_starting(3, ready=2), 1, ("Creating", 2), id="two of three ready"),
        pytest.param(3, fakes.statefulset_ready(3), 1, ("Running", 3), id="all ready"),
        pytest.param(3, fakes.statefulset_ready(3), 2, ("Creating", 3), id="status for an older spec"),
        pytest.param(
            3,
            fakes.statefulset_ready(3) | {"updatedReplicas": 1, "updateRevision": "rev-6a7b8c9d0"},
            1,
            ("Creating", 3),
            id="rolling onto a new revision",
        ),
        pytest.param(4, fakes.statefulset_ready(3), 1, ("Creating", 3), id="scaling up"),
        pytest.param(1, fakes.deployment_ready(1), 1, ("Running", 1), id="deployment available"),
        pytest.param(1, fakes.deployment_stuck(1), 2, ("Failed", 0), id="progress deadline exceeded"),
        pytest.param(
            2,
            {
                "observedGeneration": 1,
                "replicas": 1,
                "readyReplicas": 1,
                "conditions": [
                    {
                        "type": "ReplicaFailure",
                        "status": "True",
                        "reason": "FailedCreate",
                        "message": 'pods "siem-dashboard-x" is forbidden: exceeded quota',
                    }
                ],
            },
            1,
            ("Failed", 1),
            id="replica failure",
        ),
        pytest.param(
            2,
            {"observed_generation": 1, "replicas": 2, "ready_replicas": 2, "updated_replicas": 2},
            1,
            ("Running", 2),
            id="typed SDK output in snake_case",
        ),
        pytest.param(
            2,
            {"replicas": 2.0, "readyReplicas": 2.0, "updatedReplicas": 2.0},
            None,
            ("Running", 2),
            id="wire floats",
        ),
    ],
)
def test_component_phase(desired, payload, generation, expected):
    result = infer_component(desired, payload, generation)
    assert (result.phase, result.ready_replicas) == expected
    assert result.replicas == desired


def _c(phase: str) -> ComponentStatus:
    return ComponentStatus(1, 1 if phase == "Running" else 0, phase)


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        (["Running", "Running", "Running"], "Running"),
        (["Pending", "Pending"], "Pending"),
        (["Running", "Pending"], "Creating"),
        (["Running", "Creating"], "Creating"),
        (["Running", "Failed", "Creating"], "Failed"),
        (["Pending", "Failed"], "Failed"),
    ],
)
def test_cluster_phase(phases, expected):
    assert cluster_phase({f"c{i}": _c(p) for i, p in enumerate(phases)}) == expected


@pytest.mark.parametrize(
    ("phase", "renewal_due", "seconds"),
    [
        ("Running", False, 30),
        ("Creating", False, 10),
        ("Pending", False, 10),
        ("Failed", False, 30),
        ("Running", True, 0),
        ("Creating", True, 0),
    ],
)
def test_requeue_follows_the_seed_table(phase, renewal_due, seconds):
    assert requeue_after(phase, renewal_due) == seconds


def test_cluster_status_summarises_components_certificates_and_requeue():
    components = {
        "indexer": _c("Running"),
        "dashboard": ComponentStatus(2, 1, "Creating", "1/2 ready, 2 updated"),
    }
    status = cluster_status(
        components,
        renewal_flags=[False, None],
        expiry_times=["2027-05-01T00:00:00Z", None, "2027-01-01T00:00:00Z"],
    )
    assert status["phase"] == "Creating"
    assert status["components"]["dashboard"] == {"replicas": 2, "readyReplicas": 1, "phase": "Creating"}
    assert status["certificates"] == {"renewalDue": False, "notAfter": "2027-01-01T00:00:00Z"}
    assert status["requeueAfterSeconds"] == 10
    [ready] = status["conditions"]
    assert (ready["type"], ready["status"]) == ("Ready", "False")
    assert "dashboard: 1/2 ready" in ready["message"]
    assert (status["ready"], status["reason"], status["message"]) == (
        "False",
        "Progressing",
        ready["message"],
    )


def test_a_running_cluster_is_ready_and_a_failed_one_says_which_component_failed():
    running = cluster_status({"indexer": _c("Running"), "manager": _c("Running")})
    assert (running["ready"], running["reason"], running["message"]) == (
        "True",
        "AllComponentsReady",
        "all components ready",
    )
    failed = cluster_status(
        {"indexer": _c("Running"), "dashboard": ComponentStatus(1, 0, "Failed", "progress deadline exceeded")}
    )
    assert (failed["ready"], failed["reason"]) == ("False", "ComponentFailed")
    assert failed["message"] == "dashboard: progress deadline exceeded"


def test_earliest_compares_times_not_strings():
    assert earliest(["2027-01-01T05:00:00+05:00", "2027-01-01T01:00:00Z"]) == "2027-01-01T05:00:00+05:00"
    assert earliest([None, "not a time"]) is None
