"""The WazuhCluster ComponentResource: the seed's reconcile pass as one Pulumi component.

The seed's controller ran, on every pass: certificates (with hashes for pod annotations), the
indexer, the manager master, the manager workers, the dashboard, the log-rotation CronJob, then
status. Here the same steps register resources in that order and Pulumi's diff does the "create
or update if changed"; the daemon's periodic ``up`` is the requeue. Status comes from a read of
every workload on every run (``<workload>-live``), as WandB and Kapsa do: the written resource's
own outputs are only what the provider saw when it last changed it. The Job that loads rotated
indexer users is read back the same way. Everything that decides what
an object looks like lives in :mod:`components.wazuh.builders`; this module only wires builder
output to resources and Outputs to builder inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kubernetes import child
from components.common.live import read_live
from components.common.objects import await_annotations
from components.wazuh import builders, status
from components.wazuh.builders import Names
from components.wazuh.builders.indexer_users import PATCH_KEY as USERS_PATCH_KEY
from components.wazuh.certificates import IssuedCertificates, issue_certificates
from components.wazuh.credentials import Credential, CredentialHasher, ResolveReference, credentials
from components.wazuh.spec import WazuhClusterSpec

TYPE_TOKEN = "driftless:wazuh:WazuhCluster"

_RESOURCE_CLASSES: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
}
_KIND_OF = {cls: kind for kind, cls in _RESOURCE_CLASSES.items()}
# Top-level fields whose Python argument name differs from the manifest's.
_ARGUMENT_NAMES = {"stringData": "string_data", "roleRef": "role_ref"}

# The credentials each workload's pods read at start (CredentialsSpec fields): a change to one rolls
# exactly these pods. The indexer is not listed: restarting it would not reload its users, the
# users Job (INDEXER_USERS) does.
CREDENTIAL_CONSUMERS: Mapping[str, tuple[str, ...]] = {
    "manager-master": ("indexer_admin", "api_user", "cluster_key", "authd_password"),
    "manager-worker": ("indexer_admin", "cluster_key"),
    "dashboard": ("indexer_admin", "dashboard_user", "api_user"),
}
# The indexer's own users: a change to one of them names a new Job that loads them.
INDEXER_USERS = ("indexer_admin", "dashboard_user")


@dataclass(frozen=True)
class WazuhClusterArgs:
    """Typed inputs of a WazuhCluster: its validated spec and where it goes."""

    spec: WazuhClusterSpec
    namespace: str
    # Turns a vault:// reference into a secret Output; needed only when spec.credentials has one.
    resolve_reference: ResolveReference | None = None


class WazuhCluster(pulumi.ComponentResource):
    """A Wazuh indexer cluster, manager cluster and dashboard with their PKI and credentials."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: WazuhClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        spec = args.spec
        names = Names(name, args.namespace, spec.cluster_domain)
        self._names = names
        awaiting = await_annotations(spec.wait_for_ready)

        # Everything namespaced waits for the namespace when this component creates it.
        self._after: list[pulumi.Resource] = []
        # Deleting a namespace deletes everything in it, so it is kept exactly when the data is.
        self._retain = spec.deletion_policy == "Retain"
        if spec.create_namespace:
            self._after.append(
                self._register(builders.namespace(names), f"{name}-namespace", retain=self._retain)
            )

        # 1. certificates and credentials
        certs = issue_certificates(self, spec, names)
        creds = credentials(name, spec.credentials, args.resolve_reference, self)
        hash_credentials = CredentialHasher(name, creds, self)
        config = self._register_configuration(spec, names, certs, creds)

        # 2. Services, then the workloads, each after the Secrets and ConfigMaps its pods mount
        for service in builders.services(spec, names):
            self._register(service, service["metadata"]["name"])
        indexer = self._register(
            builders.indexer_statefulset(spec, names, _cert_hash(certs, "node", "admin"), awaiting),
            names.indexer,
            depends_on=config,
        )
        master = self._register(
            builders.manager_master_statefulset(
                spec,
                names,
                _cert_hash(certs, "filebeat", "master"),
                awaiting,
                hash_credentials(CREDENTIAL_CONSUMERS["manager-master"]),
            ),
            names.manager_master,
            depends_on=config,
        )
        workers = self._register(
            builders.manager_worker_statefulset(
                spec,
                names,
                _cert_hash(certs, "filebeat", "worker"),
                awaiting,
                hash_credentials(CREDENTIAL_CONSUMERS["manager-worker"]),
            ),
            names.manager_worker,
            depends_on=config,
        )
        observed = {
            "indexer": _observe(self._read_back(indexer, names.indexer), spec.indexer.replicas),
            "managerMaster": _observe(self._read_back(master, names.manager_master), 1),
            "managerWorkers": _observe(
                self._read_back(workers, names.manager_worker), spec.manager.workers.replicas
            ),
        }
        if spec.dashboard.enabled:
            dashboard = self._register(
                builders.dashboard_deployment(
                    spec,
                    names,
                    _cert_hash(certs, "dashboard"),
                    awaiting,
                    hash_credentials(CREDENTIAL_CONSUMERS["dashboard"]),
                ),
                names.dashboard,
                depends_on=config,
            )
            observed["dashboard"] = _observe(
                self._read_back(dashboard, names.dashboard), spec.dashboard.replicas
            )

        # 3. the indexer users, loaded once per password change
        users_job_name = hash_credentials(INDEXER_USERS).apply(names.indexer_users_job)
        users_job = self._register(
            builders.indexer_users_job(spec, names, users_job_name, awaiting),
            names.indexer_users,
            depends_on=[*config, indexer],
        )
        live_job = self._read_back(users_job, names.indexer_users)
        users = pulumi.Output.all(users_job_name, live_job).apply(
            lambda v: status.infer_users_job(v[0], v[1]["status"])
        )

        # 4. log rotation
        if spec.log_rotation.enabled:
            for obj in builders.log_rotation_objects(spec, names):
                self._register(obj, obj["metadata"]["name"])

        # 5. status
        self.status = pulumi.Output.all(
            components=pulumi.Output.all(**observed),
            renewal=pulumi.Output.all(*certs.renewal_flags()),
            expiry=pulumi.Output.all(*certs.expiry_times()),
            users=users,
        ).apply(lambda v: status.cluster_status(v["components"], v["renewal"], v["expiry"], v["users"]))
        self.register_outputs({"status": self.status})

    def _register_configuration(
        self,
        spec: WazuhClusterSpec,
        names: Names,
        certs: IssuedCertificates,
        creds: Mapping[str, Credential],
    ) -> list[pulumi.Resource]:
        """The Secrets and ConfigMaps the pods mount or read."""
        # The credentials the retained volumes were written with: kept with them (deletionPolicy).
        credentials_secrets = [
            builders.credential_secret(
                names, names.indexer_cred, builders.INDEXER_ADMIN_USER, creds["indexer_admin"].value
            ),
            builders.credential_secret(
                names, names.dashboard_cred, builders.DASHBOARD_USER, creds["dashboard_user"].value
            ),
            builders.credential_secret(names, names.api_cred, builders.API_USER, creds["api_user"].value),
            builders.secret(names, names.cluster_key, "wazuh-manager", {"key": creds["cluster_key"].value}),
            builders.secret(
                names, names.authd_pass, "wazuh-manager", {"authd.pass": creds["authd_password"].value}
            ),
        ]
        objects = [
            builders.secret(names, names.indexer_certs, "wazuh-indexer", _pem_files(certs, "node", "admin")),
            builders.secret(
                names, names.manager_certs, "wazuh-manager", _pem_files(certs, "filebeat", "master", "worker")
            ),
            builders.secret(
                names,
                names.indexer_security,
                "wazuh-indexer",
                {
                    "internal_users.yml": _internal_users(creds),
                    USERS_PATCH_KEY: _users_patch(creds),
                },
            ),
            builders.config_map(
                names, names.indexer_conf, "wazuh-indexer", builders.indexer_config_data(spec, names)
            ),
            builders.config_map(
                names, names.manager_conf, "wazuh-manager", builders.manager_config_data(spec, names)
            ),
        ]
        if spec.dashboard.enabled:
            objects.append(
                builders.secret(
                    names,
                    names.dashboard_certs,
                    "wazuh-dashboard",
                    {
                        # the dashboard image's file names, not the plan key's
                        "root-ca.pem": certs.ca_cert_pem,
                        "cert.pem": certs["dashboard"].cert_pem,
                        "key.pem": certs["dashboard"].key_pem,
                    },
                )
            )
            objects.append(
                builders.config_map(
                    names, names.dashboard_conf, "wazuh-dashboard", builders.dashboard_config_data(names)
                )
            )
        retained = [
            self._register(obj, obj["metadata"]["name"], retain=self._retain) for obj in credentials_secrets
        ]
        return [*retained, *(self._register(obj, obj["metadata"]["name"]) for obj in objects)]

    def _register(
        self,
        obj: Mapping[str, Any],
        resource_name: str,
        depends_on: Sequence[pulumi.Resource] = (),
        retain: bool = False,
    ) -> pulumi.CustomResource:
        """Register a builder's object as the matching typed pulumi-kubernetes resource; ``retain``
        leaves it in the cluster when it leaves the stack."""
        cls = _RESOURCE_CLASSES[(obj["apiVersion"], obj["kind"])]
        arguments = {_ARGUMENT_NAMES.get(k, k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        after = [*self._after, *depends_on] if obj["kind"] != "Namespace" else []
        opts = child(self, depends_on=after or None, retain_on_delete=retain or None)
        return cls(resource_name, **arguments, opts=opts)

    def _read_back(self, written: pulumi.CustomResource, resource_name: str) -> pulumi.Output[dict[str, Any]]:
        """The live object behind a written workload, read from the cluster on every run
        (:func:`components.common.live.read_live`), by the written resource's id."""
        api_version, kind = _KIND_OF[type(written)]
        return read_live(
            f"{resource_name}-live", api_version=api_version, kind=kind, id=written.id, opts=child(self)
        )


def _pem_files(certs: IssuedCertificates, *keys: str) -> dict[str, pulumi.Output[str]]:
    """A certs Secret's data: the CA, then each certificate and key as ``<key>.pem``, ``<key>-key.pem``."""
    files = {"root-ca.pem": certs.ca_cert_pem}
    for key in keys:
        files[f"{key}.pem"] = certs[key].cert_pem
        files[f"{key}-key.pem"] = certs[key].key_pem
    return files


def _cert_hash(certs: IssuedCertificates, *keys: str) -> pulumi.Output[str]:
    """The cert-hash annotation value of a pod that mounts the CA and the certificates ``keys``."""
    pems = [certs.ca_cert_pem, *(certs[key].cert_pem for key in keys)]
    return pulumi.Output.all(*pems).apply(builders.cert_hash)


def _internal_users(creds: Mapping[str, Credential]) -> pulumi.Output[str]:
    admin, dashboard = creds["indexer_admin"].bcrypt_hash, creds["dashboard_user"].bcrypt_hash
    # both indexer users' policies are hashed
    assert admin is not None
    assert dashboard is not None
    return pulumi.Output.secret(
        pulumi.Output.all(admin, dashboard).apply(lambda h: builders.internal_users_yml(h[0], h[1]))
    )


def _users_patch(creds: Mapping[str, Credential]) -> pulumi.Output[str]:
    admin, dashboard = creds["indexer_admin"].bcrypt_hash, creds["dashboard_user"].bcrypt_hash
    assert admin is not None
    assert dashboard is not None
    return pulumi.Output.secret(
        pulumi.Output.all(admin, dashboard).apply(lambda h: builders.internal_users_patch(h[0], h[1]))
    )


def _observe(live: pulumi.Output[dict[str, Any]], desired: int) -> pulumi.Output[status.ComponentStatus]:
    """A workload's live object (its read) inferred into a ComponentStatus."""
    return live.apply(
        lambda found: status.infer_component(desired, found["status"], _generation(found["metadata"]))
    )


def _generation(metadata: Mapping[str, Any]) -> int | None:
    value = metadata.get("generation")
    return int(value) if isinstance(value, int | float) else None
