"""The ``driftless:kapsa:DomainPool`` component: a base domain and the issuer of its certificates.

A DomainPool owns no Kubernetes object: Projects allocate ``<env>.<project>.<baseDomain>`` from it
and their Certificates name its ClusterIssuer. What it does is check that the issuer exists,
by reading the live cert-manager ``ClusterIssuer`` (``up`` fails, naming it, when it does not), and
report the issuer's ``Ready`` condition as its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from components.common.health import TRUE, from_condition
from components.common.kubernetes import child
from components.common.live import read_live
from components.kapsa.names import child_name
from components.kapsa.spec import DomainPoolSpec

TYPE_TOKEN = "driftless:kapsa:DomainPool"
ISSUER_API_VERSION = "cert-manager.io/v1"
ISSUER_KIND = "ClusterIssuer"
# An issuer that is not ready yet (ACME account registering) is worth another look soon.
NOT_READY_REQUEUE_SECONDS = 60


@dataclass(frozen=True)
class DomainPoolArgs:
    spec: DomainPoolSpec


def domain_pool_status(spec: DomainPoolSpec, issuer_status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The DomainPool's status from its ClusterIssuer's live ``status`` (pure)."""
    conditions = (issuer_status or {}).get("conditions") or []
    ready = next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None)
    if ready is None:
        condition = {
            "type": "Ready",
            "status": "Unknown",
            "reason": "IssuerNotReporting",
            "message": f"ClusterIssuer {spec.cluster_issuer!r} exists but reports no Ready condition yet",
        }
    else:
        is_ready = str(ready.get("status")) == "True"
        detail = str(ready.get("message") or ready.get("reason") or "")
        condition = {
            "type": "Ready",
            "status": "True" if is_ready else "False",
            "reason": "IssuerReady" if is_ready else "IssuerNotReady",
            "message": f"ClusterIssuer {spec.cluster_issuer!r}: {detail}".rstrip(": "),
        }
    status: dict[str, Any] = {
        **from_condition(condition),
        "baseDomain": spec.base_domain,
        "clusterIssuer": spec.cluster_issuer,
        "conditions": [condition],
    }
    if status["ready"] != TRUE:
        status["requeueAfterSeconds"] = NOT_READY_REQUEUE_SECONDS
    return status


class DomainPool(pulumi.ComponentResource):
    """A DomainPool (see the module docstring)."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: DomainPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        issuer = read_live(
            child_name(name, "cluster-issuer"),
            api_version=ISSUER_API_VERSION,
            kind=ISSUER_KIND,
            id=args.spec.cluster_issuer,
            opts=child(self),
        )
        self.status = issuer.apply(lambda live: domain_pool_status(args.spec, live["status"]))
        self.register_outputs({"status": self.status})
