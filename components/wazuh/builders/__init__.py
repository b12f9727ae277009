"""Pure builders: a WazuhCluster spec in, plain Kubernetes objects (camelCase dicts) out.

Nothing here imports Pulumi. Values that only exist at deploy time (certificate PEMs, passwords,
certificate hashes) are parameters: tests pass strings, the component passes Pulumi Outputs, and
the builders only place them. The layout follows upstream wazuh/wazuh-kubernetes v4.14.6, with
every object name prefixed by the document name so two clusters
can share a namespace, and with one Secret per consumer so each pod mounts only its own keys.

One module per part of the cluster, each with the configuration files its pods read, so a path
or port that a file and a pod must agree on is written in one module:

- :mod:`.names`: object and DNS names, ports, user names, certificate subjects;
- :mod:`.common`: labels, the pod-rolling hashes, container snippets, Namespace/Secret/ConfigMap;
- :mod:`.services`: every Service;
- :mod:`.indexer`: opensearch.yml, internal_users.yml and the indexer StatefulSet;
- :mod:`.manager`: ossec.conf and the master and worker StatefulSets;
- :mod:`.dashboard`: opensearch_dashboards.yml and the dashboard Deployment;
- :mod:`.log_rotation`: the CronJob that deletes old manager logs, and its RBAC;
- :mod:`.indexer_users`: the Job loading rotated indexer users through the security REST API.

What the component and the certificates need is importable from the package itself.
"""

from __future__ import annotations

from components.wazuh.builders.common import (
    CERT_HASH_ANNOTATION,
    CONFIG_HASH_ANNOTATION,
    CREDENTIALS_HASH_ANNOTATION,
    cert_hash,
    config_map,
    credential_secret,
    credentials_hash,
    namespace,
    secret,
)
from components.wazuh.builders.dashboard import dashboard_config_data, dashboard_deployment
from components.wazuh.builders.indexer import (
    indexer_config_data,
    indexer_statefulset,
    internal_users_yml,
    opensearch_yml,
)
from components.wazuh.builders.indexer_users import indexer_users_job, internal_users_patch, users_request
from components.wazuh.builders.log_rotation import log_rotation_objects, log_rotation_script
from components.wazuh.builders.manager import (
    manager_config_data,
    manager_master_statefulset,
    manager_worker_statefulset,
    ossec_conf,
)
from components.wazuh.builders.names import (
    API_USER,
    DASHBOARD_USER,
    INDEXER_ADMIN_USER,
    ORGANIZATION,
    Names,
    service_names,
)
from components.wazuh.builders.services import services

__all__ = [
    "API_USER",
    "CERT_HASH_ANNOTATION",
    "CONFIG_HASH_ANNOTATION",
    "CREDENTIALS_HASH_ANNOTATION",
    "DASHBOARD_USER",
    "INDEXER_ADMIN_USER",
    "ORGANIZATION",
    "Names",
    "cert_hash",
    "config_map",
    "credential_secret",
    "credentials_hash",
    "dashboard_config_data",
    "dashboard_deployment",
    "indexer_config_data",
    "indexer_statefulset",
    "indexer_users_job",
    "internal_users_patch",
    "internal_users_yml",
    "log_rotation_objects",
    "log_rotation_script",
    "manager_config_data",
    "manager_master_statefulset",
    "manager_worker_statefulset",
    "namespace",
    "opensearch_yml",
    "ossec_conf",
    "secret",
    "service_names",
    "services",
    "users_request",
]
