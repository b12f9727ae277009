"""What the parts of one WazuhCluster call each other: object names, DNS names, ports, users, DNs.

Every object name is prefixed with the document name so two clusters can share a namespace. The
ports and user names are upstream's (wazuh/wazuh-kubernetes); the certificates, the Services, the
containers and the configuration files all refer to them, so they are written down once, here.
"""

from __future__ import annotations

from dataclasses import dataclass

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

# Distinguished names: OpenSearch matches nodes_dn and admin_dn against these, in RFC 4514 order.
ORGANIZATION = "Wazuh"

# Kubernetes limits on the names derived from the document name (every other object name may
# have 253 characters, far more than a document name's 63 plus any suffix here).
SERVICE_NAME_MAX = 63  # a Service name is a DNS-1035 label: a letter first, at most 63 characters
# A StatefulSet labels its pods "controller-revision-hash: <name>-<hash of up to 10 characters>",
# and a label value has at most 63 characters.
STATEFULSET_NAME_MAX = 52
CRONJOB_NAME_MAX = 52  # the API server's own limit: its Jobs are "<name>-<11-digit schedule time>"
JOB_NAME_MAX = 63  # a Job labels its pods "job-name: <name>", and a label value has at most 63
# The part of a credentials hash that names the Job loading the indexer users it hashes.
JOB_HASH_LENGTH = 10


@dataclass(frozen=True)
class Names:
    """Every Kubernetes name of one WazuhCluster, derived from its document name and namespace."""

    name: str
    namespace: str
    cluster_domain: str = "cluster.local"

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

    @property
    def indexer_users(self) -> str:
        return f"{self.name}-indexer-users"

    def indexer_users_job(self, credentials_hash: str) -> str:
        """The Job loading the indexer users whose passwords ``credentials_hash`` hashes: a new
        password, a new Job, and each password is loaded by exactly one."""
        digest = credentials_hash.rpartition(":")[2]
        return f"{self.indexer_users}-{digest[:JOB_HASH_LENGTH]}"

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

    # Limits
    def limited(self) -> list[tuple[str, str, int]]:
        """``(kind, name, longest allowed)`` for every derived name with a limit of its own."""
        services = (
            self.indexer,
            self.indexer_api,
            self.manager_cluster,
            self.manager,
            self.manager_workers,
            self.dashboard,
        )
        return [
            *(("Service", service, SERVICE_NAME_MAX) for service in services),
            *(
                ("StatefulSet", workload, STATEFULSET_NAME_MAX)
                for workload in (self.indexer, self.manager_master, self.manager_worker)
            ),
            ("CronJob", self.log_rotation, CRONJOB_NAME_MAX),
            ("Job", self.indexer_users_job("0" * JOB_HASH_LENGTH), JOB_NAME_MAX),
        ]

    # DNS
    def fqdn(self, host: str) -> str:
        """``host`` (a Service, or ``<pod>.<headless service>``) qualified with namespace and domain."""
        return f"{host}.{self.namespace}.svc.{self.cluster_domain}"

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


def indexer_url(names: Names) -> str:
    """Where the managers and the dashboard reach the indexer: its client Service, over HTTPS."""
    return f"https://{names.indexer_api}:{INDEXER_REST_PORT}"


def subject_dn(common_name: str, organizational_unit: str) -> str:
    """The RFC 4514 string of a certificate subject, as opensearch.yml lists it."""
    return f"CN={common_name},OU={organizational_unit},O={ORGANIZATION}"


def longest_document_name() -> tuple[int, str, str]:
    """The longest document name whose every derived name fits: ``(length, kind, suffix)`` of the
    derived name that sets it, computed from the suffixes :class:`Names` actually appends."""
    probe = Names("", "")
    return min((limit - len(derived), kind, derived) for kind, derived, limit in probe.limited())
