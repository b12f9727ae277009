"""A small client of the sandbox's Kubernetes API, for checking what the engine really did."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests
import yaml

# kind -> (API path prefix, plural, namespaced), for every kind the engine tests look at.
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("api/v1", "namespaces", False),
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Secret": ("api/v1", "secrets", True),
    "ConfigMap": ("api/v1", "configmaps", True),
    "Service": ("api/v1", "services", True),
    "PersistentVolumeClaim": ("api/v1", "persistentvolumeclaims", True),
    "Deployment": ("apis/apps/v1", "deployments", True),
    "StatefulSet": ("apis/apps/v1", "statefulsets", True),
    "CronJob": ("apis/batch/v1", "cronjobs", True),
    "Job": ("apis/batch/v1", "jobs", True),
    "Ingress": ("apis/networking.k8s.io/v1", "ingresses", True),
    "Role": ("apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "Kafka": ("apis/kafka.strimzi.io/v1", "kafkas", True),
    "KafkaNodePool": ("apis/kafka.strimzi.io/v1", "kafkanodepools", True),
    "ClickHouseInstallation": ("apis/clickhouse.altinity.com/v1", "clickhouseinstallations", True),
    "ClickHouseKeeperInstallation": (
        "apis/clickhouse-keeper.altinity.com/v1",
        "clickhousekeeperinstallations",
        True,
    ),
    "Tenant": ("apis/minio.min.io/v2", "tenants", True),
    "Redis": ("apis/redis.redis.opstreelabs.in/v1beta2", "redis", True),
    "PerconaServerMySQL": ("apis/ps.percona.com/v1", "perconaservermysqls", True),
    "Image": ("apis/kpack.io/v1alpha2", "images", True),
    "Certificate": ("apis/cert-manager.io/v1", "certificates", True),
    "ClusterIssuer": ("apis/cert-manager.io/v1", "clusterissuers", False),
}


class KubeApi:
    def __init__(self, kubeconfig: Path):
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self.server = cluster["server"].rstrip("/")
        self.session = requests.Session()
        ca = kubeconfig.with_name("kubeconfig-ca.crt")
        ca.write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
        self.session.verify = str(ca)
        self.session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace the sandbox CA
        if "token" in user:
            self.session.headers["Authorization"] = f"Bearer {user['token']}"

    def url(self, kind: str, namespace: str | None = None, name: str | None = None) -> str:
        prefix, plural, namespaced = KINDS[kind]
        path = f"{self.server}/{prefix}"
        if namespaced and namespace:
            path += f"/namespaces/{namespace}"
        path += f"/{plural}"
        return f"{path}/{name}" if name else path

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        response = self.session.get(self.url(kind, namespace), timeout=30)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return list(response.json()["items"])

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        response = self.session.get(self.url(kind, namespace, name), timeout=30)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def create(self, kind: str, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        response = self.session.post(self.url(kind, namespace), json=body, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def merge_patch(
        self,
        kind: str,
        name: str,
        patch: dict[str, Any],
        namespace: str | None = None,
        *,
        subresource: str = "",
    ) -> None:
        """A JSON merge patch; ``subresource="status"`` writes status as the object's controller would."""
        response = self.session.patch(
            self.url(kind, namespace, name) + (f"/{subresource}" if subresource else ""),
            json=patch,
            headers={"Content-Type": "application/merge-patch+json"},
            timeout=30,
        )
        response.raise_for_status()

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        response = self.session.delete(
            self.url(kind, namespace, name), json={"propagationPolicy": "Background"}, timeout=30
        )
        if response.status_code != 404:
            response.raise_for_status()

    def wait_gone(self, kind: str, name: str, namespace: str | None = None, timeout: float = 90) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(kind, name, namespace) is None:
                return True
            time.sleep(0.5)
        return False

    def objects(
        self, kinds: Iterator[str] | list[str], namespace: str | None = None
    ) -> set[tuple[str, str, str]]:
        """(kind, namespace, name) of every object of these kinds that driftless manages."""
        found = set()
        for kind in kinds:
            for item in self.list(kind, namespace):
                meta = item["metadata"]
                if (
                    meta.get("labels", {}).get("app.kubernetes.io/managed-by") == "pulumi"
                    or meta.get("labels", {}).get("app.kubernetes.io/managed-by") == "driftless"
                ):
                    found.add((kind, meta.get("namespace", ""), meta["name"]))
        return found
