"""Typed specs of the Kapsa kinds: Project, DomainPool, Registry.

Everything a user can get wrong is rejected here, before any resource exists, with the field that
is wrong: a duplicate environment name, a malformed glob, a port out of range, a pinned image on an
auto-syncing environment, and above all a secret *value* written into a document. Secrets only
ever enter as references (``secretRefs: [{name: <Secret>}]``, ``credentialsSecret: <Secret>``); a
field that would carry a value is recognised and refused with a message saying what to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from pydantic import AfterValidator, Field, model_validator

from components.common import masking
from components.common.spec import (
    DnsLabel,
    DnsSubdomain,
    ResourceRequirements,
    SpecModel,
    is_dns_label,
    is_dns_subdomain,
    rule_beside_item_errors,
)
from components.documents import SpecReference

SECRET_VALUES_REFUSED = (
    "secret values never go in a stack document: put them in a Kubernetes Secret "
    "(created by External Secrets, Vault or by hand) and list it by name in secretRefs"
)


def _refuse(message: str) -> Any:
    """An after-validator for a field that exists only to be refused with a clear message."""

    def check(value: Any) -> Any:
        if value is not None:
            raise ValueError(message)
        return value

    return AfterValidator(check)


# A field that would hold secret material: accepted by name (so the error points at it), refused
# whenever it has a value.
SecretValueField = Annotated[Any, _refuse(SECRET_VALUES_REFUSED)]


# --- small value types ------------------------------------------------------------------------

_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
# What `git check-ref-format --branch` refuses, minus the rules that only matter for refs on disk.
_BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# host[:port], e.g. harbor.corp.com or registry.local:5000
_REGISTRY_SERVER = re.compile(
    r"^(?=.{1,253}(:|$))[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*(:[0-9]{1,5})?$"
)
# OCI distribution spec repository path components.
_REPOSITORY_PATH = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
# registry/path[:tag][@sha256:digest]; a registry host is required so the image is unambiguous.
_IMAGE_REFERENCE = re.compile(
    r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?"
    r"(/[a-z0-9]+([._-][a-z0-9]+)*)+"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(@sha256:[a-f0-9]{64})?$"
)
_GIT_URL = re.compile(r"^(https?://|ssh://|git://|git@)[^\s]+$")


def _dns_1035_label(value: str) -> str:
    if len(value) > 63 or not _DNS_1035_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a valid environment name (lowercase letters, digits and '-', "
            "starting with a letter, at most 63 characters: it becomes a host label and a Service name)"
        )
    return value


def _branch(value: str) -> str:
    problem = None
    if not value:
        problem = "must not be empty"
    elif _BRANCH_FORBIDDEN.search(value):
        problem = "contains a character git does not allow in branch names (space, ~ ^ : ? * [ \\)"
    elif value.startswith(("-", "/")) or value.endswith(("/", ".", ".lock")):
        problem = "must not start with '-' or '/' nor end with '/', '.' or '.lock'"
    elif ".." in value or "//" in value or "@{" in value or value == "@":
        problem = "must not contain '..', '//' or '@{'"
    if problem:
        raise ValueError(f"{value!r} is not a git branch name: {problem}")
    return value


def _glob(value: str) -> str:
    """A branch glob for :func:`fnmatch.fnmatchcase`: ``*``, ``?`` and ``[...]`` classes."""
    problem = None
    if not value:
        problem = "must not be empty"
    elif re.search(r"[\x00-\x20\x7f~^:\\]", value):
        problem = "contains a character that can never appear in a branch name (space, ~ ^ : \\)"
    elif not _classes_closed(value):
        # fnmatch would silently treat the '[' as a literal, which a branch name can never contain
        problem = "has a '[' without a closing ']'"
    if problem:
        raise ValueError(f"{value!r} is not a valid branch glob: {problem}")
    return value


def _classes_closed(glob: str) -> bool:
    index = 0
    while index < len(glob):
        if glob[index] == "[":
            start = index + 1
            if glob[start : start + 1] == "!":
                start += 1
            if glob[start : start + 1] == "]":  # a leading ']' is a member of the class
                start += 1
            end = glob.find("]", start)
            if end == -1:
                return False
            index = end
        index += 1
    return True


def _registry_server(value: str) -> str:
    if not _REGISTRY_SERVER.match(value):
        raise ValueError(f"{value!r} is not a registry host (examples: harbor.corp.com, registry.local:5000)")
    return value


def _repository_path(value: str) -> str:
    if not _REPOSITORY_PATH.match(value):
        raise ValueError(
            f"{value!r} is not a repository path (lowercase letters, digits, '.', '_', '-' and '/', "
            "e.g. myapp or teams/myapp)"
        )
    return value


def _image_reference(value: str) -> str:
    if not _IMAGE_REFERENCE.match(value) or ("@" not in value and ":" not in value.rsplit("/", 1)[-1]):
        raise ValueError(
            f"{value!r} is not a full image reference with a registry and a tag or digest "
            "(e.g. harbor.corp.com/myapp/api@sha256:…)"
        )
    return value


def _git_url(value: str) -> str:
    """A clone URL with no credentials in it: it is written into the kpack Image and the status.

    Any user information is refused (``https://<token>@host``, ``https://user:pass@host``,
    ``ssh://git:pass@host``), except the bare ``git@`` user of ``ssh://git@host/path`` and of the
    scp-like ``git@host:path``: the account git hosts serve ssh clones as, not a credential. So is
    a query parameter that carries one (``?private_token=…``, ``?access_token=…``, ``?key=…``).
    A refused URL is echoed with its credential parts masked.
    """
    if not _GIT_URL.match(value):
        raise ValueError(f"{_masked(value)!r} is not a git URL {_GIT_URL_FORMS}")
    if value.startswith("git@"):  # scp-like: git@<host>:<path>
        user_and_host, colon, path = value.partition(":")
        if "@" in user_and_host.removeprefix("git@"):
            raise ValueError(f"{_masked(value)!r} carries credentials: {_NO_CREDENTIALS}")
        if not colon or not path or user_and_host == "git@" or "/" in user_and_host:
            raise ValueError(f"{_masked(value)!r} is not a git URL {_GIT_URL_FORMS}")
        _refuse_credential_parameters(value, path.partition("?")[2])
        return value
    try:
        parts = urlsplit(value)
        username, password, host = parts.username, parts.password, parts.hostname
    except ValueError as exc:  # e.g. the unclosed '[' of an IPv6 host
        raise ValueError(f"{_masked(value)!r} is not a git URL: {exc}") from None
    if "@" in parts.netloc and not (parts.scheme == "ssh" and username == "git" and password is None):
        raise ValueError(f"{_masked(value)!r} carries credentials: {_NO_CREDENTIALS}")
    if not host:
        raise ValueError(f"{_masked(value)!r} is not a git URL: it names no host")
    _refuse_credential_parameters(value, parts.query)
    return value


def _refuse_credential_parameters(url: str, query: str) -> None:
    names = [
        name for name, _ in parse_qsl(query, keep_blank_values=True) if masking.is_credential_parameter(name)
    ]
    if names:
        raise ValueError(
            f"{_masked(url)!r} carries credentials in its query ({', '.join(names)}): {_NO_CREDENTIALS}"
        )


_GIT_URL_FORMS = "(https://host/path, ssh://git@host/path, git://host/path or git@host:path)"
_NO_CREDENTIALS = (
    "a clone URL holds no user name, token or password, in its user part or its query (only ssh's bare "
    "git@ user): it is written into the kpack Image, the status and the render; give kpack "
    "credentials through spec.repo.credentialsSecret (an existing Secret) instead"
)


def _masked(value: str) -> str:
    """``value`` with its credential parts masked: user information (up to the authority's last '@',
    also in the scp-like form) and credential query parameters."""
    if "://" not in value:
        value = re.sub(r"^[^/\s]*@", f"{masking.SECRET}@", value)
    return masking.mask_url(value)


def _secret_reference(value: str) -> str:
    """``name`` or ``namespace/name`` of a Secret."""
    namespace, slash, name = value.rpartition("/")
    if (slash and not is_dns_label(namespace)) or not is_dns_subdomain(name):
        raise ValueError(
            f"{value!r} is not a Secret reference: a Secret name (lowercase letters, digits, '-' and '.'), "
            "or namespace/name"
        )
    return value


EnvironmentName = Annotated[str, AfterValidator(_dns_1035_label)]
SecretReference = Annotated[str, AfterValidator(_secret_reference)]
BranchName = Annotated[str, AfterValidator(_branch)]
BranchGlob = Annotated[str, AfterValidator(_glob)]
RegistryServer = Annotated[str, AfterValidator(_registry_server)]
RepositoryPath = Annotated[str, AfterValidator(_repository_path)]
ImageReference = Annotated[str, AfterValidator(_image_reference)]
GitUrl = Annotated[str, AfterValidator(_git_url)]


# --- Project ----------------------------------------------------------------------------------


class SecretRef(SpecModel):
    """A Kubernetes Secret in the project's namespace whose keys become environment variables."""

    name: DnsSubdomain = Field(description="name of the Secret; its keys are exposed through envFrom")
    # Only so a value written here is refused with a message instead of "unknown field".
    value: SecretValueField = Field(default=None, exclude=True)
    data: SecretValueField = Field(default=None, exclude=True)
    string_data: SecretValueField = Field(default=None, exclude=True)


class RepoSpec(SpecModel):
    """The git repository the project builds from."""

    url: GitUrl = Field(description="clone URL; credentials never go here")
    branch: BranchName = Field(default="main", description="default branch: its image has the plain tag")
    poll_interval_seconds: int = Field(default=300, ge=10, description="how often the daemon polls git")
    credentials_secret: SecretReference | None = Field(
        default=None,
        description=(
            "git credentials for kpack's builds: an existing kubernetes.io/basic-auth (https) or "
            "kubernetes.io/ssh-auth (ssh) Secret, as name (in the Registry's credentialsNamespace) or "
            "namespace/name; copied into the project's namespace as git-credentials"
        ),
    )

    def needs_credentials(self) -> bool:
        """An ssh clone always needs a key; an https one only when the repository is private,
        which nothing here can tell."""
        return self.url.startswith(("ssh://", "git@"))


class EnvironmentSpec(SpecModel):
    """A permanent environment: one branch deployed behind ``<name>.<project>.<baseDomain>``."""

    name: EnvironmentName = Field(description="environment name: host label and Kubernetes object name")
    branch: BranchName | None = Field(default=None, description="branch to deploy (default: repo.branch)")
    auto_sync: bool = Field(default=True, description="roll to every new good build of the branch")
    image: ImageReference | None = Field(
        default=None,
        description=(
            "the promoted image of a pinned environment (autoSync: false); promote by setting it, "
            "usually to a lastGoodImages entry of the Project's status"
        ),
    )
    replicas: int = Field(default=1, ge=0, le=1000)
    secret_refs: list[SecretRef] = Field(default_factory=list)
    resources: ResourceRequirements | None = None
    env: SecretValueField = Field(default=None, exclude=True)
    secrets: SecretValueField = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _image_only_when_pinned(self) -> EnvironmentSpec:
        if self.image is not None and self.auto_sync:
            raise ValueError(
                "image pins an environment to a promoted build; set autoSync: false to pin it, "
                "or remove image to follow the branch"
            )
        return self


class PreviewEnvironmentsSpec(SpecModel):
    """Preview environments: one per branch that matches, for ``ttlHours`` after it is first seen."""

    enabled: bool = False
    include: list[BranchGlob] = Field(default_factory=lambda: ["*"], description="fnmatch globs")
    exclude: list[BranchGlob] = Field(default_factory=lambda: ["main"], description="fnmatch globs")
    ttl_hours: int = Field(
        default=168,
        ge=1,
        le=24 * 365,
        description="hours from when a branch is first seen; a change applies to branches seen after it",
    )
    replicas: int = Field(default=1, ge=0, le=100)
    secret_refs: list[SecretRef] = Field(default_factory=list)
    resources: ResourceRequirements | None = None


def _unique_names(environments: Any) -> str | None:
    """Environment names are unique: checked on the list as written, even with a bad item in it."""
    first: dict[str, int] = {}
    for index, environment in enumerate(environments if isinstance(environments, list) else ()):
        name = (
            environment.get("name") if isinstance(environment, dict) else getattr(environment, "name", None)
        )
        if not isinstance(name, str):
            continue
        if name in first:
            return (
                f"environments[{first[name]}] and environments[{index}] are both named {name!r}; "
                "environment names must be unique"
            )
        first[name] = index
    return None


class ProjectSpec(SpecModel):
    """A Kapsa Project: builds of a git repository deployed to environments and previews."""

    repo: RepoSpec
    domain_pool: DnsLabel = Field(description="metadata.name of a DomainPool in this stack")
    registry: DnsLabel = Field(description="metadata.name of a Registry in this stack")
    port: int = Field(default=8080, ge=1, le=65535, description="the port the application listens on")
    environments: Annotated[list[EnvironmentSpec], rule_beside_item_errors(_unique_names)] = Field(
        default_factory=list
    )
    preview_environments: PreviewEnvironmentsSpec = Field(default_factory=PreviewEnvironmentsSpec)
    create_namespace: bool = Field(
        default=True,
        description=(
            "Create the project's namespace (false: it must exist already, and the Project only uses "
            "it). Turning it off later deletes the namespace, and everything in it."
        ),
    )

    def branch_of(self, environment: EnvironmentSpec) -> str:
        """The branch an environment deploys."""
        return environment.branch or self.repo.branch

    def references(self) -> Iterable[SpecReference]:
        yield SpecReference(path=("domainPool",), kind="DomainPool", name=self.domain_pool)
        yield SpecReference(path=("registry",), kind="Registry", name=self.registry)


# --- DomainPool and Registry --------------------------------------------------------------------


class DomainPoolSpec(SpecModel):
    """A base domain under which project hosts are allocated, with the issuer of their certificates."""

    base_domain: DnsSubdomain = Field(description="hosts are <env>.<project>.<baseDomain>")
    cluster_issuer: DnsSubdomain = Field(description="the cert-manager ClusterIssuer that signs hosts")
    ingress_class_name: DnsSubdomain | None = Field(
        default=None, description="IngressClass of the Ingresses (default: the cluster's default class)"
    )


class RegistrySpec(SpecModel):
    """A container registry that project images are pushed to and pulled from."""

    server: RegistryServer
    repository_prefix: RepositoryPath = Field(description="images are <server>/<prefix>/<project>")
    credentials_secret: DnsSubdomain = Field(description="a kubernetes.io/dockerconfigjson Secret, by name")
    credentials_namespace: DnsLabel = Field(
        default="default", description="namespace of credentialsSecret; projects get a copy"
    )
    insecure: bool = Field(default=False, description="plain HTTP (a local registry); never in production")
    username: SecretValueField = Field(default=None, exclude=True)
    password: SecretValueField = Field(default=None, exclude=True)
    token: SecretValueField = Field(default=None, exclude=True)

    def repository(self, project: str) -> str:
        """The image repository of a project, without a tag."""
        return f"{self.server}/{self.repository_prefix}/{project}"
