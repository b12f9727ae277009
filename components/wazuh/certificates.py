"""The cluster's PKI with pulumi-tls: a self-signed CA and the certificates it signs.

What is issued (as upstream's ``generate_certs.sh``, all RSA 2048 with PKCS#8 keys):

- the root CA (``CN=root-ca``), valid ``caValidityHours``;
- ``node``: the indexer nodes' certificate, with a SAN for every indexer pod's stable name
  ``<pod>.<headless service>.<namespace>.svc.<clusterDomain>`` (and ``<pod>.<headless service>``)
  plus every name of the indexer Services;
- ``admin``: the client certificate whose DN opensearch.yml lists as ``admin_dn``;
- ``filebeat``: the managers' client certificate for shipping alerts to the indexer;
- ``master`` and ``worker``: the managers' server certificates (agent enrollment and the API),
  one per StatefulSet, with the spec's ``extraSANs``, the names agents reach the managers by from
  outside. Apart, because the workers' names every worker pod: a new worker re-issues it and
  rolls the workers, never the master;
- ``dashboard``: the dashboard's HTTPS certificate, also with the ``extraSANs``.

Each is valid ``validityHours``. The CA key never leaves Pulumi state (a secret there); the other
keys reach the cluster only inside Kubernetes Secrets, as secret Outputs all the way.

How "check expiry, renew if needed" works without a controller
----------------------------------------------------------------
The seed's reconciler looks at each certificate's expiry on every pass and re-issues the ones that
are close to it. Here the tls provider does that check: every certificate is created with
``early_renewal_hours = renewBeforeHours``. Whenever the provider looks at a certificate (a
``refresh``, or the plan of any ``preview``/``up``) and finds the current time inside that window
before ``validity_end_time``, it sets ``ready_for_renewal`` and marks the certificate for
replacement; the next ``up`` issues a new one. The daemon runs ``up`` on its resync schedule, so a
certificate is renewed by the first run after it enters the window; nothing has to be scheduled
for the exact moment.

A new certificate has new PEM text, so the ``driftless.dev/cert-hash`` annotation of every pod
template that mounts it changes, and Kubernetes rolls exactly those pods onto the new files. A
renewed CA changes ``ca_cert_pem``, an input of every signed certificate, so all of them are
re-issued with it, and every pod rolls. Changing the indexer's replicas changes the node
certificate's SANs, which re-issues it too, so a new pod always finds its own name in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_tls as tls

from components.common.kubernetes import child
from components.wazuh.builders import ORGANIZATION, Names, service_names
from components.wazuh.spec import WazuhClusterSpec

KEY_ALGORITHM = "RSA"
RSA_BITS = 2048
CA_USES = ("cert_signing", "crl_signing", "digital_signature")
SERVER_USES = ("digital_signature", "key_encipherment", "server_auth")
CLIENT_USES = ("digital_signature", "key_encipherment", "client_auth")
PEER_USES = ("digital_signature", "key_encipherment", "server_auth", "client_auth")


@dataclass(frozen=True)
class CertificatePlan:
    """One certificate to sign: what it is called, who it names, and what it may be used for."""

    key: str  # the Secret key prefix: node, admin, filebeat, master, worker, dashboard
    common_name: str
    dns_names: tuple[str, ...]
    allowed_uses: tuple[str, ...]


def indexer_dns_names(spec: WazuhClusterSpec, names: Names) -> tuple[str, ...]:
    """Every pod's stable name (short and fully qualified), then every indexer Service name."""
    pods = names.indexer_pod_hosts(spec.indexer.replicas)
    result = [names.fqdn(pod) for pod in pods] + pods
    result += service_names(names, names.indexer) + service_names(names, names.indexer_api)
    return tuple(result)


def master_dns_names(spec: WazuhClusterSpec, names: Names) -> tuple[str, ...]:
    """The master pod's name, the master's Service (agent enrollment, the API, the dashboard's
    API calls), the manager cluster's headless Service, and the extra external names."""
    result = [names.fqdn(names.master_host), names.master_host]
    for service in (names.manager, names.manager_cluster):
        result += service_names(names, service)
    return (*result, *spec.extra_sans)


def worker_dns_names(spec: WazuhClusterSpec, names: Names) -> tuple[str, ...]:
    """Every worker pod's name, the workers' Service (agents), the manager cluster's headless
    Service, and the extra external names."""
    pods = [
        f"{names.manager_worker}-{i}.{names.manager_cluster}" for i in range(spec.manager.workers.replicas)
    ]
    result = [names.fqdn(pod) for pod in pods] + pods
    for service in (names.manager_workers, names.manager_cluster):
        result += service_names(names, service)
    return (*result, *spec.extra_sans)


def certificate_plans(spec: WazuhClusterSpec, names: Names) -> list[CertificatePlan]:
    """The certificates the cluster needs, in a fixed order."""
    plans = [
        CertificatePlan("node", "indexer", indexer_dns_names(spec, names), PEER_USES),
        CertificatePlan("admin", "admin", (), CLIENT_USES),
        CertificatePlan("filebeat", "filebeat", (), CLIENT_USES),
        CertificatePlan("master", "manager-master", master_dns_names(spec, names), SERVER_USES),
        CertificatePlan("worker", "manager-worker", worker_dns_names(spec, names), SERVER_USES),
    ]
    if spec.dashboard.enabled:
        plans.append(
            CertificatePlan(
                "dashboard",
                "dashboard",
                (*service_names(names, names.dashboard), *spec.extra_sans),
                PEER_USES,
            )
        )
    return plans


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its key as Outputs; ``key_pem`` is always a secret."""

    cert_pem: pulumi.Output[str]
    key_pem: pulumi.Output[str]
    ready_for_renewal: pulumi.Output[bool]
    validity_end_time: pulumi.Output[str]


@dataclass(frozen=True)
class IssuedCertificates:
    """The CA certificate (its key stays in state) and every signed certificate by plan key."""

    ca_cert_pem: pulumi.Output[str]
    ca_ready_for_renewal: pulumi.Output[bool]
    ca_validity_end_time: pulumi.Output[str]
    signed: Mapping[str, IssuedCertificate]

    def __getitem__(self, key: str) -> IssuedCertificate:
        return self.signed[key]

    def renewal_flags(self) -> list[pulumi.Output[bool]]:
        return [self.ca_ready_for_renewal, *(c.ready_for_renewal for c in self.signed.values())]

    def expiry_times(self) -> list[pulumi.Output[str]]:
        return [self.ca_validity_end_time, *(c.validity_end_time for c in self.signed.values())]


def issue_certificates(parent: pulumi.Resource, spec: WazuhClusterSpec, names: Names) -> IssuedCertificates:
    """Register the CA and every planned certificate as children of ``parent``."""
    lifetimes = spec.certificates
    prefix = names.name
    ca_key = tls.PrivateKey(
        f"{prefix}-ca-key", algorithm=KEY_ALGORITHM, rsa_bits=RSA_BITS, opts=child(parent)
    )
    ca = tls.SelfSignedCert(
        f"{prefix}-ca",
        private_key_pem=ca_key.private_key_pem,
        subject=tls.SelfSignedCertSubjectArgs(
            common_name="root-ca", organization=ORGANIZATION, organizational_unit=names.name
        ),
        is_ca_certificate=True,
        set_subject_key_id=True,
        allowed_uses=list(CA_USES),
        validity_period_hours=lifetimes.ca_validity_hours,
        early_renewal_hours=lifetimes.renew_before_hours,
        opts=child(parent),
    )
    signed: dict[str, IssuedCertificate] = {}
    for plan in certificate_plans(spec, names):
        key = tls.PrivateKey(
            f"{prefix}-{plan.key}-key", algorithm=KEY_ALGORITHM, rsa_bits=RSA_BITS, opts=child(parent)
        )
        request = tls.CertRequest(
            f"{prefix}-{plan.key}-csr",
            private_key_pem=key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(
                common_name=plan.common_name, organization=ORGANIZATION, organizational_unit=names.name
            ),
            dns_names=list(plan.dns_names) or None,
            opts=child(parent),
        )
        cert = tls.LocallySignedCert(
            f"{prefix}-{plan.key}-cert",
            cert_request_pem=request.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            allowed_uses=list(plan.allowed_uses),
            validity_period_hours=lifetimes.validity_hours,
            early_renewal_hours=lifetimes.renew_before_hours,
            opts=child(parent),
        )
        signed[plan.key] = IssuedCertificate(
            cert_pem=cert.cert_pem,
            # OpenSearch reads PKCS#8 only; the provider marks it secret, and so do we, so the
            # key stays secret even where the engine's additional-secret list is not applied.
            key_pem=pulumi.Output.secret(key.private_key_pem_pkcs8),
            ready_for_renewal=cert.ready_for_renewal,
            validity_end_time=cert.validity_end_time,
        )
    return IssuedCertificates(
        ca_cert_pem=ca.cert_pem,
        ca_ready_for_renewal=ca.ready_for_renewal,
        ca_validity_end_time=ca.validity_end_time,
        signed=signed,
    )
