"""Pure builders: a WazuhCluster spec in, plain Kubernetes objects (camelCase dicts) out.

Nothing here imports Pulumi. Values that only exist at deploy time (certificate PEMs, passwords,
certificate hashes) are parameters: tests pass strings, the component passes Pulumi Outputs, and
the builders only place them. The layout follows wazuh/wazuh-kubernetes v4.14.6 (see
``../shared/DOMAINS.md``), with every object name prefixed by the document name so two clusters
can share a namespace, and with one Secret per consumer so each pod mounts only its own keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from components.common.kubernetes import labels as standard_labels
from components.common.kubernetes import object_meta
from components.common.spec import ResourceRequirements
from components.wazuh.spec import WazuhClusterSpec

# A str in tests, a pulumi Output[str] when the component calls a builder.
Deferred = Any

PART_OF = "wazuh"
CLUSTER_DOMAIN = "cluster.local"
CERT_HASH_ANNOTATION = "driftless.dev/cert-hash"
CONFIG_HASH_ANNOTATION = "driftless.dev/config-hash"
NODE_TYPE_LABEL = "app.kubernetes.io/component"
INIT_IMAGE = "busybox:1.37"

# Upstream ports (wazuh-kubernetes): indexer REST and transport, manager agents, registration,
# cluster and API, dashboard.
INDEXER_REST_PORT = 9200
INDEXER_TRANSPORT_PORT = 9300
AGENTS_PORT = 1514
REGISTRATION_PORT = 1515
CLUSTER_PORT = 1516
API_PORT = 55000
DASHBOARD_PORT = 5601
DASHBOARD_SERVICE_PORT = 443

# Users whose passwords the cluster needs; their names are upstream's.
INDEXER_ADMIN_USER = "admin"
DASHBOARD_USER = "kibanaserver"
API_USER = "wazuh-wui"

# Upstream's default resources, used when the spec gives none.
_DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "indexer": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1564Mi"}},
    "manager": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "400m", "memory": "512Mi"}},
    "dashboard": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
}


@dataclass(frozen=True)
class Names:
    """Every Kubernetes name of one WazuhCluster, derived from its document name and namespace."""

    name: str
    namespace: str

    # Workloads; the indexer's headless Service shares its StatefulSet's name, as upstream.
    @property
    def indexer(self) -> str:
        return f"{self.name}-indexer"

    @property
    def indexer_api(self) -> str:
        return f"{self.name}-indexer-api"

    @property
    def manager_master(self) -> str:
        return f"{self.name}-manager-master"

    @property
    def manager_worker(self) -> str:
        return f"{self.name}-manager-worker"

    @property
    def manager_cluster(self) -> str:
        """Headless Service of both manager StatefulSets (upstream ``wazuh-cluster``)."""
        return f"{self.name}-manager-cluster"

    @property
    def manager(self) -> str:
        """The master's client Service: API and agent registration (upstream ``wazuh``)."""
        return f"{self.name}-manager"

    @property
    def manager_workers(self) -> str:
        """The workers' client Service: agent events (upstream ``wazuh-workers``)."""
        return f"{self.name}-manager-workers"

    @property
    def dashboard(self) -> str:
        return f"{self.name}-dashboard"

    @property
    def log_rotation(self) -> str:
        return f"{self.name}-log-rotation"

    # Secrets and ConfigMaps
    @property
    def indexer_certs(self) -> str:
        return f"{self.name}-indexer-certs"

    @property
    def manager_certs(self) -> str:
        return f"{self.name}-manager-certs"

    @property
    def dashboard_certs(self) -> str:
        return f"{self.name}-dashboard-certs"

    @property
    def indexer_security(self) -> str:
        return f"{self.name}-indexer-security"

    @property
    def indexer_cred(self) -> str:
        return f"{self.name}-indexer-cred"

    @property
    def dashboard_cred(self) -> str:
        return f"{self.name}-dashboard-cred"

    @property
    def api_cred(self) -> str:
        return f"{self.name}-api-cred"

    @property
    def cluster_key(self) -> str:
        return f"{self.name}-cluster-key"

    @property
    def authd_pass(self) -> str:
        return f"{self.name}-authd-pass"

    @property
    def indexer_conf(self) -> str:
        return f"{self.name}-indexer-conf"

    @property
    def manager_conf(self) -> str:
        return f"{self.name}-manager-conf"

    @property
    def dashboard_conf(self) -> str:
        return f"{self.name}-dashboard-conf"

    # DNS
    def fqdn(self, host: str) -> str:
        """``host`` (a Service, or ``<pod>.<headless service>``) qualified with namespace and domain."""
        return f"{host}.{self.namespace}.svc.{CLUSTER_DOMAIN}"

    def indexer_pods(self, replicas: int) -> list[str]:
        return [f"{self.indexer}-{i}" for i in range(replicas)]

    def indexer_pod_hosts(self, replicas: int) -> list[str]:
        """Each indexer pod's stable name under the headless Service: ``<pod>.<service>``."""
        return [f"{pod}.{self.indexer}" for pod in self.indexer_pods(replicas)]

    @property
    def master_host(self) -> str:
        return f"{self.manager_master}-0.{self.manager_cluster}"


def service_names(names: Names, service: str) -> list[str]:
    """Every name a client may use for a Service: short, namespaced, and fully qualified."""
    return [service, f"{service}.{names.namespace}", f"{service}.{names.namespace}.svc", names.fqdn(service)]


# --- certificates ------------------------------------------------------------------------------

# Distinguished names: OpenSearch matches nodes_dn and admin_dn against these, in RFC 4514 order.
ORGANIZATION = "Wazuh"


def subject_dn(common_name: str, organizational_unit: str) -> str:
    """The RFC 4514 string of a certificate subject, as opensearch.yml lists it."""
    return f"CN={common_name},OU={organizational_unit},O={ORGANIZATION}"


def cert_hash(pems: Sequence[str]) -> str:
    """sha256 over the certificates one pod mounts, in mount order: the pod template annotation.

    Certificates, never keys: a new key always comes with a new certificate, so this changes
    exactly when a mounted key pair does, and it is no secret.
    """
    digest = hashlib.sha256()
    for pem in pems:
        digest.update(pem.encode())
        digest.update(b"\0")  # so ["ab", "c"] and ["a", "bc"] differ
    return f"sha256:{digest.hexdigest()}"


def config_hash(data: Mapping[str, str]) -> str:
    """sha256 over a ConfigMap's data, so a changed configuration rolls the pods that read it."""
    digest = hashlib.sha256()
    for key in sorted(data):
        digest.update(key.encode() + b"\0" + data[key].encode() + b"\0")
    return f"sha256:{digest.hexdigest()}"


# --- helpers -----------------------------------------------------------------------------------


def component_labels(names: Names, component: str, node_type: str | None = None) -> dict[str, str]:
    extra = {NODE_TYPE_LABEL: node_type} if node_type else None
    return standard_labels(names.name, component, PART_OF, extra)


def selector(names: Names, component: str, node_type: str | None = None) -> dict[str, str]:
    """The labels a workload selects its pods by (a subset of ``component_labels``; immutable)."""
    result = {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": names.name}
    if node_type:
        result[NODE_TYPE_LABEL] = node_type
    return result


def resources_block(resources: ResourceRequirements | None, default: str) -> dict[str, dict[str, str]]:
    if resources is None:
        return {kind: dict(values) for kind, values in _DEFAULT_RESOURCES[default].items()}
    return resources.to_kubernetes()


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _file_mount(volume: str, directory: str, key: str, as_name: str | None = None) -> dict[str, Any]:
    return {"name": volume, "mountPath": f"{directory}/{as_name or key}", "subPath": key, "readOnly": True}


def _claim_template(claim: str, storage: str, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": claim}, "spec": spec}


def _tcp_probe(port: int, initial: int, period: int, failures: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def _pod_annotations(cert_hash_value: Deferred, config_hash_value: str) -> dict[str, Any]:
    return {CERT_HASH_ANNOTATION: cert_hash_value, CONFIG_HASH_ANNOTATION: config_hash_value}


def image(repository: str, version: str) -> str:
    return f"wazuh/{repository}:{version}"


def indexer_config_dir(version: str) -> str:
    """Where the indexer reads its configuration: ``config/`` from 4.14 on, the home before."""
    minor = int(version.split(".")[1])
    return "/usr/share/wazuh-indexer/config" if minor >= 14 else "/usr/share/wazuh-indexer"


# --- namespace ---------------------------------------------------------------------------------


def namespace(names: Names) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": object_meta(names.namespace, None, standard_labels(names.name, "namespace", PART_OF)),
    }


# --- Secrets -----------------------------------------------------------------------------------


def secret(names: Names, name: str, component: str, string_data: Mapping[str, Deferred]) -> dict[str, Any]:
    """An Opaque Secret; values stay whatever the caller passed (secret Outputs in the component)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(name, names.namespace, component_labels(names, component)),
        "type": "Opaque",
        "stringData": dict(string_data),
    }


def credential_secret(names: Names, name: str, username: str, password: Deferred) -> dict[str, Any]:
    """A ``{username, password}`` Secret, as upstream's indexer-cred, dashboard-cred, wazuh-api-cred."""
    return secret(names, name, "credentials", {"username": username, "password": password})


def internal_users_yml(admin_hash: str, dashboard_hash: str) -> str:
    """The indexer's internal user database: only the two users the cluster uses.

    Upstream ships six demo users with fixed, published hashes; none of them is kept.
    """
    document = {
        "_meta": {"type": "internalusers", "config_version": 2},
        INDEXER_ADMIN_USER: {
            "hash": admin_hash,
            "reserved": True,
            "backend_roles": ["admin"],
            "description": "Administrator (driftless)",
        },
        DASHBOARD_USER: {
            "hash": dashboard_hash,
            "reserved": True,
            "description": "Dashboard server user (driftless)",
        },
    }
    return "---\n" + yaml.safe_dump(document, sort_keys=False)


# --- ConfigMaps --------------------------------------------------------------------------------


def opensearch_yml(spec: WazuhClusterSpec, names: Names) -> str:
    """opensearch.yml: discovery over the headless Service, TLS from the mounted PEMs, and the DNs."""
    replicas = spec.indexer.replicas
    certs = f"{indexer_config_dir(spec.version)}/certs"
    settings: dict[str, Any] = {
        "cluster.name": "${CLUSTER_NAME}",
        "node.name": "${NODE_NAME}",
        "network.host": "${NETWORK_HOST}",
        "discovery.seed_hosts": names.indexer_pod_hosts(replicas),
        "cluster.initial_master_nodes": names.indexer_pods(replicas),
        "node.max_local_storage_nodes": str(replicas),
        "path.data": "/var/lib/wazuh-indexer",
        "path.logs": "/var/log/wazuh-indexer",
        "plugins.security.ssl.http.pemcert_filepath": f"{certs}/node.pem",
        "plugins.security.ssl.http.pemkey_filepath": f"{certs}/node-key.pem",
        "plugins.security.ssl.http.pemtrustedcas_filepath": f"{certs}/root-ca.pem",
        "plugins.security.ssl.transport.pemcert_filepath": f"{certs}/node.pem",
        "plugins.security.ssl.transport.pemkey_filepath": f"{certs}/node-key.pem",
        "plugins.security.ssl.transport.pemtrustedcas_filepath": f"{certs}/root-ca.pem",
        "plugins.security.ssl.http.enabled": True,
        # Nodes reach each other by pod IP, which no certificate names; the CA is what is checked.
        "plugins.security.ssl.transport.enforce_hostname_verification": False,
        "plugins.security.ssl.transport.resolve_hostname": False,
        "plugins.security.authcz.admin_dn": [subject_dn("admin", names.name)],
        "plugins.security.check_snapshot_restore_write_privileges": True,
        "plugins.security.enable_snapshot_restore_privilege": True,
        "plugins.security.nodes_dn": [subject_dn("indexer", names.name)],
        "plugins.security.restapi.roles_enabled": ["all_access", "security_rest_api_access"],
        "plugins.security.allow_default_init_securityindex": True,
        "cluster.routing.allocation.disk.threshold_enabled": False,
        "compatibility.override_main_response_version": True,
    }
    return yaml.safe_dump(settings, sort_keys=False)


def ossec_conf(names: Names, node_type: str) -> str:
    """The manager's ossec.conf for a master or worker node (upstream master.conf / worker.conf).

    The cluster key and a worker's node name are placeholders the wazuh-manager image's entrypoint
    replaces at start from ``WAZUH_CLUSTER_KEY`` and the hostname, as upstream does.
    """
    node_name = names.manager_master if node_type == "master" else "to_be_replaced_by_hostname"
    master = names.fqdn(names.master_host)
    return f"""<ossec_config>
  <global>
    <jsonout_output>yes</jsonout_output>
    <alerts_log>yes</alerts_log>
    <logall>no</logall>
    <logall_json>no</logall_json>
    <email_notification>no</email_notification>
    <queue_size>131072</queue_size>
    <agents_disconnection_time>20s</agents_disconnection_time>
    <agents_disconnection_alert_time>100s</agents_disconnection_alert_time>
  </global>

  <alerts>
    <log_alert_level>3</log_alert_level>
    <email_alert_level>12</email_alert_level>
  </alerts>

  <logging>
    <log_format>plain</log_format>
  </logging>

  <remote>
    <connection>secure</connection>
    <port>{AGENTS_PORT}</port>
    <protocol>tcp</protocol>
    <queue_size>131072</queue_size>
  </remote>

  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
    <rule_exclude>0215-policy_rules.xml</rule_exclude>
    <list>etc/lists/audit-keys</list>
    <list>etc/lists/amazon/aws-sources</list>
    <list>etc/lists/amazon/aws-eventnames</list>
    <decoder_dir>etc/decoders</decoder_dir>
    <rule_dir>etc/rules</rule_dir>
  </ruleset>

  <auth>
    <disabled>no</disabled>
    <port>{REGISTRATION_PORT}</port>
    <use_source_ip>no</use_source_ip>
    <purge>no</purge>
    <use_password>yes</use_password>
    <ciphers>HIGH:!ADH:!EXP:!MD5:!RC4:!3DES:!CAMELLIA:@STRENGTH</ciphers>
    <ssl_verify_host>no</ssl_verify_host>
    <ssl_manager_cert>/var/ossec/etc/sslmanager.cert</ssl_manager_cert>
    <ssl_manager_key>/var/ossec/etc/sslmanager.key</ssl_manager_key>
    <ssl_auto_negotiate>no</ssl_auto_negotiate>
  </auth>

  <cluster>
    <name>{names.name}</name>
    <node_name>{node_name}</node_name>
    <node_type>{node_type}</node_type>
    <key>to_be_replaced_by_cluster_key</key>
    <port>{CLUSTER_PORT}</port>
    <bind_addr>0.0.0.0</bind_addr>
    <nodes>
        <node>{master}</node>
    </nodes>
    <hidden>no</hidden>
    <disabled>no</disabled>
  </cluster>
</ossec_config>
"""


def opensearch_dashboards_yml(names: Names) -> str:
    """The dashboard's configuration: HTTPS with its own certificate, the indexer verified in full."""
    certs = "/usr/share/wazuh-dashboard/certs"
    settings: dict[str, Any] = {
        "server.host": "0.0.0.0",
        "server.port": DASHBOARD_PORT,
        "opensearch.hosts": f"https://{names.indexer_api}:{INDEXER_REST_PORT}",
        # The indexer's certificate names its client Service, so the hostname can be verified.
        "opensearch.ssl.verificationMode": "full",
        "opensearch.requestHeadersWhitelist": ["authorization", "securitytenant"],
        "opensearch_security.multitenancy.enabled": False,
        "opensearch_security.readonly_mode.roles": ["kibana_read_only"],
        "server.ssl.enabled": True,
        "server.ssl.key": f"{certs}/key.pem",
        "server.ssl.certificate": f"{certs}/cert.pem",
        "opensearch.ssl.certificateAuthorities": [f"{certs}/root-ca.pem"],
        "uiSettings.overrides.defaultRoute": "/app/wz-home",
    }
    return yaml.safe_dump(settings, sort_keys=False)


def indexer_config_data(spec: WazuhClusterSpec, names: Names) -> dict[str, str]:
    return {"opensearch.yml": opensearch_yml(spec, names)}


def manager_config_data(names: Names) -> dict[str, str]:
    return {"master.conf": ossec_conf(names, "master"), "worker.conf": ossec_conf(names, "worker")}


def dashboard_config_data(names: Names) -> dict[str, str]:
    return {"opensearch_dashboards.yml": opensearch_dashboards_yml(names)}


def config_map(names: Names, name: str, component: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, names.namespace, component_labels(names, component)),
        "data": dict(data),
    }


# --- Services ----------------------------------------------------------------------------------


def _service(
    names: Names,
    name: str,
    component: str,
    pod_selector: Mapping[str, str],
    ports: Sequence[tuple[str, int, int]],
    headless: bool = False,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": dict(pod_selector),
        "ports": [
            {"name": port_name, "port": port, "targetPort": target, "protocol": "TCP"}
            for port_name, port, target in ports
        ],
    }
    if headless:
        spec["clusterIP"] = "None"
        # Peers must find each other before they are ready: discovery is what makes them ready.
        spec["publishNotReadyAddresses"] = True
    else:
        spec["type"] = "ClusterIP"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(name, names.namespace, component_labels(names, component)),
        "spec": spec,
    }


def services(spec: WazuhClusterSpec, names: Names) -> list[dict[str, Any]]:
    """Headless Services for the StatefulSets and client Services with upstream's ports."""
    indexer = selector(names, "wazuh-indexer")
    managers = selector(names, "wazuh-manager")
    result = [
        _service(
            names,
            names.indexer,
            "wazuh-indexer",
            indexer,
            [("indexer-nodes", INDEXER_TRANSPORT_PORT, INDEXER_TRANSPORT_PORT)],
            headless=True,
        ),
        _service(
            names,
            names.indexer_api,
            "wazuh-indexer",
            indexer,
            [("indexer-rest", INDEXER_REST_PORT, INDEXER_REST_PORT)],
        ),
        _service(
            names,
            names.manager_cluster,
            "wazuh-manager",
            managers,
            [("cluster", CLUSTER_PORT, CLUSTER_PORT)],
            headless=True,
        ),
        _service(
            names,
            names.manager,
            "wazuh-manager",
            selector(names, "wazuh-manager", "master"),
            [("registration", REGISTRATION_PORT, REGISTRATION_PORT), ("api", API_PORT, API_PORT)],
        ),
        _service(
            names,
            names.manager_workers,
            "wazuh-manager",
            selector(names, "wazuh-manager", "worker"),
            [("agents-events", AGENTS_PORT, AGENTS_PORT)],
        ),
    ]
    if spec.dashboard.enabled:
        result.append(
            _service(
                names,
                names.dashboard,
                "wazuh-dashboard",
                selector(names, "wazuh-dashboard"),
                [("dashboard", DASHBOARD_SERVICE_PORT, DASHBOARD_PORT)],
            )
        )
    return result


# --- workloads ---------------------------------------------------------------------------------


def _workload_meta(
    names: Names, name: str, component: str, node_type: str | None, annotations: Mapping[str, str]
) -> dict[str, Any]:
    return object_meta(name, names.namespace, component_labels(names, component, node_type), annotations)


def indexer_statefulset(
    spec: WazuhClusterSpec,
    names: Names,
    cert_hash_value: Deferred,
    await_annotations: Mapping[str, str],
) -> dict[str, Any]:
    """The indexer StatefulSet: upstream's init containers, env, mounts, ports; probes on REST."""
    indexer = spec.indexer
    config_dir = indexer_config_dir(spec.version)
    certs_dir = f"{config_dir}/certs"
    data = "wazuh-indexer"
    pod_labels = component_labels(names, "wazuh-indexer")
    container = {
        "name": "wazuh-indexer",
        "image": image("wazuh-indexer", spec.version),
        "resources": resources_block(indexer.resources, "indexer"),
        "env": [
            {"name": "OPENSEARCH_JAVA_OPTS", "value": "-Xms1g -Xmx1g -Dlog4j2.formatMsgNoLookups=true"},
            {"name": "CLUSTER_NAME", "value": names.name},
            {"name": "NETWORK_HOST", "value": "0.0.0.0"},
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "DISCOVERY_SERVICE", "value": names.indexer},
            {"name": "KUBERNETES_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "DISABLE_INSTALL_DEMO_CONFIG", "value": "true"},
        ],
        "securityContext": {"capabilities": {"add": ["SYS_CHROOT"]}},
        "volumeMounts": [
            {"name": data, "mountPath": "/var/lib/wazuh-indexer"},
            *(
                _file_mount("indexer-certs", certs_dir, key)
                for key in ("root-ca.pem", "node.pem", "node-key.pem", "admin.pem", "admin-key.pem")
            ),
            _file_mount("indexer-conf", config_dir, "opensearch.yml"),
            _file_mount("indexer-security", f"{config_dir}/opensearch-security", "internal_users.yml"),
        ],
        "ports": [
            {"name": "indexer-rest", "containerPort": INDEXER_REST_PORT},
            {"name": "indexer-nodes", "containerPort": INDEXER_TRANSPORT_PORT},
        ],
        "readinessProbe": _tcp_probe(INDEXER_REST_PORT, initial=30, period=10, failures=3),
        "livenessProbe": _tcp_probe(INDEXER_REST_PORT, initial=120, period=30, failures=5),
    }
    init_containers = [
        {
            # The data volume must belong to the indexer user (uid 1000) before it starts.
            "name": "volume-mount-hack",
            "image": INIT_IMAGE,
            "command": ["sh", "-c", "chown -R 1000:1000 /var/lib/wazuh-indexer"],
            "resources": {
                "requests": {"cpu": "50m", "memory": "128Mi"},
                "limits": {"cpu": "100m", "memory": "256Mi"},
            },
            "volumeMounts": [{"name": data, "mountPath": "/var/lib/wazuh-indexer"}],
        },
        {
            # OpenSearch refuses to start below 262144 memory map areas; a node-level sysctl.
            "name": "increase-the-vm-max-map-count",
            "image": INIT_IMAGE,
            "command": ["sysctl", "-w", "vm.max_map_count=262144"],
            "securityContext": {"privileged": True},
        },
    ]
    config = indexer_config_data(spec, names)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _workload_meta(names, names.indexer, "wazuh-indexer", None, await_annotations),
        "spec": {
            "replicas": indexer.replicas,
            "serviceName": names.indexer,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(names, "wazuh-indexer")},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": _pod_annotations(cert_hash_value, config_hash(config)),
                },
                "spec": {
                    "securityContext": {"fsGroup": 1000},
                    "initContainers": init_containers,
                    "containers": [container],
                    "volumes": [
                        {"name": "indexer-certs", "secret": {"secretName": names.indexer_certs}},
                        {"name": "indexer-conf", "configMap": {"name": names.indexer_conf}},
                        {"name": "indexer-security", "secret": {"secretName": names.indexer_security}},
                    ],
                },
            },
            "volumeClaimTemplates": [_claim_template(data, indexer.storage, indexer.storage_class)],
        },
    }


# Manager state that must survive a restart, each a subPath of the one volume (as upstream).
_MANAGER_PATHS = (
    "/var/ossec/api/configuration",
    "/var/ossec/etc",
    "/var/ossec/logs",
    "/var/ossec/queue",
    "/var/ossec/var/multigroups",
    "/var/ossec/integrations",
    "/var/ossec/active-response/bin",
    "/var/ossec/agentless",
    "/var/ossec/wodles",
    "/etc/filebeat",
    "/var/lib/filebeat",
)
# Files under /wazuh-config-mount are copied over /var/ossec by the image's entrypoint at start.
_CONFIG_MOUNT = "/wazuh-config-mount"


def _manager_statefulset(
    spec: WazuhClusterSpec,
    names: Names,
    node_type: str,
    cert_hash_value: Deferred,
    await_annotations: Mapping[str, str],
) -> dict[str, Any]:
    master = node_type == "master"
    name = names.manager_master if master else names.manager_worker
    component_spec = spec.manager.master if master else spec.manager.workers
    replicas = 1 if master else spec.manager.workers.replicas
    volume = name
    mounts: list[dict[str, Any]] = [
        _file_mount("wazuh-conf", f"{_CONFIG_MOUNT}/etc", f"{node_type}.conf", "ossec.conf"),
        *({"name": volume, "mountPath": path, "subPath": f"wazuh{path}"} for path in _MANAGER_PATHS),
        # Filebeat ships alerts to the indexer with its client certificate.
        _file_mount("manager-certs", "/etc/ssl", "root-ca.pem"),
        _file_mount("manager-certs", "/etc/ssl", "filebeat.pem"),
        _file_mount("manager-certs", "/etc/ssl", "filebeat-key.pem", "filebeat.key"),
        # The manager certificate serves agent enrollment (authd) and the API.
        _file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", "manager.pem", "sslmanager.cert"),
        _file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", "manager-key.pem", "sslmanager.key"),
        _file_mount("manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", "manager.pem", "server.crt"),
        _file_mount(
            "manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", "manager-key.pem", "server.key"
        ),
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "wazuh-conf", "configMap": {"name": names.manager_conf}},
        {"name": "manager-certs", "secret": {"secretName": names.manager_certs}},
    ]
    env: list[dict[str, Any]] = [
        {"name": "INDEXER_URL", "value": f"https://{names.indexer_api}:{INDEXER_REST_PORT}"},
        _secret_env("INDEXER_USERNAME", names.indexer_cred, "username"),
        _secret_env("INDEXER_PASSWORD", names.indexer_cred, "password"),
        {"name": "FILEBEAT_SSL_VERIFICATION_MODE", "value": "full"},
        {"name": "SSL_CERTIFICATE_AUTHORITIES", "value": "/etc/ssl/root-ca.pem"},
        {"name": "SSL_CERTIFICATE", "value": "/etc/ssl/filebeat.pem"},
        {"name": "SSL_KEY", "value": "/etc/ssl/filebeat.key"},
    ]
    if master:
        env += [
            _secret_env("API_USERNAME", names.api_cred, "username"),
            _secret_env("API_PASSWORD", names.api_cred, "password"),
        ]
        mounts.insert(1, _file_mount("wazuh-authd-pass", f"{_CONFIG_MOUNT}/etc", "authd.pass"))
        volumes.append({"name": "wazuh-authd-pass", "secret": {"secretName": names.authd_pass}})
        ports = [
            {"name": "registration", "containerPort": REGISTRATION_PORT},
            {"name": "cluster", "containerPort": CLUSTER_PORT},
            {"name": "api", "containerPort": API_PORT},
        ]
        readiness = _tcp_probe(API_PORT, initial=60, period=10, failures=6)
    else:
        ports = [
            {"name": "agents-events", "containerPort": AGENTS_PORT},
            {"name": "cluster", "containerPort": CLUSTER_PORT},
        ]
        readiness = _tcp_probe(AGENTS_PORT, initial=60, period=10, failures=6)
    env.append(_secret_env("WAZUH_CLUSTER_KEY", names.cluster_key, "key"))

    pod_spec: dict[str, Any] = {
        "securityContext": {"fsGroup": 101},
        "containers": [
            {
                "name": "wazuh-manager",
                "image": image("wazuh-manager", spec.version),
                "resources": resources_block(component_spec.resources, "manager"),
                "securityContext": {"capabilities": {"add": ["SYS_CHROOT"]}},
                "env": env,
                "ports": ports,
                "volumeMounts": mounts,
                "readinessProbe": readiness,
                "livenessProbe": _tcp_probe(CLUSTER_PORT, initial=180, period=30, failures=5),
            }
        ],
        "volumes": volumes,
    }
    if not master:
        # Spread workers over nodes, as upstream, so one node failure leaves agents a worker.
        pod_spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": selector(names, "wazuh-manager", "worker")},
                        },
                    }
                ]
            }
        }
    config = {f"{node_type}.conf": manager_config_data(names)[f"{node_type}.conf"]}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _workload_meta(names, name, "wazuh-manager", node_type, await_annotations),
        "spec": {
            "replicas": replicas,
            "serviceName": names.manager_cluster,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(names, "wazuh-manager", node_type)},
            "template": {
                "metadata": {
                    "labels": component_labels(names, "wazuh-manager", node_type),
                    "annotations": _pod_annotations(cert_hash_value, config_hash(config)),
                },
                "spec": pod_spec,
            },
            "volumeClaimTemplates": [
                _claim_template(volume, component_spec.storage, component_spec.storage_class)
            ],
        },
    }


def manager_master_statefulset(
    spec: WazuhClusterSpec, names: Names, cert_hash_value: Deferred, await_annotations: Mapping[str, str]
) -> dict[str, Any]:
    """The manager master: one replica, API and agent registration."""
    return _manager_statefulset(spec, names, "master", cert_hash_value, await_annotations)


def manager_worker_statefulset(
    spec: WazuhClusterSpec, names: Names, cert_hash_value: Deferred, await_annotations: Mapping[str, str]
) -> dict[str, Any]:
    """The manager workers: agent events, spread over nodes."""
    return _manager_statefulset(spec, names, "worker", cert_hash_value, await_annotations)


def dashboard_deployment(
    spec: WazuhClusterSpec, names: Names, cert_hash_value: Deferred, await_annotations: Mapping[str, str]
) -> dict[str, Any]:
    """The dashboard Deployment, talking to the indexer and to the master's API."""
    certs = "/usr/share/wazuh-dashboard/certs"
    container = {
        "name": "wazuh-dashboard",
        "image": image("wazuh-dashboard", spec.version),
        "resources": resources_block(spec.dashboard.resources, "dashboard"),
        "volumeMounts": [
            _file_mount("config", "/usr/share/wazuh-dashboard/config", "opensearch_dashboards.yml"),
            _file_mount("dashboard-certs", certs, "cert.pem"),
            _file_mount("dashboard-certs", certs, "key.pem"),
            _file_mount("dashboard-certs", certs, "root-ca.pem"),
        ],
        "ports": [{"name": "dashboard", "containerPort": DASHBOARD_PORT}],
        "env": [
            {"name": "INDEXER_URL", "value": f"https://{names.indexer_api}:{INDEXER_REST_PORT}"},
            _secret_env("INDEXER_USERNAME", names.indexer_cred, "username"),
            _secret_env("INDEXER_PASSWORD", names.indexer_cred, "password"),
            _secret_env("DASHBOARD_USERNAME", names.dashboard_cred, "username"),
            _secret_env("DASHBOARD_PASSWORD", names.dashboard_cred, "password"),
            {"name": "SERVER_SSL_ENABLED", "value": "true"},
            {"name": "SERVER_SSL_CERTIFICATE", "value": f"{certs}/cert.pem"},
            {"name": "SERVER_SSL_KEY", "value": f"{certs}/key.pem"},
            {"name": "WAZUH_API_URL", "value": f"https://{names.fqdn(names.master_host)}"},
            _secret_env("API_USERNAME", names.api_cred, "username"),
            _secret_env("API_PASSWORD", names.api_cred, "password"),
        ],
        "readinessProbe": _tcp_probe(DASHBOARD_PORT, initial=30, period=10, failures=6),
        "livenessProbe": _tcp_probe(DASHBOARD_PORT, initial=120, period=30, failures=5),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _workload_meta(names, names.dashboard, "wazuh-dashboard", None, await_annotations),
        "spec": {
            "replicas": spec.dashboard.replicas,
            "selector": {"matchLabels": selector(names, "wazuh-dashboard")},
            "template": {
                "metadata": {
                    "labels": component_labels(names, "wazuh-dashboard"),
                    "annotations": _pod_annotations(
                        cert_hash_value, config_hash(dashboard_config_data(names))
                    ),
                },
                "spec": {
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": names.dashboard_conf}},
                        {"name": "dashboard-certs", "secret": {"secretName": names.dashboard_certs}},
                    ],
                },
            },
        },
    }


# --- log rotation ------------------------------------------------------------------------------

LOG_DIRECTORIES = ("/var/ossec/logs/alerts", "/var/ossec/logs/archives")


def log_rotation_script(spec: WazuhClusterSpec, names: Names) -> str:
    """Delete alert and archive files older than retentionDays on every manager pod, via exec.

    The managers' volumes are ReadWriteOnce and mounted by their pods, so the job cannot mount
    them; it runs ``find`` inside each manager container instead (as the Wazuh operator does).
    """
    days = spec.log_rotation.retention_days
    pod_selector = ",".join(f"{key}={value}" for key, value in selector(names, "wazuh-manager").items())
    directories = " ".join(LOG_DIRECTORIES)
    return f"""set -eu
pods=$(kubectl get pods -n {names.namespace} -l {pod_selector} -o jsonpath='{{.items[*].metadata.name}}')
failed=0
for pod in $pods; do
  echo "deleting log files older than {days} days on $pod"
  kubectl exec -n {names.namespace} "$pod" -c wazuh-manager -- \\
    find {directories} -type f -mtime +{days} -delete || failed=1
  kubectl exec -n {names.namespace} "$pod" -c wazuh-manager -- \\
    find {directories} -mindepth 1 -type d -empty -delete || failed=1
done
exit $failed
"""


def log_rotation_objects(spec: WazuhClusterSpec, names: Names) -> list[dict[str, Any]]:
    """ServiceAccount, Role (list pods, exec into them), RoleBinding and the CronJob."""
    name = names.log_rotation
    meta = object_meta(name, names.namespace, component_labels(names, "log-rotation"))
    job_labels = component_labels(names, "log-rotation")
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": names.namespace}],
        },
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": spec.log_rotation.schedule,
                "concurrencyPolicy": "Forbid",
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {
                    "metadata": {"labels": job_labels},
                    "spec": {
                        "backoffLimit": 2,
                        "template": {
                            "metadata": {"labels": job_labels},
                            "spec": {
                                "serviceAccountName": name,
                                "restartPolicy": "OnFailure",
                                "containers": [
                                    {
                                        "name": "log-rotation",
                                        "image": spec.log_rotation.image,
                                        "command": ["/bin/sh", "-c", log_rotation_script(spec, names)],
                                        "resources": {
                                            "requests": {"cpu": "10m", "memory": "32Mi"},
                                            "limits": {"cpu": "200m", "memory": "128Mi"},
                                        },
                                    }
                                ],
                            },
                        },
                    },
                },
            },
        },
    ]
