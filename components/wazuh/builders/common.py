"""What every part's objects share: labels, the hashes that roll pods, container snippets, and the
plain objects (Namespace, Secret, ConfigMap) that carry no logic of their own.

The part modules build their workloads from these pieces, so a label, a mount or a probe is
spelled the same way in every pod.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

from components.common.objects import labels as standard_labels
from components.common.objects import object_meta, volume_claim_spec
from components.wazuh.builders.names import Names
from components.wazuh.heap import DEFAULT_MEMORY_LIMIT
from components.wazuh.spec import WazuhClusterSpec

# A str in tests, a pulumi Output[str] when the component calls a builder.
Deferred = Any

PART_OF = "wazuh"
CERT_HASH_ANNOTATION = "driftless.dev/cert-hash"
CONFIG_HASH_ANNOTATION = "driftless.dev/config-hash"
CREDENTIALS_HASH_ANNOTATION = "driftless.dev/credentials-hash"
NODE_TYPE_LABEL = "app.kubernetes.io/component"

# Upstream's default resources, used when the spec gives none.
DEFAULT_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "indexer": {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": DEFAULT_MEMORY_LIMIT},
    },
    "manager": {"requests": {"cpu": "200m", "memory": "256Mi"}, "limits": {"cpu": "400m", "memory": "512Mi"}},
    "dashboard": {"requests": {"cpu": "200m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "1Gi"}},
}


# --- hashes ------------------------------------------------------------------------------------


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


def credentials_hash(key: bytes, values: Sequence[str]) -> str:
    """HMAC-SHA256 over the credentials one pod reads, keyed with a secret key: the pod template
    annotation that rolls the pod when one of them changes (a Vault rotation, say).

    The annotation is no secret, so it must not help anyone guess a credential: a plain hash of
    a weak password taken from Vault could be brute-forced offline from the annotation. Keyed with
    32 random bytes that exist only in the Pulumi state (a secret there), it reveals nothing
    about the values, only whether they changed.
    """
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for value in values:
        mac.update(value.encode())
        mac.update(b"\0")  # so ["ab", "c"] and ["a", "bc"] differ
    return f"hmac-sha256:{mac.hexdigest()}"


# --- labels and metadata -----------------------------------------------------------------------


def component_labels(names: Names, component: str, node_type: str | None = None) -> dict[str, str]:
    extra = {NODE_TYPE_LABEL: node_type} if node_type else None
    return standard_labels(names.name, component, PART_OF, extra)


def selector(names: Names, component: str, node_type: str | None = None) -> dict[str, str]:
    """The labels a workload selects its pods by (a subset of ``component_labels``; immutable)."""
    result = {"app.kubernetes.io/name": component, "app.kubernetes.io/instance": names.name}
    if node_type:
        result[NODE_TYPE_LABEL] = node_type
    return result


def workload_meta(
    names: Names, name: str, component: str, node_type: str | None, annotations: Mapping[str, str]
) -> dict[str, Any]:
    return object_meta(name, names.namespace, component_labels(names, component, node_type), annotations)


def pod_template(
    names: Names,
    component: str,
    node_type: str | None,
    cert_hash_value: Deferred,
    config: Mapping[str, str],
    pod_spec: dict[str, Any],
    credentials_hash_value: Deferred | None = None,
) -> dict[str, Any]:
    """A pod template annotated so it rolls when its certificates, its configuration or (given
    ``credentials_hash_value``) the credentials it reads change."""
    annotations = {CERT_HASH_ANNOTATION: cert_hash_value, CONFIG_HASH_ANNOTATION: config_hash(config)}
    if credentials_hash_value is not None:
        annotations[CREDENTIALS_HASH_ANNOTATION] = credentials_hash_value
    return {
        "metadata": {"labels": component_labels(names, component, node_type), "annotations": annotations},
        "spec": pod_spec,
    }


# --- containers --------------------------------------------------------------------------------


def pulled_from(registry: str | None, reference: str) -> str:
    """``reference`` pulled from ``registry`` (the spec's imageRegistry), unless it names its own.

    The first path component names a registry when it has a dot or a port, or is ``localhost``,
    as Docker reads a reference; ``wazuh/wazuh-indexer`` and ``busybox`` are Docker Hub's.
    """
    first, slash, _ = reference.partition("/")
    names_registry = bool(slash) and ("." in first or ":" in first or first == "localhost")
    if registry is None or names_registry:
        return reference
    return f"{registry}/{reference}"


def image(spec: WazuhClusterSpec, repository: str) -> str:
    """A Wazuh image at the spec's version, from the spec's registry."""
    return pulled_from(spec.image_registry, f"wazuh/{repository}:{spec.version}")


def pod_pull_settings(spec: WazuhClusterSpec) -> dict[str, Any]:
    """The ``imagePullSecrets`` of every pod spec, when the spec names any."""
    if not spec.image_pull_secrets:
        return {}
    return {"imagePullSecrets": [{"name": name} for name in spec.image_pull_secrets]}


# Secret files readable by their owner only, as upstream mounts the indexer's certificates. With the
# pod's fsGroup the kubelet adds group read, so a container running as that group reads them too.
SECRET_FILE_MODE = 0o600


def secret_volume(volume: str, secret_name: str) -> dict[str, Any]:
    return {"name": volume, "secret": {"secretName": secret_name, "defaultMode": SECRET_FILE_MODE}}


def secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def credential_env(prefix: str, secret: str) -> list[dict[str, Any]]:
    """``<prefix>_USERNAME`` and ``<prefix>_PASSWORD`` from a ``credential_secret``."""
    return [
        secret_env(f"{prefix}_USERNAME", secret, "username"),
        secret_env(f"{prefix}_PASSWORD", secret, "password"),
    ]


def file_mount(volume: str, directory: str, key: str, as_name: str | None = None) -> dict[str, Any]:
    return {"name": volume, "mountPath": f"{directory}/{as_name or key}", "subPath": key, "readOnly": True}


def claim_template(claim: str, storage: str, storage_class: str | None) -> dict[str, Any]:
    return {"metadata": {"name": claim}, "spec": volume_claim_spec(storage, storage_class)}


def claim_retention(deletion_policy: str) -> dict[str, str]:
    """A StatefulSet's ``persistentVolumeClaimRetentionPolicy`` for the spec's deletionPolicy.

    Scaling down always keeps the claims: a node scaled away and back finds its data again.
    """
    return {"whenDeleted": deletion_policy, "whenScaled": "Retain"}


def tcp_probe(port: int, initial: int, period: int, failures: int) -> dict[str, Any]:
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": initial,
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


# --- plain objects -----------------------------------------------------------------------------


def namespace(names: Names) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": object_meta(names.namespace, None, standard_labels(names.name, "namespace", PART_OF)),
    }


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


def config_map(names: Names, name: str, component: str, data: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(name, names.namespace, component_labels(names, component)),
        "data": dict(data),
    }
