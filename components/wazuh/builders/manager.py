"""The manager cluster: one master (API, agent registration) and its workers (agent events).

Master and workers run the same image from the same StatefulSet shape; what differs (ports,
credentials, the authd password, spreading over nodes) is decided in one place by node type, so
the two cannot drift apart. Their ossec.conf lives here too: it names the ports and certificate
files the pods expose and mount.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.wazuh.builders.common import (
    Deferred,
    claim_template,
    credential_env,
    file_mount,
    image,
    pod_template,
    resources_block,
    secret_env,
    selector,
    tcp_probe,
    workload_meta,
)
from components.wazuh.builders.names import (
    AGENTS_PORT,
    API_PORT,
    CLUSTER_PORT,
    REGISTRATION_PORT,
    Names,
    indexer_url,
)
from components.wazuh.spec import WazuhClusterSpec

# --- configuration -----------------------------------------------------------------------------


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


def manager_config_data(names: Names) -> dict[str, str]:
    return {"master.conf": ossec_conf(names, "master"), "worker.conf": ossec_conf(names, "worker")}


# --- workloads ---------------------------------------------------------------------------------

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
    credentials_hash_value: Deferred | None,
) -> dict[str, Any]:
    """The StatefulSet of the master or of the workers (``node_type``); see the module docstring."""
    master = node_type == "master"
    name = names.manager_master if master else names.manager_worker
    component_spec = spec.manager.master if master else spec.manager.workers
    replicas = 1 if master else spec.manager.workers.replicas
    volume = name
    mounts: list[dict[str, Any]] = [
        file_mount("wazuh-conf", f"{_CONFIG_MOUNT}/etc", f"{node_type}.conf", "ossec.conf"),
        *({"name": volume, "mountPath": path, "subPath": f"wazuh{path}"} for path in _MANAGER_PATHS),
        # Filebeat ships alerts to the indexer with its client certificate.
        file_mount("manager-certs", "/etc/ssl", "root-ca.pem"),
        file_mount("manager-certs", "/etc/ssl", "filebeat.pem"),
        file_mount("manager-certs", "/etc/ssl", "filebeat-key.pem", "filebeat.key"),
        # The manager certificate serves agent enrollment (authd) and the API.
        file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", "manager.pem", "sslmanager.cert"),
        file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", "manager-key.pem", "sslmanager.key"),
        file_mount("manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", "manager.pem", "server.crt"),
        file_mount(
            "manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", "manager-key.pem", "server.key"
        ),
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "wazuh-conf", "configMap": {"name": names.manager_conf}},
        {"name": "manager-certs", "secret": {"secretName": names.manager_certs}},
    ]
    env: list[dict[str, Any]] = [
        {"name": "INDEXER_URL", "value": indexer_url(names)},
        *credential_env("INDEXER", names.indexer_cred),
        {"name": "FILEBEAT_SSL_VERIFICATION_MODE", "value": "full"},
        {"name": "SSL_CERTIFICATE_AUTHORITIES", "value": "/etc/ssl/root-ca.pem"},
        {"name": "SSL_CERTIFICATE", "value": "/etc/ssl/filebeat.pem"},
        {"name": "SSL_KEY", "value": "/etc/ssl/filebeat.key"},
    ]
    if master:
        env += credential_env("API", names.api_cred)
        mounts.insert(1, file_mount("wazuh-authd-pass", f"{_CONFIG_MOUNT}/etc", "authd.pass"))
        volumes.append({"name": "wazuh-authd-pass", "secret": {"secretName": names.authd_pass}})
        ports = [
            {"name": "registration", "containerPort": REGISTRATION_PORT},
            {"name": "cluster", "containerPort": CLUSTER_PORT},
            {"name": "api", "containerPort": API_PORT},
        ]
        readiness = tcp_probe(API_PORT, initial=60, period=10, failures=6)
    else:
        ports = [
            {"name": "agents-events", "containerPort": AGENTS_PORT},
            {"name": "cluster", "containerPort": CLUSTER_PORT},
        ]
        readiness = tcp_probe(AGENTS_PORT, initial=60, period=10, failures=6)
    env.append(secret_env("WAZUH_CLUSTER_KEY", names.cluster_key, "key"))

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
                "livenessProbe": tcp_probe(CLUSTER_PORT, initial=180, period=30, failures=5),
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
    # Each pod reads only its own node type's file, so only that one rolls it.
    config = {f"{node_type}.conf": ossec_conf(names, node_type)}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": workload_meta(names, name, "wazuh-manager", node_type, await_annotations),
        "spec": {
            "replicas": replicas,
            "serviceName": names.manager_cluster,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector(names, "wazuh-manager", node_type)},
            "template": pod_template(
                names, "wazuh-manager", node_type, cert_hash_value, config, pod_spec, credentials_hash_value
            ),
            "volumeClaimTemplates": [
                claim_template(volume, component_spec.storage, component_spec.storage_class)
            ],
        },
    }


def manager_master_statefulset(
    spec: WazuhClusterSpec,
    names: Names,
    cert_hash_value: Deferred,
    await_annotations: Mapping[str, str],
    credentials_hash_value: Deferred | None = None,
) -> dict[str, Any]:
    """The manager master: one replica, API and agent registration."""
    return _manager_statefulset(
        spec, names, "master", cert_hash_value, await_annotations, credentials_hash_value
    )


def manager_worker_statefulset(
    spec: WazuhClusterSpec,
    names: Names,
    cert_hash_value: Deferred,
    await_annotations: Mapping[str, str],
    credentials_hash_value: Deferred | None = None,
) -> dict[str, Any]:
    """The manager workers: agent events, spread over nodes."""
    return _manager_statefulset(
        spec, names, "worker", cert_hash_value, await_annotations, credentials_hash_value
    )
