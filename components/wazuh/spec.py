"""The WazuhCluster spec: what a stack document may say, checked before anything exists.

Every rule that can be checked from the document alone is checked here, so a bad document is
rejected by the loader with file, line and field, and no resource of the stack is touched. Fields
first documented keep their names and defaults; later ones (``credentials``, ``createNamespace``,
``logRotation.image``) are optional additions.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Annotated, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from components.common.spec import (
    CronSchedule,
    DnsSubdomain,
    ResourceRequirements,
    SpecModel,
    StorageSize,
    is_dns_subdomain,
)
from components.common.vault import parse_reference
from components.wazuh.heap import DEFAULT_MEMORY_LIMIT, heap_problem, jvm_size_bytes

DEFAULT_VERSION = "4.14.6"
DEFAULT_LOG_ROTATION_IMAGE = "alpine/k8s:1.33.4"
CLUSTER_DOMAIN = "cluster.local"

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


# registry host[:port], then an optional path: where every image is pulled from instead.
_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$")
_SAN = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _registry(value: str) -> str:
    if not _REGISTRY.match(value):
        raise ValueError(
            f"{value!r} is not an image registry prefix (host[:port][/path], no tag, no trailing '/'; "
            "example: 'registry.corp.com/mirror')"
        )
    return value


def _san(value: str) -> str:
    if len(value) > 253 or not _SAN.match(value):
        raise ValueError(
            f"{value!r} is not a DNS name for a certificate (lowercase, dot-separated labels, "
            "optionally starting with '*.'; example: 'siem.corp.com')"
        )
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
ImageRegistry = Annotated[str, AfterValidator(_registry)]
SubjectAltName = Annotated[str, AfterValidator(_san)]
Image = Annotated[str, AfterValidator(_image)]
VaultRef = Annotated[str, AfterValidator(_vault_only)]


def _jvm_size(value: str) -> str:
    jvm_size_bytes(value)
    return value


JvmSize = Annotated[str, AfterValidator(_jvm_size)]


class IndexerSpec(SpecModel):
    """The Wazuh indexer (OpenSearch) StatefulSet."""

    replicas: int = Field(3, ge=1, description="Indexer nodes; each gets its own volume and a SAN.")
    storage: StorageSize = Field("50Gi", description="Volume size per indexer node.")
    storage_class: DnsSubdomain | None = Field(None, description="StorageClass; null: the cluster default.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")
    java_heap: JvmSize | None = Field(
        None,
        description=(
            "JVM heap (-Xms and -Xmx), e.g. 2g or 1536m; at most 75% of the memory limit. "
            "null: half the memory limit (or request; upstream's limit without resources), at most 31g."
        ),
    )
    allow_unsafe_scale_down: bool = Field(
        False,
        description=(
            "Allow lowering replicas by more than one from the count last applied, or below a majority of "
            "the applied nodes (every indexer node is cluster-manager-eligible): either can lose the "
            "cluster's quorum or shards whose replicas were all on the removed nodes."
        ),
    )

    @field_validator("java_heap")
    @classmethod
    def _fits_the_limit(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or "resources" not in info.data:  # no heap given, or resources invalid
            return value
        resources = info.data["resources"]
        limit = DEFAULT_MEMORY_LIMIT if resources is None else (resources.limits or {}).get("memory")
        if limit is not None:
            problem = heap_problem(value, limit)
            if problem:
                raise ValueError(problem)
        return value


NODE_PORT_RANGE = (30000, 32767)  # the API server's default --service-node-port-range


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR block (example: '203.0.113.0/24'): {exc}") from None
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]

_ANNOTATION_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")


def _annotation_keys(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        prefix, _, name = key.rpartition("/")
        if not _ANNOTATION_NAME.match(name) or (prefix and not is_dns_subdomain(prefix)):
            raise ValueError(
                f"{key!r} is not an annotation key ([prefix/]name: a DNS subdomain, then up to 63 "
                "letters, digits, '-', '_' or '.')"
            )
    return value


Annotations = Annotated[dict[str, str], AfterValidator(_annotation_keys)]


class ServiceSpec(SpecModel):
    """How a client Service is exposed outside the cluster. The port names ``nodePorts`` takes are
    the subclass's ``PORTS``."""

    PORTS: ClassVar[tuple[str, ...]] = ()

    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        "LoadBalancer",
        description="Service type; LoadBalancer, as upstream, reaches it from outside the cluster.",
    )
    annotations: Annotations = Field(
        default_factory=dict, description="Annotations of the Service, e.g. for a cloud load balancer."
    )
    load_balancer_source_ranges: list[Cidr] = Field(
        default_factory=list,
        description="Client CIDR blocks a LoadBalancer accepts (empty: any); only with type LoadBalancer.",
    )
    node_ports: dict[str, int] = Field(
        default_factory=dict,
        description="Fixed node port by Service port name (30000-32767); only with NodePort or LoadBalancer.",
    )

    @field_validator("load_balancer_source_ranges")
    @classmethod
    def _only_for_load_balancers(cls, value: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("type")
        if value and kind is not None and kind != "LoadBalancer":
            raise ValueError(f"only a LoadBalancer Service takes source ranges, this one is {kind}")
        return value

    @field_validator("node_ports")
    @classmethod
    def _node_ports(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        kind = info.data.get("type")
        if value and kind == "ClusterIP":
            raise ValueError("a ClusterIP Service has no node ports (type NodePort or LoadBalancer has)")
        problems = []
        for port, number in value.items():
            if port not in cls.PORTS:
                problems.append(f"{port!r} is not a port of this Service (ports: {', '.join(cls.PORTS)})")
            elif not NODE_PORT_RANGE[0] <= number <= NODE_PORT_RANGE[1]:
                low, high = NODE_PORT_RANGE
                problems.append(f"{port}: {number} is outside the node port range {low}-{high}")
        numbers = list(value.values())
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        if repeated:
            problems.append(f"node port {repeated[0]} is given to two ports")
        if problems:
            raise ValueError("; ".join(problems))
        return value


class ManagerServiceSpec(ServiceSpec):
    """The manager's client Services: the workers' (agent events, 1514) and the master's (agent
    registration, 1515, and the API, 55000)."""

    PORTS: ClassVar[tuple[str, ...]] = ("agents-events", "registration", "api")


class DashboardServiceSpec(ServiceSpec):
    """The dashboard's Service (HTTPS on 443)."""

    PORTS: ClassVar[tuple[str, ...]] = ("dashboard",)


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


def _ossec_config_fragment(value: str) -> str:
    """Blocks for one more ``<ossec_config>`` element: well-formed XML, and not the element itself."""
    if "<!DOCTYPE" in value or "<!ENTITY" in value:
        raise ValueError("must not declare a DOCTYPE or entities; ossec.conf uses neither")
    try:
        # The fragment's first line follows the wrapper's opening line, hence the offset below.
        root = ET.fromstring(f"<ossec_config>\n{value}\n</ossec_config>")
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        fragment_line = line - 1
        if fragment_line > value.count("\n") + 1:  # on the wrapper's closing line: left open
            where = "at its end (an element left open?)"
        else:
            where = f"at line {max(fragment_line, 1)}, column {column + 1} of the fragment"
        raise ValueError(f"is not well-formed XML ({reason}) {where}") from None
    if root.find("ossec_config") is not None:
        raise ValueError(
            "give the blocks that go inside <ossec_config> (e.g. <localfile>...</localfile>); "
            "it is wrapped in its own <ossec_config> element"
        )
    return value


OssecConfigFragment = Annotated[str, AfterValidator(_ossec_config_fragment)]


class ManagerSpec(SpecModel):
    """The Wazuh manager cluster: one master and its workers."""

    master: ManagerMasterSpec = Field(default_factory=_defaults(ManagerMasterSpec))
    workers: ManagerWorkersSpec = Field(default_factory=_defaults(ManagerWorkersSpec))
    service: ManagerServiceSpec = Field(
        default_factory=_defaults(ManagerServiceSpec),
        description=(
            "How agents reach the managers: the workers' Service (agent events, port name "
            "agents-events) and the master's (registration and api) share these settings."
        ),
    )
    extra_config: OssecConfigFragment | None = Field(
        None,
        description=(
            "XML blocks appended to every manager's ossec.conf as one more <ossec_config> element, "
            "e.g. <localfile> or <integration> blocks; checked to be well-formed XML."
        ),
    )


class DashboardSpec(SpecModel):
    """The Wazuh dashboard Deployment."""

    enabled: bool = Field(True, description="Deploy the dashboard.")
    replicas: int = Field(1, ge=1, description="Dashboard pods.")
    resources: ResourceRequirements | None = Field(None, description="Container resources; null: upstream's.")
    service: DashboardServiceSpec = Field(
        default_factory=_defaults(DashboardServiceSpec),
        description="How users reach the dashboard (port name dashboard, HTTPS on 443).",
    )


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
    image_registry: ImageRegistry | None = Field(
        None,
        description=(
            "Registry (and path) every image is pulled from, init containers and log rotation "
            "included, e.g. registry.corp.com/mirror; an image that already names a registry "
            "is left as it is. null: Docker Hub."
        ),
    )
    image_pull_secrets: list[DnsSubdomain] = Field(
        default_factory=list, description="Names of existing Secrets every pod pulls its images with."
    )
    cluster_domain: DnsSubdomain = Field(
        CLUSTER_DOMAIN, description="The cluster's DNS domain, in every pod DNS name and certificate."
    )
    extra_sans: list[SubjectAltName] = Field(
        default_factory=list,
        alias="extraSANs",
        description=(
            "External DNS names of the manager and the dashboard (their load balancers), added "
            "to the manager and dashboard certificates."
        ),
    )
    deletion_policy: Literal["Retain", "Delete"] = Field(
        "Retain",
        description=(
            "What removing the document does. Retain: the namespace, the volumes (PVCs) and the "
            "credential Secrets stay in the cluster, everything else goes; Delete: everything goes, "
            "data included."
        ),
    )
