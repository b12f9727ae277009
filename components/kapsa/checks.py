"""Load-time rules for Kapsa documents: hosts that fit DNS, namespaces a Project may not use, and
the namespaces Registries and Projects read from without creating them."""

from __future__ import annotations

from collections.abc import Iterator

from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document, SpecError, StackDocuments, namespace_path
from components.kapsa.builders.plan import plan_document, too_long_hosts
from components.kapsa.spec import ProjectSpec, RegistrySpec
from components.ownership import NamespaceUse


def check_project(document: Document, context: StackContext) -> list[SpecError]:
    """Hosts must fit DNS; known only with the observed branches, so checked before registering."""
    plan, _ = plan_document(document, context)
    return [
        document.error(
            ("spec", "domainPool"),
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
    registries = [(d, spec_of(d, RegistrySpec)) for d in stack.of_kind("Registry")]
    for document in stack.of_kind("Project"):
        spec = spec_of(document, ProjectSpec)
        path = namespace_path(document)
        git_namespace = (spec.repo.credentials_secret or "").rpartition("/")[0]
        if git_namespace == document.namespace:
            yield document.error(
                ("spec", "repo", "credentialsSecret"),
                f"the Secret is in the Project's own namespace {git_namespace!r}, where its annotated copy "
                "would be the Secret itself; keep it in another namespace",
            )
        for registry_document, registry in registries:
            if registry.credentials_namespace != document.namespace:
                continue
            own = registry_document.name == spec.registry
            if not (own or spec.create_namespace):
                continue
            yield document.error(
                path,
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
    registry = spec_of(document, RegistrySpec)
    yield NamespaceUse(
        namespace=registry.credentials_namespace,
        path=("spec", "credentialsNamespace"),
        keeps=f"credentialsSecret {registry.credentials_secret!r}",
    )


def project_warnings(document: Document) -> list[str]:
    """What may keep a Project from building without being an error: an ssh clone URL (it always
    needs a key) with no ``repo.credentialsSecret``."""
    repo = spec_of(document, ProjectSpec).repo
    if repo.credentials_secret is not None or not repo.needs_credentials():
        return []
    path = ("spec", "repo", "url")
    message = (
        f"{repo.url!r} is an ssh URL and kpack needs a key to clone it: set spec.repo.credentialsSecret "
        "to a kubernetes.io/ssh-auth Secret, or the builds fail"
    )
    return [str(document.error(path, message))]


def git_credentials_namespace(document: Document) -> Iterator[NamespaceUse]:
    """A Project's ``namespace/name`` git credentials come from a namespace no stack may create."""
    namespace, _, name = (spec_of(document, ProjectSpec).repo.credentials_secret or "").rpartition("/")
    if namespace and namespace != document.namespace:  # its own namespace: refused by check_projects
        yield NamespaceUse(
            namespace=namespace,
            path=("spec", "repo", "credentialsSecret"),
            keeps=f"git credentials Secret {name!r}",
        )
