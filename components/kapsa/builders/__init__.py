"""Pure builders: a Project's pieces as plain Kubernetes objects (camelCase dicts), no Pulumi.

The component decides *what* exists (which branches build, which environments and previews run,
which image each runs); these functions only say what each object looks like. Values that only
exist at deploy time (an image chosen from a live build status, copied secret data) are passed in
as they are, so the same builder serves tests with plain strings and the component with Outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from components.common.objects import labels, object_meta
from components.common.spec import ResourceRequirements
from components.kapsa.spec import SecretRef

PART_OF = "kapsa"
COMPONENT = "application"
CONTAINER = "app"
PORT_NAME = "http"
SERVICE_PORT = 80

TYPE_LABEL = "kapsa.dev/type"
BRANCH_LABEL = "kapsa.dev/branch"
PROJECT_LABEL = "kapsa.dev/project"
ENVIRONMENT_LABEL = "kapsa.dev/environment"
EXPIRES_ANNOTATION = "kapsa.dev/expires-at"

PERMANENT = "permanent"
PREVIEW = "preview"

DOCKER_CONFIG_TYPE = "kubernetes.io/dockerconfigjson"
GIT_CREDENTIALS_TYPES = ("kubernetes.io/basic-auth", "kubernetes.io/ssh-auth")
GIT_CREDENTIALS_SECRET = "git-credentials"  # the copy's name in the project's namespace
KPACK_GIT_ANNOTATION = "kpack.io/git"
KPACK_API_VERSION = "kpack.io/v1alpha2"
CERT_MANAGER_API_VERSION = "cert-manager.io/v1"


def host_for(environment: str, project: str, base_domain: str) -> str:
    """``<env>.<project>.<baseDomain>`` (a preview's environment name is its branch slug)."""
    return f"{environment}.{project}.{base_domain}"


def tls_secret_name(environment: str) -> str:
    """The Secret cert-manager writes the environment's certificate into (and its Certificate's name)."""
    return f"{environment}-tls"


@dataclass(frozen=True)
class Workload:
    """One environment or preview: everything its Deployment, Service, Ingress and Certificate need."""

    name: str  # environment name or branch slug; names every object of the environment
    type: str  # PERMANENT | PREVIEW
    branch: str
    branch_slug: str
    host: str
    replicas: int
    secret_refs: tuple[SecretRef, ...] = ()
    resources: ResourceRequirements | None = None
    expires_at: datetime | None = None


def project_labels(project: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels of every object of a project."""
    return labels(project, COMPONENT, PART_OF, {PROJECT_LABEL: project, **(extra or {})})


def workload_labels(project: str, workload: Workload) -> dict[str, str]:
    """Labels saying which project, environment, type (permanent | preview) and branch."""
    return project_labels(
        project,
        {ENVIRONMENT_LABEL: workload.name, TYPE_LABEL: workload.type, BRANCH_LABEL: workload.branch_slug},
    )


def selector(project: str, workload: Workload) -> dict[str, str]:
    """The labels that pick an environment's pods (stable across image and branch changes)."""
    return {"app.kubernetes.io/instance": project, ENVIRONMENT_LABEL: workload.name}


def namespace(name: str, project: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": object_meta(name, None, project_labels(project)),
    }


def registry_credentials(namespace_name: str, secret_name: str, project: str, data: Any) -> dict[str, Any]:
    """The project's copy of the registry's docker-registry Secret (``data`` stays a secret)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(secret_name, namespace_name, project_labels(project)),
        "type": DOCKER_CONFIG_TYPE,
        "data": data,
    }


def git_credentials(
    namespace_name: str, project: str, kpack_git: str, secret_type: Any, data: Any
) -> dict[str, Any]:
    """The project's copy of its git credentials Secret, annotated for kpack (``data`` stays a secret)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(
            GIT_CREDENTIALS_SECRET, namespace_name, project_labels(project), {KPACK_GIT_ANNOTATION: kpack_git}
        ),
        "type": secret_type,
        "data": data,
    }


def service_account(
    namespace_name: str,
    name: str,
    project: str,
    credentials_secret: str,
    git_credentials_secret: str | None = None,
) -> dict[str, Any]:
    """One account for kpack (pushes and clones with ``secrets``) and for the pods (pull with
    ``imagePullSecrets``)."""
    secrets = [credentials_secret] + ([git_credentials_secret] if git_credentials_secret else [])
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": object_meta(name, namespace_name, project_labels(project)),
        "secrets": [{"name": secret} for secret in secrets],
        "imagePullSecrets": [{"name": credentials_secret}],
    }


def kpack_image(
    *,
    name: str,
    namespace_name: str,
    project: str,
    branch: str,
    branch_slug: str,
    tag: str,
    git_url: str,
    revision: str,
    cluster_builder: str,
    service_account_name: str,
) -> dict[str, Any]:
    """A kpack ``Image`` building one branch at one commit (kpack rebuilds when revision moves)."""
    return {
        "apiVersion": KPACK_API_VERSION,
        "kind": "Image",
        "metadata": object_meta(
            name,
            namespace_name,
            project_labels(project, {BRANCH_LABEL: branch_slug}),
            {"kapsa.dev/branch-name": branch},
        ),
        "spec": {
            "tag": tag,
            "serviceAccountName": service_account_name,
            "builder": {"kind": "ClusterBuilder", "name": cluster_builder},
            "source": {"git": {"url": git_url, "revision": revision}},
        },
    }


def deployment(
    project: str,
    namespace_name: str,
    workload: Workload,
    *,
    image: Any,
    replicas: Any,
    port: int,
    service_account_name: str,
) -> dict[str, Any]:
    """The environment's Deployment: one container on ``port``, secrets only through ``envFrom``."""
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image,
        "ports": [{"name": PORT_NAME, "containerPort": port, "protocol": "TCP"}],
    }
    if workload.secret_refs:
        container["envFrom"] = [{"secretRef": {"name": ref.name}} for ref in workload.secret_refs]
    if workload.resources is not None and (block := workload.resources.to_kubernetes()):
        container["resources"] = block
    pod_labels = workload_labels(project, workload)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": object_meta(workload.name, namespace_name, pod_labels, _workload_annotations(workload)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(project, workload)},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"serviceAccountName": service_account_name, "containers": [container]},
            },
        },
    }


def service(project: str, namespace_name: str, workload: Workload) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(workload.name, namespace_name, workload_labels(project, workload)),
        "spec": {
            "selector": selector(project, workload),
            "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
        },
    }


def ingress(
    project: str,
    namespace_name: str,
    workload: Workload,
    *,
    ingress_class_name: str | None,
) -> dict[str, Any]:
    """HTTPS for the environment's host, served from the Secret its :func:`certificate` fills.

    No ``cert-manager.io/cluster-issuer`` annotation: ingress-shim would then create a second
    owner for the very Certificate the program writes.
    """
    spec: dict[str, Any] = {
        "tls": [{"hosts": [workload.host], "secretName": tls_secret_name(workload.name)}],
        "rules": [
            {
                "host": workload.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": workload.name, "port": {"name": PORT_NAME}}},
                        }
                    ]
                },
            }
        ],
    }
    if ingress_class_name:
        spec["ingressClassName"] = ingress_class_name
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": object_meta(
            workload.name, namespace_name, workload_labels(project, workload), _workload_annotations(workload)
        ),
        "spec": spec,
    }


def certificate(
    project: str, namespace_name: str, workload: Workload, *, cluster_issuer: str
) -> dict[str, Any]:
    """The cert-manager Certificate for the environment's host, issued by the DomainPool's ClusterIssuer.

    Named after its Secret, as ingress-shim named the Certificates it made for these Ingresses.
    """
    secret_name = tls_secret_name(workload.name)
    return {
        "apiVersion": CERT_MANAGER_API_VERSION,
        "kind": "Certificate",
        "metadata": object_meta(
            secret_name, namespace_name, workload_labels(project, workload), _workload_annotations(workload)
        ),
        "spec": {
            "secretName": secret_name,
            "dnsNames": [workload.host],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": cluster_issuer},
        },
    }


def environment_objects(
    project: str,
    namespace_name: str,
    workload: Workload,
    *,
    image: Any,
    replicas: Any,
    port: int,
    service_account_name: str,
    cluster_issuer: str,
    ingress_class_name: str | None,
) -> Iterable[dict[str, Any]]:
    """Deployment, Service, Ingress and Certificate of one environment, in that order."""
    yield deployment(
        project,
        namespace_name,
        workload,
        image=image,
        replicas=replicas,
        port=port,
        service_account_name=service_account_name,
    )
    yield service(project, namespace_name, workload)
    yield ingress(project, namespace_name, workload, ingress_class_name=ingress_class_name)
    yield certificate(project, namespace_name, workload, cluster_issuer=cluster_issuer)


def _workload_annotations(workload: Workload) -> dict[str, str]:
    if workload.expires_at is None:
        return {}
    return {EXPIRES_ANNOTATION: format_time(workload.expires_at)}


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as Kubernetes writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
