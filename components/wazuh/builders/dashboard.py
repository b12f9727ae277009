"""The dashboard: its opensearch_dashboards.yml and its Deployment.

The file and the pod share one certificate directory: the dashboard serves HTTPS with its own
certificate and verifies the indexer's against the mounted CA.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from components.common.objects import resources_block
from components.wazuh.builders.common import (
    DEFAULT_RESOURCES,
    Deferred,
    credential_env,
    file_mount,
    image,
    pod_pull_settings,
    pod_template,
    selector,
    tcp_probe,
    workload_meta,
)
from components.wazuh.builders.names import DASHBOARD_PORT, Names, indexer_url
from components.wazuh.spec import WazuhClusterSpec

_CERTS_DIR = "/usr/share/wazuh-dashboard/certs"


def opensearch_dashboards_yml(names: Names) -> str:
    """The dashboard's configuration: HTTPS with its own certificate, the indexer verified in full."""
    settings: dict[str, Any] = {
        "server.host": "0.0.0.0",
        "server.port": DASHBOARD_PORT,
        "opensearch.hosts": indexer_url(names),
        # The indexer's certificate names its client Service, so the hostname can be verified.
        "opensearch.ssl.verificationMode": "full",
        "opensearch.requestHeadersWhitelist": ["authorization", "securitytenant"],
        "opensearch_security.multitenancy.enabled": False,
        "opensearch_security.readonly_mode.roles": ["kibana_read_only"],
        "server.ssl.enabled": True,
        "server.ssl.key": f"{_CERTS_DIR}/key.pem",
        "server.ssl.certificate": f"{_CERTS_DIR}/cert.pem",
        "opensearch.ssl.certificateAuthorities": [f"{_CERTS_DIR}/root-ca.pem"],
        "uiSettings.overrides.defaultRoute": "/app/wz-home",
    }
    return yaml.safe_dump(settings, sort_keys=False)


def dashboard_config_data(names: Names) -> dict[str, str]:
    return {"opensearch_dashboards.yml": opensearch_dashboards_yml(names)}


def dashboard_deployment(
    spec: WazuhClusterSpec,
    names: Names,
    cert_hash_value: Deferred,
    await_annotations: Mapping[str, str],
    credentials_hash_value: Deferred | None = None,
) -> dict[str, Any]:
    """The dashboard Deployment, talking to the indexer and to the master's API."""
    container = {
        "name": "wazuh-dashboard",
        "image": image(spec, "wazuh-dashboard"),
        "resources": resources_block(spec.dashboard.resources, DEFAULT_RESOURCES["dashboard"]),
        "volumeMounts": [
            file_mount("config", "/usr/share/wazuh-dashboard/config", "opensearch_dashboards.yml"),
            file_mount("dashboard-certs", _CERTS_DIR, "cert.pem"),
            file_mount("dashboard-certs", _CERTS_DIR, "key.pem"),
            file_mount("dashboard-certs", _CERTS_DIR, "root-ca.pem"),
        ],
        "ports": [{"name": "dashboard", "containerPort": DASHBOARD_PORT}],
        "env": [
            {"name": "INDEXER_URL", "value": indexer_url(names)},
            *credential_env("INDEXER", names.indexer_cred),
            *credential_env("DASHBOARD", names.dashboard_cred),
            {"name": "SERVER_SSL_ENABLED", "value": "true"},
            {"name": "SERVER_SSL_CERTIFICATE", "value": f"{_CERTS_DIR}/cert.pem"},
            {"name": "SERVER_SSL_KEY", "value": f"{_CERTS_DIR}/key.pem"},
            {"name": "WAZUH_API_URL", "value": f"https://{names.fqdn(names.master_host)}"},
            *credential_env("API", names.api_cred),
        ],
        "readinessProbe": tcp_probe(DASHBOARD_PORT, initial=30, period=10, failures=6),
        "livenessProbe": tcp_probe(DASHBOARD_PORT, initial=120, period=30, failures=5),
    }
    pod_spec = {
        **pod_pull_settings(spec),
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": names.dashboard_conf}},
            {"name": "dashboard-certs", "secret": {"secretName": names.dashboard_certs}},
        ],
    }
    config = dashboard_config_data(names)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": workload_meta(names, names.dashboard, "wazuh-dashboard", None, await_annotations),
        "spec": {
            "replicas": spec.dashboard.replicas,
            "selector": {"matchLabels": selector(names, "wazuh-dashboard")},
            "template": pod_template(
                names, "wazuh-dashboard", None, cert_hash_value, config, pod_spec, credentials_hash_value
            ),
        },
    }
