"""Kapsa (seed 004): Projects built by kpack and deployed per branch, on DomainPools and Registries.

Kinds: ``Project`` (namespaced), ``DomainPool`` and ``Registry`` (cluster-wide). A Project names
its DomainPool and Registry; the loader rejects a stack where either is missing, and the factory
here hands the Project their specs. Git heads, preview first-seen times and last good images come
from the daemon's observations; this package never polls anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TypeVar

from components.common.spec import SpecModel
from components.context import StackContext
from components.documents import (
    Document,
    SpecError,
    StackDocuments,
    creates_its_namespace_unless_disabled,
    namespace_path,
)
from components.kapsa.domain_pool import DomainPool, DomainPoolArgs
from components.kapsa.inputs import KapsaOptions, project_images, project_repositories, registry_servers
from components.kapsa.plan import ProjectPlan, plan_project, too_long_hosts
from components.kapsa.project import Project, ProjectArgs
from components.kapsa.registry import Registry, RegistryArgs
from components.kapsa.spec import DomainPoolSpec, ProjectSpec, RegistrySpec
from components.ownership import NamespaceUse
from components.registry import KindRegistration

CLUSTER_BUILDER_OPTION = "kapsaClusterBuilder"
DEFAULT_CLUSTER_BUILDER = "default"
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
S = TypeVar("S", bound=SpecModel)


def _spec(document: Document, model: type[S]) -> S:
    if not isinstance(document.spec, model):  # the registry pairs each kind with its model
        raise TypeError(f"{document.subject}: spec is {type(document.spec).__name__}, not {model.__name__}")
    return document.spec


def create_domain_pool(document: Document, context: StackContext) -> DomainPool:
    return DomainPool(document.name, DomainPoolArgs(_spec(document, DomainPoolSpec)))


def create_registry(document: Document, context: StackContext) -> Registry:
    return Registry(document.name, RegistryArgs(_spec(document, RegistrySpec)))


def cluster_builder(context: StackContext) -> str:
    """The kpack ClusterBuilder every Image uses: stack config ``driftless:kapsaClusterBuilder``."""
    name = context.settings.options.get(CLUSTER_BUILDER_OPTION) or DEFAULT_CLUSTER_BUILDER
    if len(name) > 253 or not _K8S_NAME.match(name):
        raise ValueError(
            f"config driftless:{CLUSTER_BUILDER_OPTION}: {name!r} is not a Kubernetes object name"
        )
    return name


def _plan(document: Document, context: StackContext) -> tuple[ProjectPlan, RegistrySpec]:
    spec = _spec(document, ProjectSpec)
    pool_document = context.documents.get("DomainPool", spec.domain_pool)
    registry_document = context.documents.get("Registry", spec.registry)
    # The loader already rejected a stack naming a missing one (ProjectSpec.references).
    assert pool_document is not None
    assert registry_document is not None
    registry = _spec(registry_document, RegistrySpec)
    plan = plan_project(
        project=document.name,
        namespace=document.namespace,
        spec=spec,
        domain_pool=_spec(pool_document, DomainPoolSpec),
        registry=registry,
        observations=context.observations,
        cluster_builder=cluster_builder(context),
    )
    return plan, registry


def check_project(document: Document, context: StackContext) -> list[SpecError]:
    """Hosts must fit DNS; known only with the observed branches, so checked before registering."""
    plan, _ = _plan(document, context)
    return [
        SpecError(
            document.file,
            document.line_of(("spec", "domainPool")),
            document.subject,
            "spec.domainPool",
            f"host {host!r} is longer than 253 characters; use a shorter project or base domain",
        )
        for host in too_long_hosts(plan)
    ]


def check_projects(stack: StackDocuments) -> Iterator[SpecError]:
    """No Project is in the namespace a Registry keeps its credentials Secret in.

    In its own Registry's credentialsNamespace, a Project's copy of the credentials Secret would
    have the source's name and namespace: it would manage the source itself. In any Registry's, a
    Project that creates its namespace would own it: deleting the Project would delete it, and the
    credentials of every Project using that Registry with it.
    """
    registries = [(d, _spec(d, RegistrySpec)) for d in stack.of_kind("Registry")]
    for document in stack.of_kind("Project"):
        spec = _spec(document, ProjectSpec)
        path = namespace_path(document)
        git_namespace = (spec.repo.credentials_secret or "").rpartition("/")[0]
        if git_namespace == document.namespace:
            yield SpecError(
                document.file,
                document.line_of(("spec", "repo", "credentialsSecret")),
                document.subject,
                "spec.repo.credentialsSecret",
                f"the Secret is in the Project's own namespace {git_namespace!r}, where its annotated copy "
                "would be the Secret itself; keep it in another namespace",
            )
        for registry_document, registry in registries:
            if registry.credentials_namespace != document.namespace:
                continue
            own = registry_document.name == spec.registry
            if not (own or spec.create_namespace):
                continue
            yield SpecError(
                document.file,
                document.line_of(path),
                document.subject,
                ".".join(path),
                f"namespace {document.namespace!r} is where {registry_document.subject} (line "
                f"{registry_document.line}) keeps credentialsSecret {registry.credentials_secret!r}: "
                + ("the Project's copy of that Secret would be the Secret itself" if own else "")
                + (", and " if own and spec.create_namespace else "")
                + (
                    "deleting the Project would delete the namespace and the Secret with it"
                    if spec.create_namespace
                    else ""
                )
                + "; give the Project a namespace of its own",
            )


def credentials_namespace(document: Document) -> Iterator[NamespaceUse]:
    """A Registry reads its credentials Secret from a namespace that no stack may create."""
    registry = _spec(document, RegistrySpec)
    yield NamespaceUse(
        namespace=registry.credentials_namespace,
        path=("spec", "credentialsNamespace"),
        keeps=f"credentialsSecret {registry.credentials_secret!r}",
    )


def project_warnings(document: Document) -> list[str]:
    """What may keep a Project from building without being an error: an ssh clone URL (it always
    needs a key) with no ``repo.credentialsSecret``."""
    repo = _spec(document, ProjectSpec).repo
    if repo.credentials_secret is not None or not repo.needs_credentials():
        return []
    path = ("spec", "repo", "url")
    message = (
        f"{repo.url!r} is an ssh URL and kpack needs a key to clone it: set spec.repo.credentialsSecret "
        "to a kubernetes.io/ssh-auth Secret, or the builds fail"
    )
    return [str(SpecError(document.file, document.line_of(path), document.subject, ".".join(path), message))]


def git_credentials_namespace(document: Document) -> Iterator[NamespaceUse]:
    """A Project's ``namespace/name`` git credentials come from a namespace no stack may create."""
    namespace, _, name = (_spec(document, ProjectSpec).repo.credentials_secret or "").rpartition("/")
    if namespace and namespace != document.namespace:  # its own namespace: refused by check_projects
        yield NamespaceUse(
            namespace=namespace,
            path=("spec", "repo", "credentialsSecret"),
            keeps=f"git credentials Secret {name!r}",
        )


def create_project(document: Document, context: StackContext) -> Project:
    plan, registry = _plan(document, context)
    return Project(
        document.name,
        ProjectArgs(
            plan=plan,
            credentials_namespace=registry.credentials_namespace,
            create_namespace=_spec(document, ProjectSpec).create_namespace,
            warnings=tuple(project_warnings(document)),
        ),
    )


KINDS = (
    KindRegistration(
        kind="Project",
        spec_model=ProjectSpec,
        create=create_project,
        namespaced=True,
        check_stack=check_projects,
        creates_namespace=creates_its_namespace_unless_disabled,
        uses_namespaces=git_credentials_namespace,
        check_in_context=check_project,
        observes_repositories=project_repositories,
        images_from_outputs=project_images,
        options_model=KapsaOptions,
    ),
    KindRegistration(
        kind="DomainPool", spec_model=DomainPoolSpec, create=create_domain_pool, namespaced=False
    ),
    KindRegistration(
        kind="Registry",
        spec_model=RegistrySpec,
        create=create_registry,
        namespaced=False,
        uses_namespaces=credentials_namespace,
        observes_registries=registry_servers,
    ),
)
