"""An environment's readiness from its live Deployment and Certificate, as their controllers write them."""

from __future__ import annotations

from typing import Any

from components.kapsa.readiness import (
    Readiness,
    certificate_readiness,
    deployment_readiness,
    environment_readiness,
)

AVAILABLE = {
    "type": "Available",
    "status": "True",
    "reason": "MinimumReplicasAvailable",
    "message": "Deployment has minimum availability.",
}
UNAVAILABLE = {
    "type": "Available",
    "status": "False",
    "reason": "MinimumReplicasUnavailable",
    "message": "Deployment does not have minimum availability.",
}
PROGRESSING = {
    "type": "Progressing",
    "status": "True",
    "reason": "ReplicaSetUpdated",
    "message": 'ReplicaSet "dev-7c9f" is progressing.',
}


def deployment(generation: int = 2, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "dev", "namespace": "api", "generation": generation}, "status": status}


def rolled_out(replicas: int = 3) -> dict[str, Any]:
    return deployment(
        observedGeneration=2,
        replicas=replicas,
        updatedReplicas=replicas,
        readyReplicas=replicas,
        availableReplicas=replicas,
        conditions=[AVAILABLE, {**PROGRESSING, "reason": "NewReplicaSetAvailable"}],
    )


def certificate(generation: int = 1, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "dev-tls", "namespace": "api", "generation": generation}, "status": status}


def ready_condition(status: str, message: str, generation: int = 1) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": "Ready" if status == "True" else "DoesNotExist",
        "message": message,
        "observedGeneration": generation,
    }


# --- Deployment --------------------------------------------------------------------------------


def test_a_rolled_out_deployment_with_every_replica_available_is_ready():
    verdict = deployment_readiness(rolled_out(), 3)
    assert verdict == Readiness("True", "DeploymentAvailable", "Deployment available (3/3 replicas ready)")


def test_the_providers_snake_case_outputs_read_like_the_api():
    typed = {
        "metadata": {"name": "dev", "generation": 2.0},  # protobuf numbers arrive as floats
        "status": {
            "observed_generation": 2.0,
            "replicas": 1.0,
            "updated_replicas": 1.0,
            "ready_replicas": 1.0,
            "available_replicas": 1.0,
            "conditions": [AVAILABLE],
        },
    }
    assert deployment_readiness(typed, 1).is_ready


def test_a_deployment_without_minimum_availability_is_unavailable_with_the_controllers_message():
    live = deployment(
        observedGeneration=2, replicas=3, updatedReplicas=3, unavailableReplicas=3, conditions=[UNAVAILABLE]
    )
    verdict = deployment_readiness(live, 3)
    assert (verdict.ready, verdict.reason) == ("False", "DeploymentUnavailable")
    assert verdict.message == (
        "Deployment unavailable: Deployment does not have minimum availability (0/3 replicas ready)"
    )


def test_a_rollout_still_replacing_old_pods_is_not_ready_though_available():
    live = deployment(
        observedGeneration=2,
        replicas=4,
        updatedReplicas=1,
        readyReplicas=3,
        availableReplicas=3,
        conditions=[AVAILABLE, PROGRESSING],
    )
    verdict = deployment_readiness(live, 3)
    assert (verdict.ready, verdict.reason) == ("False", "DeploymentRollingOut")
    assert verdict.message == (
        "Deployment rolling out: 1/3 replicas updated, 3/3 available, 3 old replica(s) left"
    )


def test_a_deployment_past_its_progress_deadline_is_stalled():
    deadline = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "dev-7c9f" has timed out progressing.',
    }
    live = deployment(observedGeneration=2, replicas=1, updatedReplicas=1, conditions=[UNAVAILABLE, deadline])
    verdict = deployment_readiness(live, 1)
    assert (verdict.ready, verdict.reason) == ("False", "DeploymentStalled")
    assert 'ReplicaSet "dev-7c9f" has timed out progressing' in verdict.message


def test_a_replica_failure_stalls_the_deployment():
    failure = {
        "type": "ReplicaFailure",
        "status": "True",
        "reason": "FailedCreate",
        "message": 'pods "dev-7c9f-" is forbidden: exceeded quota: compute',
    }
    live = deployment(observedGeneration=2, conditions=[UNAVAILABLE, failure])
    verdict = deployment_readiness(live, 2)
    assert (verdict.ready, verdict.reason) == ("False", "DeploymentStalled")
    assert "exceeded quota" in verdict.message


def test_a_status_about_an_older_generation_or_none_at_all_is_unknown():
    stale = rolled_out()
    stale["status"]["observedGeneration"] = 1  # the new spec (a new image) is not seen yet
    for live in (stale, deployment(), None):
        verdict = deployment_readiness(live, 3)
        assert (verdict.ready, verdict.reason) == ("Unknown", "DeploymentNotObserved")


def test_a_deployment_scaled_to_zero_is_ready_with_no_pods():
    live = deployment(observedGeneration=2, conditions=[AVAILABLE])  # zero counts are omitted
    assert deployment_readiness(live, 0).is_ready


# --- Certificate -------------------------------------------------------------------------------


def test_an_issued_certificate_is_ready_and_says_until_when():
    live = certificate(
        conditions=[ready_condition("True", "Certificate is up to date and has not expired")],
        notAfter="2027-02-19T12:00:00Z",
    )
    verdict = certificate_readiness(live, "dev-tls")
    assert verdict == Readiness(
        "True", "CertificateReady", "Certificate 'dev-tls' issued, valid until 2027-02-19T12:00:00Z"
    )


def test_a_certificate_cert_manager_cannot_issue_is_not_ready_with_its_message():
    failed = ready_condition("False", "The certificate request has failed to complete and will be retried")
    verdict = certificate_readiness(certificate(conditions=[failed]), "dev-tls")
    assert (verdict.ready, verdict.reason) == ("False", "CertificateNotReady")
    assert verdict.message == (
        "Certificate 'dev-tls' not ready: The certificate request has failed to complete and will be retried"
    )


def test_a_certificate_without_status_is_not_issued_and_unknown():
    for live in (certificate(), None):
        verdict = certificate_readiness(live, "dev-tls")
        assert (verdict.ready, verdict.reason) == ("Unknown", "CertificateNotIssued")
        assert verdict.message == "Certificate 'dev-tls' not issued yet, no status from cert-manager"


def test_a_certificate_being_issued_says_so():
    issuing = {
        "type": "Issuing",
        "status": "True",
        "reason": "DoesNotExist",
        "message": "Issuing certificate",
    }
    verdict = certificate_readiness(certificate(conditions=[issuing]), "dev-tls")
    assert (verdict.ready, verdict.reason) == ("Unknown", "CertificateNotIssued")
    assert verdict.message.endswith(": Issuing certificate")


def test_a_ready_condition_about_an_older_spec_is_not_ready_yet():
    # A new host changed dnsNames: cert-manager still reports on the previous generation.
    live = certificate(generation=2, conditions=[ready_condition("True", "up to date", generation=1)])
    verdict = certificate_readiness(live, "dev-tls")
    assert (verdict.ready, verdict.reason) == ("Unknown", "CertificateNotReady")
    assert "generation 1 of 2" in verdict.message


# --- both --------------------------------------------------------------------------------------


def test_an_environment_is_ready_only_when_both_are_and_names_every_problem():
    available = Readiness("True", "DeploymentAvailable", "Deployment available (1/1 replicas ready)")
    issued = Readiness("True", "CertificateReady", "Certificate 'dev-tls' issued")
    unavailable = Readiness(
        "False", "DeploymentUnavailable", "Deployment unavailable: x (0/1 replicas ready)"
    )
    unissued = Readiness("Unknown", "CertificateNotIssued", "Certificate 'dev-tls' not issued yet")

    assert environment_readiness(available, issued) == Readiness(
        "True", "EnvironmentReady", "Deployment available (1/1 replicas ready); Certificate 'dev-tls' issued"
    )
    assert environment_readiness(available, unissued) == Readiness(
        "Unknown", "CertificateNotIssued", "Certificate 'dev-tls' not issued yet"
    )
    both = environment_readiness(unavailable, unissued)
    assert (both.ready, both.reason) == ("False", "DeploymentUnavailable")  # a known failure outranks
    assert both.message == (
        "Deployment unavailable: x (0/1 replicas ready); Certificate 'dev-tls' not issued yet"
    )
