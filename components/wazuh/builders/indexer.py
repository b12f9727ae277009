"""The indexer (OpenSearch): its configuration files and its StatefulSet.

The files and the pod live together because they must agree: opensearch.yml names the
certificate paths the StatefulSet mounts, and the directory both use moved in Wazuh 4.14.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from components.common.objects import resources_block
from components.wazuh.builders.common import (
    DEFAULT_RESOURCES,
    Deferred,
    claim_retention,
    claim_template,
    file_mount,
    image,
    pod_pull_settings,
    pod_template,
    pulled_from,
    secret_volume,
    selector,
    tcp_probe,
    workload_meta,
)
from components.wazuh.builders.names import (
    DASHBOARD_USER,
    INDEXER_ADMIN_USER,
    INDEXER_REST_PORT,
    INDEXER_TRANSPORT_PORT,
    Names,
    subject_dn,
)
from components.wazuh.heap import DEFAULT_MEMORY_LIMIT, default_heap
from components.wazuh.spec import WazuhClusterSpec

INIT_IMAGE = "busybox:1.37"


def indexer_config_dir(version: str) -> str:
    """Where the indexer reads its configuration: ``config/`` from 4.14 on, the home before."""
    minor = int(version.split(".")[1])
    return "/usr/share/wazuh-indexer/config" if minor >= 14 else "/usr/share/wazuh-indexer"


# --- configuration -----------------------------------------------------------------------------


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


def indexer_config_data(spec: WazuhClusterSpec, names: Names) -> dict[str, str]:
    return {"opensearch.yml": opensearch_yml(spec, names)}


# --- workload ----------------------------------------------------------------------------------


def java_heap(spec: WazuhClusterSpec) -> str:
    """The spec's javaHeap, or half the memory the indexer container may use (see :mod:`..heap`)."""
    if spec.indexer.java_heap is not None:
        return spec.indexer.java_heap
    resources = spec.indexer.resources
    if resources is None:
        return default_heap(DEFAULT_MEMORY_LIMIT)
    memory = (resources.limits or {}).get("memory") or (resources.requests or {}).get("memory")
    return default_heap(memory)


def java_options(spec: WazuhClusterSpec) -> str:
    """OPENSEARCH_JAVA_OPTS: a fixed-size heap, and no JNDI lookups in log messages (as upstream)."""
    heap = java_heap(spec)
    return f"-Xms{heap} -Xmx{heap} -Dlog4j2.formatMsgNoLookups=true"


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
    container = {
        "name": "wazuh-indexer",
        "image": image(spec, "wazuh-indexer"),
        "resources": resources_block(indexer.resources, DEFAULT_RESOURCES["indexer"]),
        "env": [
            {"name": "OPENSEARCH_JAVA_OPTS", "value": java_options(spec)},
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
                file_mount("indexer-certs", certs_dir, key)
                for key in ("root-ca.pem", "node.pem", "node-key.pem", "admin.pem", "admin-key.pem")
            ),
            file_mount("indexer-conf", config_dir, "opensearch.yml"),
            file_mount("indexer-security", f"{config_dir}/opensearch-security", "internal_users.yml"),
        ],
        "ports": [
            {"name": "indexer-rest", "containerPort": INDEXER_REST_PORT},
            {"name": "indexer-nodes", "containerPort": INDEXER_TRANSPORT_PORT},
        ],
        "readinessProbe": tcp_probe(INDEXER_REST_PORT, initial=30, period=10, failures=3),
        "livenessProbe": tcp_probe(INDEXER_REST_PORT, initial=120, period=30, failures=5),
    }
    init_containers = [
        {
            # The data volume must belong to the indexer user (uid 1000) before it starts.
            "name": "volume-mount-hack",
            "image": pulled_from(spec.image_registry, INIT_IMAGE),
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
            "image": pulled_from(spec.image_registry, INIT_IMAGE),
            "command": ["sysctl", "-w", "vm.max_map_count=262144"],
            "securityContext": {"privileged": True},
        },
    ]
    pod_spec = {
        # The indexer runs as uid/gid 1000: its volume and its owner-only Secret files are its group's.
        "securityContext": {"fsGroup": 1000},
        **pod_pull_settings(spec),
        "initContainers": init_containers,
        "containers": [container],
        "volumes": [
            secret_volume("indexer-certs", names.indexer_certs),
            {"name": "indexer-conf", "configMap": {"name": names.indexer_conf}},
            secret_volume("indexer-security", names.indexer_security),
        ],
    }
    config = indexer_config_data(spec, names)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": workload_meta(names, names.indexer, "wazuh-indexer", None, await_annotations),
        "spec": {
            "replicas": indexer.replicas,
            "serviceName": names.indexer,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(names, "wazuh-indexer")},
            "template": pod_template(names, "wazuh-indexer", None, cert_hash_value, config, pod_spec),
            "volumeClaimTemplates": [claim_template(data, indexer.storage, indexer.storage_class)],
            "persistentVolumeClaimRetentionPolicy": claim_retention(spec.deletion_policy),
        },
    }
