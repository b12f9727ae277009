"""The WazuhCluster spec: what a stack document may say, checked before anything exists.

Every rule that can be checked from the document alone is checked here, so a bad document is
rejected by the loader with file, line and field, and no resource of the stack is touched. Fields
first documented keep their names and defaults; later ones (``credentials``, ``createNamespace``,
``logRotation.image``) are optional additions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from components.common.spec import CronSchedule, DnsSubdomain, ResourceRequirements, SpecModel, StorageSize
from components.common.vault import parse_reference

DEFAULT_VERSION = "4.14.6"
DEFAULT_LOG_ROTATION_IMAGE = "alpine/k8s:1.33.4"

_VERSION = re.compile(r"^4\.(\d+)\.(\d+)([-.][0-9A-Za-z.-]+)?$")
# An image reference: [registry[:port]/]path[:tag][@digest], loosely (the registry validates fully).
_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9._/:-]*[a-z0-9])?(:[\w][\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$")


def _version(value: str) -> str:
    if not _VERSION.match(value):
        raise ValueError(
            f"{value!r} is not a Wazuh 4.x version (example: '4.14.6'); "
            "this component models the 4.x layout of wazuh-kubernetes"
        )
    return value


def _image(value: str) -> str:
    if not _IMAGE.match(value):
        raise ValueError(f"{value!r} is not a container image reference (example: 'alpine/k8s:1.33.4')")
    return value


def _vault_only(value: str) -> str:
    try:
        parse_reference(value)
    except ValueError:
        raise ValueError(
            "must be a vault://<mount>/<path>#<key> reference; literal credentials are not allowed in "
            "stack documents (leave the field out to have a password generated)"
        ) from None
    return value


M = TypeVar("M", bound=SpecModel)


def _defaults(model: type[M]) -> Callable[[], M]:
    """A default_factory: the block with every field at its default, validated like any input."""
    return lambda: model.model_validate({})


WazuhVersion = Annotated[str, AfterValidator(_version)]
Image = Annotated[str, AfterValidator(_image)]
VaultRef = Annotated[str, AfterValidator(_vault_only)]


class IndexerSpec(SpecModel):
    """The Wazuh indexer (OpenSearch) StatefulSet."""

    replicas: int = Field(3, ge=1, description="Indexer nodes; each gets its own volume and a SAN.")
    storage: StorageSize = Field("50Gi", description="Volume size per indexer node.")
    storage_class: DnsSubdomain | None = Field(None, description="StorageClass; null: the cluster default.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")


class ManagerMasterSpec(SpecModel):
    """The single Wazuh manager master node."""

    storage: StorageSize = Field("50Gi", description="Volume size of the master.")
    storage_class: DnsSubdomain | None = Field(None, description="StorageClass; null: the cluster default.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")


class ManagerWorkersSpec(SpecModel):
    """The Wazuh manager worker nodes, which receive agent events."""

    replicas: int = Field(2, ge=1, description="Worker nodes.")
    storage: StorageSize = Field("50Gi", description="Volume size per worker.")
    storage_class: DnsSubdomain | None = Field(None, description="StorageClass; null: the cluster default.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")


class ManagerSpec(SpecModel):
    """The Wazuh manager cluster: one master and its workers."""

    master: ManagerMasterSpec = Field(default_factory=_defaults(ManagerMasterSpec))
    workers: ManagerWorkersSpec = Field(default_factory=_defaults(ManagerWorkersSpec))


class DashboardSpec(SpecModel):
    """The Wazuh dashboard Deployment."""

    enabled: bool = Field(True, description="Deploy the dashboard.")
    replicas: int = Field(1, ge=1, description="Dashboard pods.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")


class CertificatesSpec(SpecModel):
    """Lifetimes of the CA and of the certificates it signs, and when to renew them."""

    ca_validity_hours: int = Field(87600, ge=1, description="Lifetime of the self-signed CA.")
    validity_hours: int = Field(8760, ge=1, description="Lifetime of every node and client certificate.")
    renew_before_hours: int = Field(
        720, ge=0, description="Renew a certificate (CA included) this many hours before it expires."
    )

    @field_validator("validity_hours")
    @classmethod
    def _within_ca(cls, value: int, info: ValidationInfo) -> int:
        ca = info.data.get("ca_validity_hours")
        if ca is not None and value > ca:
            raise ValueError(f"must be <= caValidityHours ({ca}): a certificate cannot outlive its CA")
        return value

    @field_validator("renew_before_hours")
    @classmethod
    def _before_expiry(cls, value: int, info: ValidationInfo) -> int:
        # A window as long as the lifetime would renew on every run: a replacement loop.
        validity = info.data.get("validity_hours")
        if validity is not None and value >= validity:
            raise ValueError(f"must be < validityHours ({validity}), or every run would renew")
        ca = info.data.get("ca_validity_hours")
        if ca is not None and value >= ca:
            raise ValueError(f"must be < caValidityHours ({ca}), or every run would renew the CA")
        return value


class LogRotationSpec(SpecModel):
    """A CronJob that deletes old alert and archive logs on every manager pod."""

    enabled: bool = Field(False, description="Create the CronJob.")
    schedule: CronSchedule = Field("0 0 * * *", description="Five-field cron schedule.")
    retention_days: int = Field(7, ge=1, description="Delete log files older than this many days.")
    image: Image = Field(DEFAULT_LOG_ROTATION_IMAGE, description="An image with /bin/sh and kubectl.")


class CredentialsSpec(SpecModel):
    """Where each credential comes from: a Vault reference, or (left out) a generated password."""

    indexer_admin: VaultRef | None = Field(None, description="Password of the indexer 'admin' user.")
    dashboard_user: VaultRef | None = Field(None, description="Password of the 'kibanaserver' user.")
    api_user: VaultRef | None = Field(None, description="Password of the Wazuh API 'wazuh-wui' user.")
    cluster_key: VaultRef | None = Field(None, description="Manager cluster key (32 characters).")
    authd_password: VaultRef | None = Field(None, description="Agent enrollment password.")


class WazuhClusterSpec(SpecModel):
    """``spec`` of a WazuhCluster document."""

    version: WazuhVersion = Field(DEFAULT_VERSION, description="Image tag of every Wazuh image.")
    indexer: IndexerSpec = Field(default_factory=_defaults(IndexerSpec))
    manager: ManagerSpec = Field(default_factory=_defaults(ManagerSpec))
    dashboard: DashboardSpec = Field(default_factory=_defaults(DashboardSpec))
    certificates: CertificatesSpec = Field(default_factory=_defaults(CertificatesSpec))
    log_rotation: LogRotationSpec = Field(default_factory=_defaults(LogRotationSpec))
    wait_for_ready: bool = Field(False, description="Let `up` wait for workloads to become ready.")
    credentials: CredentialsSpec = Field(default_factory=_defaults(CredentialsSpec))
    create_namespace: bool = Field(True, description="Create the target namespace (false: it exists).")
