"""Kapsa (seed 004): Projects built by kpack and deployed per branch, on DomainPools and Registries.

Kinds: ``Project`` (namespaced), ``DomainPool`` and ``Registry`` (cluster-wide). A Project names
its DomainPool and Registry; the loader rejects a stack where either is missing, and the factory
here hands the Project their specs. Git heads, preview first-seen times and last good images come
from the daemon's observations; this package never polls anything.

- :mod:`.spec`: the validated document specs;
- :mod:`.checks`: load-time rules (hosts, namespaces a Project may not use or read from);
- :mod:`.builders`: pure spec → Kubernetes object functions, and :mod:`.builders.plan`, what a
  Project's plan holds and its status from the live objects (no Pulumi);
- :mod:`.images`, :mod:`.previews`, :mod:`.readiness`, :mod:`.slugs`, :mod:`.names`: the pure
  pieces the plan is made of; :mod:`.registry_check`: the daemon's check of a Registry's credentials;
- :mod:`.project`, :mod:`.domain_pool`, :mod:`.registry`: one ComponentResource per kind.
"""

from __future__ import annotations

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document, creates_its_namespace_unless_disabled
from components.kapsa.builders.plan import plan_document
from components.kapsa.checks import (
    check_project,
    check_projects,
    credentials_namespace,
    git_credentials_namespace,
    project_warnings,
)
from components.kapsa.domain_pool import DomainPool, DomainPoolArgs
from components.kapsa.inputs import KapsaOptions, project_images, project_repositories, registry_servers
from components.kapsa.project import Project, ProjectArgs
from components.kapsa.registry import Registry, RegistryArgs
from components.kapsa.spec import DomainPoolSpec, ProjectSpec, RegistrySpec
from components.registry import KindRegistration


def create_project(document: Document, context: StackContext) -> Project:
    """Build a Project from its plan, with its DomainPool's and Registry's specs."""
    plan, registry = plan_document(document, context)
    return Project(
        document.name,
        ProjectArgs(
            plan=plan,
            credentials_namespace=registry.credentials_namespace,
            create_namespace=spec_of(document, ProjectSpec).create_namespace,
            warnings=tuple(project_warnings(document)),
        ),
    )


def create_domain_pool(document: Document, context: StackContext) -> DomainPool:
    """Build a DomainPool, which checks and reports its ClusterIssuer."""
    return DomainPool(document.name, DomainPoolArgs(spec_of(document, DomainPoolSpec)))


def create_registry(document: Document, context: StackContext) -> Registry:
    """Build a Registry, which checks and reports its credentials Secret."""
    return Registry(document.name, RegistryArgs(spec_of(document, RegistrySpec)))


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
