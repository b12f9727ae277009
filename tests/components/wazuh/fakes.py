"""Realistic provider outputs for WazuhCluster renders, per resource type.

The output property names are the providers' own (pulumi_tls 5.6, pulumi_random 4.21,
pulumi_kubernetes 4.34). PEM bodies are fake but shaped like the real thing, and each one embeds
the resource name and a serial, so a test can re-issue one certificate and nothing else; a
certificate also embeds its request, which embeds its DNS names, so changing a certificate's names
issues a new one, as the tls provider does.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

Outputs = Callable[[MockResourceArgs], dict[str, Any]]

VALID_FROM = "2026-11-21T12:00:00Z"
VALID_UNTIL = "2027-11-21T12:00:00Z"
CA_VALID_UNTIL = "2036-11-19T12:00:00Z"


def _body(*parts: object) -> str:
    digest = hashlib.sha512(":".join(map(str, parts)).encode()).digest()
    text = base64.b64encode(digest * 3).decode()
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


def pem(label: str, *parts: object) -> str:
    return f"-----BEGIN {label}-----\n{_body(label, *parts)}\n-----END {label}-----\n"


def password_for(name: str) -> str:
    return f"Gen3rated.{name}-pw"


def tls_outputs(
    serials: Mapping[str, int] | None = None,
    renewal_due: frozenset[str] = frozenset(),
    not_after: Mapping[str, str] | None = None,
) -> dict[str, Outputs]:
    """TLS outputs; ``serials[name]`` re-issues one certificate, ``renewal_due`` flags some."""
    serials = dict(serials or {})
    not_after = dict(not_after or {})

    def private_key(args: MockResourceArgs) -> dict[str, Any]:
        return {
            "privateKeyPem": pem("RSA PRIVATE KEY", args.name),
            "privateKeyPemPkcs8": pem("PRIVATE KEY", args.name),
            "privateKeyOpenssh": pem("OPENSSH PRIVATE KEY", args.name),
            "publicKeyPem": pem("PUBLIC KEY", args.name),
            "publicKeyOpenssh": f"ssh-rsa {_body(args.name)[:40]}\n",
            "publicKeyFingerprintMd5": "9d:7a:0e:3b:55:c1:0c:2a:41:60:d4:fa:8b:2c:1e:77",
            "publicKeyFingerprintSha256": "SHA256:Jx4tMB1y7m3nT1rNvu0W+9wQf5kq3o8r1l0gk0a1bcd",
        }

    def cert_request(args: MockResourceArgs) -> dict[str, Any]:
        # A request names its subject alternative names: new names, a new request.
        names = ",".join(args.inputs.get("dnsNames") or [])
        return {"certRequestPem": pem("CERTIFICATE REQUEST", args.name, names), "keyAlgorithm": "RSA"}

    def certificate(args: MockResourceArgs, until: str) -> dict[str, Any]:
        # A new request is signed into a new certificate, as the provider replaces it.
        request = args.inputs.get("certRequestPem", "")
        return {
            "certPem": pem("CERTIFICATE", args.name, serials.get(args.name, 1), request),
            "readyForRenewal": args.name in renewal_due,
            "validityStartTime": VALID_FROM,
            "validityEndTime": not_after.get(args.name, until),
        }

    return {
        "tls:index/privateKey:PrivateKey": private_key,
        "tls:index/certRequest:CertRequest": cert_request,
        "tls:index/selfSignedCert:SelfSignedCert": lambda a: {
            **certificate(a, CA_VALID_UNTIL),
            "keyAlgorithm": "RSA",
        },
        "tls:index/locallySignedCert:LocallySignedCert": lambda a: {
            **certificate(a, VALID_UNTIL),
            "caKeyAlgorithm": "RSA",
        },
    }


def random_outputs() -> dict[str, Outputs]:
    def password(args: MockResourceArgs) -> dict[str, Any]:
        return {
            "result": password_for(args.name),
            "bcryptHash": "$2a$10$" + hashlib.sha256(args.name.encode()).hexdigest()[:53],
        }

    def random_bytes(args: MockResourceArgs) -> dict[str, Any]:
        raw = hashlib.sha256(args.name.encode()).digest()[: int(args.inputs.get("length", 16))]
        return {"base64": base64.b64encode(raw).decode(), "hex": raw.hex()}

    return {
        "random:index/randomPassword:RandomPassword": password,
        "random:index/randomBytes:RandomBytes": random_bytes,
    }


# --- live workload status, as the API server reports it -------------------------------------------


def statefulset_ready(replicas: int, revision: str = "rev-5d8f7c9b6") -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "replicas": replicas,
        "readyReplicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    }


def statefulset_starting(replicas: int, ready: int) -> dict[str, Any]:
    status = {
        "observedGeneration": 1,
        "replicas": replicas,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": ready,
        "currentRevision": "rev-5d8f7c9b6",
        "updateRevision": "rev-5d8f7c9b6",
        "collisionCount": 0,
    }
    if ready:  # the API server omits zero counts
        status["readyReplicas"] = ready
    return status


def deployment_ready(replicas: int) -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
                "lastTransitionTime": "2026-11-21T12:03:00Z",
                "lastUpdateTime": "2026-11-21T12:03:00Z",
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": 'ReplicaSet "siem-dashboard-7c9f8d6b5" has successfully progressed.',
                "lastTransitionTime": "2026-11-21T12:01:00Z",
                "lastUpdateTime": "2026-11-21T12:03:00Z",
            },
        ],
    }


def deployment_stuck(replicas: int) -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "unavailableReplicas": replicas,
        "conditions": [
            {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": "Deployment does not have minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "siem-dashboard-6b8d9f7c4" has timed out progressing.',
            },
        ],
    }


def job_complete() -> dict[str, Any]:
    return {
        "startTime": "2026-11-21T12:00:06Z",
        "completionTime": "2026-11-21T12:04:10Z",
        "succeeded": 1,
        "failed": 2,
        "ready": 0,
        "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"},
        ],
    }


def job_retrying(failed: int) -> dict[str, Any]:
    return {"startTime": "2026-11-21T12:00:06Z", "active": 1, "failed": failed, "ready": 0, "terminating": 0}


def job_refused() -> dict[str, Any]:
    message = (
        "Pod security/siem-indexer-users-0d3b5c7a9e-x7k2p has condition DisruptionTarget matching "
        "FailJob rule at index 0"
    )
    return {
        "startTime": "2026-11-21T12:00:06Z",
        "failed": 1,
        "ready": 0,
        "terminating": 0,
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "PodFailurePolicy", "message": message},
            {"type": "Failed", "status": "True", "reason": "PodFailurePolicy", "message": message},
        ],
    }


# What the API server answers when a workload is created (and so what the written resource's own
# outputs keep in the state until the provider changes it again): no pod counted yet.
JUST_CREATED: dict[str, dict[str, Any]] = {
    "kubernetes:apps/v1:StatefulSet": {"replicas": 0, "availableReplicas": 0},
    "kubernetes:apps/v1:Deployment": {},
    "kubernetes:batch/v1:Job": {},
}


def workload_outputs(statuses: Mapping[str, Mapping[str, Any]]) -> dict[str, Outputs]:
    """Live ``status`` per workload name, reported by this run's read of it (``<name>-live``).

    The written workload reports what it did when created, as the state keeps it; a workload not
    listed has no live status yet (not observed).
    """

    def outputs(args: MockResourceArgs) -> dict[str, Any]:
        if not args.resource_id:  # the write: its outputs are the creation-time answer
            return {"status": dict(JUST_CREATED[args.typ])}
        name = args.name.removesuffix("-live")
        status = statuses.get(name)
        generation = int((status or {}).get("observedGeneration", 1))
        group, kind = args.typ.split(":")[1:]
        live: dict[str, Any] = {
            "apiVersion": group,
            "kind": kind,
            "metadata": {
                "name": name,
                "namespace": "security",
                "generation": generation,
                "uid": hashlib.sha256(name.encode()).hexdigest()[:32],
                "resourceVersion": "48213",
                "creationTimestamp": "2026-11-21T12:00:05Z",
            },
        }
        if status is not None:
            live["status"] = dict(status)
        return live

    return {
        "kubernetes:apps/v1:StatefulSet": outputs,
        "kubernetes:apps/v1:Deployment": outputs,
        "kubernetes:batch/v1:Job": outputs,
    }


def all_outputs(statuses: Mapping[str, Mapping[str, Any]] | None = None, **tls: Any) -> dict[str, Outputs]:
    return {**tls_outputs(**tls), **random_outputs(), **workload_outputs(statuses or {})}
