"""The manager cluster: one master (API, agent registration) and its workers (agent events).

Master and workers run the same image from the same StatefulSet shape; what differs (ports,
credentials, the authd password, spreading over nodes) is decided in one place by node type, so
the two cannot drift apart. Their ossec.conf lives here too: it names the ports and certificate
files the pods expose and mount.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.common.objects import resources_block
from components.wazuh.builders.common import (
    DEFAULT_RESOURCES,
    Deferred,
    claim_retention,
    claim_template,
    credential_env,
    file_mount,
    image,
    pod_pull_settings,
    pod_template,
    secret_env,
    secret_volume,
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


# The log-analysis commands upstream runs on every manager (its master.conf and worker.conf).
_NETSTAT = (
    r"netstat -tulpn | sed 's/\([[:alnum:]]\+\)\ \+[[:digit:]]\+\ \+[[:digit:]]\+\ \+\(.*\):"
    r"\([[:digit:]]*\)\ \+\([0-9\.\:\*]\+\).\+\ \([[:digit:]]*\/[[:alnum:]\-]*\).*/\1 \2 == \3 == \4 \5/'"
    r" | sort -k 4 -g | sed 's/ == \(.*\) ==/:\1/' | sed 1,2d"
)
# Active-response commands upstream defines (none is bound to a rule: no <active-response> block).
_COMMANDS = (
    ("disable-account", "disable-account.sh", "user"),
    ("restart-ossec", "restart-ossec.sh", ""),
    ("firewall-drop", "firewall-drop", None),
    ("host-deny", "host-deny.sh", "srcip"),
    ("route-null", "route-null.sh", "srcip"),
    ("win_route-null", "route-null.cmd", "srcip"),
    ("win_route-null-2012", "route-null-2012.cmd", "srcip"),
    ("netsh", "netsh.cmd", "srcip"),
    ("netsh-win-2016", "netsh-win-2016.cmd", "srcip"),
)
# Where the pods mount the CA and Filebeat's client certificate; the indexer connector uses them too.
_SSL_DIR = "/etc/ssl"
CA_FILE = f"{_SSL_DIR}/root-ca.pem"
FILEBEAT_CERT_FILE = f"{_SSL_DIR}/filebeat.pem"
FILEBEAT_KEY_FILE = f"{_SSL_DIR}/filebeat.key"


def _command(name: str, executable: str, expect: str | None) -> str:
    expect_line = f"\n    <expect>{expect}</expect>" if expect is not None else ""
    timeout = "" if name == "restart-ossec" else "\n    <timeout_allowed>yes</timeout_allowed>"
    return f"""  <command>
    <name>{name}</name>
    <executable>{executable}</executable>{expect_line}{timeout}
  </command>
"""


def ossec_conf(spec: WazuhClusterSpec, names: Names, node_type: str) -> str:
    """The manager's ossec.conf for a master or worker node: upstream's master.conf / worker.conf
    for 4.14.6 with this cluster's names, then ``manager.extraConfig`` as one more block.

    Upstream's example e-mail addresses and its sample white-listed address are left out (e-mail
    is off); the ``<sca>`` block, which upstream's files lack, is the Wazuh package's default.
    The cluster key and a worker's node name are placeholders the wazuh-manager image's
    entrypoint replaces at start from ``WAZUH_CLUSTER_KEY`` and the hostname, as upstream does;
    the indexer connector's user and password come from ``INDEXER_USERNAME``/``INDEXER_PASSWORD``,
    which the entrypoint stores in the manager's keystore.
    """
    node_name = names.manager_master if node_type == "master" else "to_be_replaced_by_hostname"
    master = names.fqdn(names.master_host)
    commands = "\n".join(_command(*command) for command in _COMMANDS)
    extra = spec.manager.extra_config
    extra_block = f"\n<ossec_config>\n{extra.strip()}\n</ossec_config>\n" if extra and extra.strip() else ""
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

  <!-- Policy monitoring -->
  <rootcheck>
    <disabled>no</disabled>
    <check_unixaudit>yes</check_unixaudit>
    <check_files>yes</check_files>
    <check_trojans>yes</check_trojans>
    <check_dev>yes</check_dev>
    <check_sys>yes</check_sys>
    <check_pids>yes</check_pids>
    <check_ports>yes</check_ports>
    <check_if>yes</check_if>
    <frequency>43200</frequency>
    <rootkit_files>/var/ossec/etc/rootcheck/rootkit_files.txt</rootkit_files>
    <rootkit_trojans>/var/ossec/etc/rootcheck/rootkit_trojans.txt</rootkit_trojans>
    <system_audit>/var/ossec/etc/rootcheck/system_audit_rcl.txt</system_audit>
    <system_audit>/var/ossec/etc/rootcheck/system_audit_ssh.txt</system_audit>
    <skip_nfs>yes</skip_nfs>
  </rootcheck>

  <wodle name="open-scap">
    <disabled>yes</disabled>
    <timeout>1800</timeout>
    <interval>1d</interval>
    <scan-on-start>yes</scan-on-start>
  </wodle>

  <wodle name="cis-cat">
    <disabled>yes</disabled>
    <timeout>1800</timeout>
    <interval>1d</interval>
    <scan-on-start>yes</scan-on-start>
    <java_path>wodles/java</java_path>
    <ciscat_path>wodles/ciscat</ciscat_path>
  </wodle>

  <wodle name="osquery">
    <disabled>yes</disabled>
    <run_daemon>yes</run_daemon>
    <log_path>/var/log/osquery/osqueryd.results.log</log_path>
    <config_path>/etc/osquery/osquery.conf</config_path>
    <add_labels>yes</add_labels>
  </wodle>

  <!-- System inventory -->
  <wodle name="syscollector">
    <disabled>no</disabled>
    <interval>1h</interval>
    <scan_on_start>yes</scan_on_start>
    <hardware>yes</hardware>
    <os>yes</os>
    <network>yes</network>
    <packages>yes</packages>
    <ports all="yes">yes</ports>
    <processes>yes</processes>
  </wodle>

  <!-- Security configuration assessment -->
  <sca>
    <enabled>yes</enabled>
    <scan_on_start>yes</scan_on_start>
    <interval>12h</interval>
    <skip_nfs>yes</skip_nfs>
  </sca>

  <vulnerability-detection>
    <enabled>yes</enabled>
    <index-status>yes</index-status>
    <feed-update-interval>60m</feed-update-interval>
  </vulnerability-detection>

  <!-- The indexer connector: vulnerability and inventory states, with Filebeat's client certificate -->
  <indexer>
    <enabled>yes</enabled>
    <hosts>
      <host>{indexer_url(names)}</host>
    </hosts>
    <ssl>
      <certificate_authorities>
        <ca>{CA_FILE}</ca>
      </certificate_authorities>
      <certificate>{FILEBEAT_CERT_FILE}</certificate>
      <key>{FILEBEAT_KEY_FILE}</key>
    </ssl>
  </indexer>

  <!-- File integrity monitoring -->
  <syscheck>
    <disabled>no</disabled>
    <frequency>43200</frequency>
    <scan_on_start>yes</scan_on_start>
    <alert_new_files>yes</alert_new_files>
    <auto_ignore frequency="10" timeframe="3600">no</auto_ignore>
    <directories check_all="yes">/etc,/usr/bin,/usr/sbin</directories>
    <directories check_all="yes">/bin,/sbin,/boot</directories>
    <ignore>/etc/mtab</ignore>
    <ignore>/etc/hosts.deny</ignore>
    <ignore>/etc/mail/statistics</ignore>
    <ignore>/etc/random-seed</ignore>
    <ignore>/etc/random.seed</ignore>
    <ignore>/etc/adjtime</ignore>
    <ignore>/etc/httpd/logs</ignore>
    <ignore>/etc/utmpx</ignore>
    <ignore>/etc/wtmpx</ignore>
    <ignore>/etc/cups/certs</ignore>
    <ignore>/etc/dumpdates</ignore>
    <ignore>/etc/svc/volatile</ignore>
    <ignore>/sys/kernel/security</ignore>
    <ignore>/sys/kernel/debug</ignore>
    <nodiff>/etc/ssl/private.key</nodiff>
    <skip_nfs>yes</skip_nfs>
    <remove_old_diff>yes</remove_old_diff>
    <restart_audit>yes</restart_audit>
  </syscheck>

  <!-- Active response -->
  <global>
    <white_list>127.0.0.1</white_list>
    <white_list>^localhost.localdomain$</white_list>
  </global>

{commands}
  <!-- Log analysis -->
  <localfile>
    <log_format>command</log_format>
    <command>df -P</command>
    <frequency>360</frequency>
  </localfile>

  <localfile>
    <log_format>full_command</log_format>
    <command>{_NETSTAT}</command>
    <alias>netstat listening ports</alias>
    <frequency>360</frequency>
  </localfile>

  <localfile>
    <log_format>full_command</log_format>
    <command>last -n 20</command>
    <frequency>360</frequency>
  </localfile>

  <ruleset>
    <decoder_dir>ruleset/decoders</decoder_dir>
    <rule_dir>ruleset/rules</rule_dir>
    <rule_exclude>0215-policy_rules.xml</rule_exclude>
    <list>etc/lists/audit-keys</list>
    <list>etc/lists/amazon/aws-sources</list>
    <list>etc/lists/amazon/aws-eventnames</list>
    <list>etc/lists/malicious-ioc/malicious-ip</list>
    <list>etc/lists/malicious-ioc/malicious-domains</list>
    <list>etc/lists/malicious-ioc/malware-hashes</list>
    <decoder_dir>etc/decoders</decoder_dir>
    <rule_dir>etc/rules</rule_dir>
  </ruleset>

  <rule_test>
    <enabled>yes</enabled>
    <threads>1</threads>
    <max_sessions>64</max_sessions>
    <session_timeout>15m</session_timeout>
  </rule_test>

  <auth>
    <disabled>no</disabled>
    <port>{REGISTRATION_PORT}</port>
    <use_source_ip>no</use_source_ip>
    <force>
      <enabled>yes</enabled>
      <key_mismatch>yes</key_mismatch>
      <disconnected_time enabled="yes">1h</disconnected_time>
      <after_registration_time>1h</after_registration_time>
    </force>
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

<ossec_config>
  <localfile>
    <log_format>syslog</log_format>
    <location>/var/ossec/logs/active-responses.log</location>
  </localfile>
</ossec_config>
{extra_block}"""


def manager_config_data(spec: WazuhClusterSpec, names: Names) -> dict[str, str]:
    return {
        "master.conf": ossec_conf(spec, names, "master"),
        "worker.conf": ossec_conf(spec, names, "worker"),
    }


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
        file_mount("manager-certs", _SSL_DIR, "root-ca.pem"),
        file_mount("manager-certs", _SSL_DIR, "filebeat.pem"),
        file_mount("manager-certs", _SSL_DIR, "filebeat-key.pem", "filebeat.key"),
        # The node type's own server certificate (master or worker) serves agent enrollment
        # (authd) and the API.
        file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", f"{node_type}.pem", "sslmanager.cert"),
        file_mount("manager-certs", f"{_CONFIG_MOUNT}/etc", f"{node_type}-key.pem", "sslmanager.key"),
        file_mount(
            "manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", f"{node_type}.pem", "server.crt"
        ),
        file_mount(
            "manager-certs", f"{_CONFIG_MOUNT}/api/configuration/ssl", f"{node_type}-key.pem", "server.key"
        ),
    ]
    volumes: list[dict[str, Any]] = [
        {"name": "wazuh-conf", "configMap": {"name": names.manager_conf}},
        secret_volume("manager-certs", names.manager_certs),
    ]
    env: list[dict[str, Any]] = [
        {"name": "INDEXER_URL", "value": indexer_url(names)},
        *credential_env("INDEXER", names.indexer_cred),
        {"name": "FILEBEAT_SSL_VERIFICATION_MODE", "value": "full"},
        {"name": "SSL_CERTIFICATE_AUTHORITIES", "value": CA_FILE},
        {"name": "SSL_CERTIFICATE", "value": FILEBEAT_CERT_FILE},
        {"name": "SSL_KEY", "value": FILEBEAT_KEY_FILE},
    ]
    if master:
        env += credential_env("API", names.api_cred)
        mounts.insert(1, file_mount("wazuh-authd-pass", f"{_CONFIG_MOUNT}/etc", "authd.pass"))
        volumes.append(secret_volume("wazuh-authd-pass", names.authd_pass))
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
        **pod_pull_settings(spec),
        "containers": [
            {
                "name": "wazuh-manager",
                "image": image(spec, "wazuh-manager"),
                "resources": resources_block(component_spec.resources, DEFAULT_RESOURCES["manager"]),
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
    config = {f"{node_type}.conf": ossec_conf(spec, names, node_type)}
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
            "persistentVolumeClaimRetentionPolicy": claim_retention(spec.deletion_policy),
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
