"""A Project's plan: what exists for one (spec, DomainPool, Registry, observations), and its status.

:func:`plan_project` decides, without Pulumi, which branches are built (one kpack Image each,
at the observed commit), which environments and previews run and under which hosts.
:func:`workload_image` and :func:`project_status` turn the builds' live kpack statuses into the
image each environment runs, and those with each environment's live Deployment and Certificate
into the Project's status output. The component only wires these to resources and Outputs.
:func:`plan_document` plans a Project document in its stack: the factory and the host check
(:func:`components.kapsa.checks.check_project`) share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from components.common.health import FALSE, from_condition
from components.common.spec import spec_of
from components.context import StackContext
from components.documents import Document
from components.kapsa import builders
from components.kapsa.images import (
    NO_IMAGE_REPLICAS,
    BuildState,
    BuildStatus,
    GoodImage,
    ImageChoice,
    build_condition,
    choose_image,
    image_status_of,
    latest_good,
    parse_build_status,
    tag_suffix,
)
from components.kapsa.previews import PreviewPlan, plan_previews
from components.kapsa.readiness import (
    Readiness,
    certificate_readiness,
    deployment_readiness,
    environment_readiness,
)
from components.kapsa.slugs import HASH_LENGTH, assign_slugs, slugify
from components.kapsa.spec import DomainPoolSpec, ProjectSpec, RegistrySpec
from components.observations import Observations

# How soon to look again while a build runs (kpack builds take minutes).
BUILD_REQUEUE_SECONDS = 60
# How soon to look again while an environment rolls out or waits for its certificate.
PROGRESS_REQUEUE_SECONDS = 30
WAITING_FOR_IMAGE = "WaitingForImage"
MAX_HOST_LENGTH = 253


@dataclass(frozen=True)
class Build:
    """One branch built by one kpack Image."""

    branch: str
    image_name: str  # the kpack Image's metadata.name (a slug of the branch)
    tag: str
    commit: str | None  # None: no head observed for the branch, so nothing to build (yet)


@dataclass(frozen=True)
class PlannedWorkload:
    """An environment or preview and how it picks its image."""

    workload: builders.Workload
    auto_sync: bool
    promoted: str | None = None  # the spec's image: for a pinned environment
    pinned: GoodImage | None = None  # what a pinned environment ran last time (observations)


@dataclass(frozen=True)
class GitCredentials:
    """The Secret kpack clones with: where the source is, and what its copy is annotated with."""

    source_namespace: str
    source_name: str
    kpack_git: str  # the kpack.io/git annotation: the git host the credentials are for

    @property
    def source(self) -> str:
        return f"{self.source_namespace}/{self.source_name}"


def kpack_git_host(url: str) -> str:
    """The ``kpack.io/git`` annotation for a clone URL, in the form kpack's docs give.

    ``https://host[:port]`` (the URL's scheme) for http(s), ``git@host`` for ssh (kpack matches an
    ssh Secret by host), ``git://host[:port]`` for the git protocol.
    """
    if url.startswith("git@"):  # scp-like: git@host:path
        return url.partition(":")[0]
    parts = urlsplit(url)
    if parts.scheme == "ssh":
        return f"git@{parts.hostname}"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def git_credentials(spec: ProjectSpec, registry: RegistrySpec) -> GitCredentials | None:
    """``spec.repo.credentialsSecret``: a bare name is in the Registry's ``credentialsNamespace``."""
    reference = spec.repo.credentials_secret
    if reference is None:
        return None
    namespace, _, name = reference.rpartition("/")
    return GitCredentials(namespace or registry.credentials_namespace, name, kpack_git_host(spec.repo.url))


@dataclass(frozen=True)
class ProjectPlan:
    project: str
    namespace: str
    service_account: str
    credentials_secret: str
    git_url: str
    cluster_builder: str
    cluster_issuer: str
    ingress_class_name: str | None
    port: int
    poll_interval_seconds: int
    builds: Mapping[str, Build]  # branch -> build, for every branch some workload runs
    workloads: tuple[PlannedWorkload, ...]
    previews: PreviewPlan
    recorded: Mapping[str, GoodImage]  # branch -> last good image from observations
    now: datetime
    git_credentials: GitCredentials | None = None

    def built(self) -> dict[str, Build]:
        """The builds that get a kpack Image: those with an observed commit."""
        return {branch: b for branch, b in self.builds.items() if b.commit is not None}


def image_key(project: str, branch: str) -> str:
    """The key of a branch's last good image in ``observations.images``."""
    return f"{project}/{branch}"


def pin_label(environment: str) -> str:
    """Where a pinned environment's image goes in place of a branch: ``@{<env>}``.

    git refuses ``@{`` in branch names, so a pin can never be mistaken for a branch's image.
    """
    return f"@{{{environment}}}"


def pin_key(project: str, environment: str) -> str:
    """The key of a pinned environment's image in ``observations.images``."""
    return f"{project}/{pin_label(environment)}"


def plan_project(
    *,
    project: str,
    namespace: str,
    spec: ProjectSpec,
    domain_pool: DomainPoolSpec,
    registry: RegistrySpec,
    observations: Observations,
    cluster_builder: str,
) -> ProjectPlan:
    """Everything a Project renders, decided from its inputs alone."""
    heads = observations.git.get(spec.repo.url, {})
    previews = plan_previews(project, spec, observations)

    workloads: list[PlannedWorkload] = []
    for environment in spec.environments:
        branch = spec.branch_of(environment)
        workload = builders.Workload(
            name=environment.name,
            type=builders.PERMANENT,
            branch=branch,
            branch_slug=slugify(branch),
            host=builders.host_for(environment.name, project, domain_pool.base_domain),
            replicas=environment.replicas,
            secret_refs=tuple(environment.secret_refs),
            resources=environment.resources,
        )
        pinned = None
        if not environment.auto_sync:
            pinned = GoodImage.from_observation(observations.images.get(pin_key(project, environment.name)))
        workloads.append(PlannedWorkload(workload, environment.auto_sync, environment.image, pinned))
    settings = spec.preview_environments
    for preview in previews.active:
        workload = builders.Workload(
            name=preview.slug,
            type=builders.PREVIEW,
            branch=preview.branch,
            branch_slug=preview.slug,
            host=builders.host_for(preview.slug, project, domain_pool.base_domain),
            replicas=settings.replicas,
            secret_refs=tuple(settings.secret_refs),
            resources=settings.resources,
            expires_at=preview.expires_at,
        )
        workloads.append(PlannedWorkload(workload, auto_sync=True))

    branches = sorted({w.workload.branch for w in workloads})
    image_names = build_names(spec, previews)
    repository = registry.repository(project)
    builds = {
        branch: Build(
            branch=branch,
            image_name=image_names[branch],
            tag=repository + tag_suffix(image_names[branch], branch == spec.repo.branch),
            commit=heads.get(branch),
        )
        for branch in branches
    }
    recorded = {
        branch: good
        for branch in branches
        if (good := GoodImage.from_observation(observations.images.get(image_key(project, branch))))
    }
    return ProjectPlan(
        project=project,
        namespace=namespace,
        service_account=project,
        credentials_secret=registry.credentials_secret,
        git_url=spec.repo.url,
        cluster_builder=cluster_builder,
        cluster_issuer=domain_pool.cluster_issuer,
        ingress_class_name=domain_pool.ingress_class_name,
        port=spec.port,
        poll_interval_seconds=spec.repo.poll_interval_seconds,
        builds=builds,
        workloads=tuple(workloads),
        previews=previews,
        recorded=recorded,
        now=observations.now,
        git_credentials=git_credentials(spec, registry),
    )


def build_names(spec: ProjectSpec, previews: PreviewPlan) -> dict[str, str]:
    """Branch → the name of its kpack Image, for every branch an environment or preview runs.

    The permanent environments' branches are named together (they change only with the spec); a
    preview's branch takes its preview's slug, which was fixed when the branch was first seen, so a
    branch appearing later never renames (and rebuilds) another's Image.
    """
    names = assign_slugs(spec.branch_of(environment) for environment in spec.environments)
    taken = set(names.values())
    for preview in previews.active:
        if preview.branch not in names:
            name = preview.slug if preview.slug not in taken else slugify(preview.branch, HASH_LENGTH)
            names[preview.branch] = name
            taken.add(name)
    return names


def too_long_hosts(plan: ProjectPlan) -> list[str]:
    """Hosts longer than DNS allows (a long base domain and project name together)."""
    return [w.workload.host for w in plan.workloads if len(w.workload.host) > MAX_HOST_LENGTH]


# --- from live build statuses to images and status ---------------------------------------------


def build_statuses(
    plan: ProjectPlan, lives: Mapping[str, Mapping[str, Any] | None]
) -> dict[str, BuildStatus]:
    """Branch → build status, from each kpack Image's live ``{metadata, status}``."""
    statuses: dict[str, BuildStatus] = {}
    for branch in plan.builds:
        live = lives.get(branch)
        if live is None:
            statuses[branch] = BuildStatus(BuildState.NOT_BUILT)
            continue
        generation = (live.get("metadata") or {}).get("generation")
        statuses[branch] = parse_build_status(
            image_status_of(live), int(generation) if isinstance(generation, int | float) else None
        )
    return statuses


def last_good_images(plan: ProjectPlan, statuses: Mapping[str, BuildStatus]) -> dict[str, GoodImage]:
    """Branch → latest good image, for every branch with one."""
    found = {}
    for branch, build in plan.builds.items():
        good = latest_good(
            plan.recorded.get(branch), statuses.get(branch, BuildStatus(BuildState.NOT_BUILT)), build.commit
        )
        if good is not None:
            found[branch] = good
    return found


def workload_image(
    plan: ProjectPlan, planned: PlannedWorkload, lives: Mapping[str, Mapping[str, Any] | None]
) -> ImageChoice:
    """The image one environment runs, given the live status of its branch's build."""
    branch = planned.workload.branch
    statuses = build_statuses(plan, {branch: lives.get(branch)})
    latest = last_good_images(plan, statuses).get(branch)
    return choose_image(
        auto_sync=planned.auto_sync,
        promoted=planned.promoted,
        pinned=planned.pinned,
        recorded=plan.recorded.get(branch),
        latest=latest,
    )


def follows_build(plan: ProjectPlan, planned: PlannedWorkload) -> bool:
    """Whether an environment's image depends on its branch's live build status.

    A pinned environment that is promoted, pinned or has a recorded image does not: its Deployment
    is then fully known even in a preview, where live statuses are not.
    """
    held = (
        planned.promoted is not None or planned.pinned is not None or planned.workload.branch in plan.recorded
    )
    if not planned.auto_sync and held:
        return False
    return planned.workload.branch in plan.built()


def deployment_image(plan: ProjectPlan, planned: PlannedWorkload, choice: ImageChoice) -> str:
    """The container image: the chosen one, or the branch's tag as a placeholder at zero replicas."""
    return choice.image or plan.builds[planned.workload.branch].tag


def deployment_replicas(planned: PlannedWorkload, choice: ImageChoice) -> int:
    return planned.workload.replicas if choice.image is not None else NO_IMAGE_REPLICAS


def served_readiness(
    planned: PlannedWorkload,
    choice: ImageChoice,
    build: BuildStatus,
    served: Mapping[str, Any] | None,
) -> Readiness:
    """Whether one environment serves, from its live ``{"deployment": …, "certificate": …}``.

    Each of the two is the object's ``{metadata, status}`` as read back after ``up`` wrote it
    (None: not read). An environment with no good image yet runs no pods: it is waiting, whatever
    its Deployment says.
    """
    workload = planned.workload
    if choice.image is None:
        return Readiness(
            FALSE,
            WAITING_FOR_IMAGE,
            f"no good image of branch {workload.branch!r} yet (build {build.state.value})",
        )
    served = served or {}
    return environment_readiness(
        deployment_readiness(served.get("deployment"), deployment_replicas(planned, choice)),
        certificate_readiness(served.get("certificate"), builders.tls_secret_name(workload.name)),
    )


def project_status(
    plan: ProjectPlan,
    lives: Mapping[str, Mapping[str, Any] | None],
    served: Mapping[str, Mapping[str, Any] | None],
) -> dict[str, Any]:
    """The Project's status output (what the daemon reads and shows): never any secret.

    ``lives`` holds each built branch's live kpack Image, ``served`` each environment's live
    Deployment and Certificate (see :func:`served_readiness`), keyed by environment name.
    """
    statuses = build_statuses(plan, lives)
    good = last_good_images(plan, statuses)

    environments: dict[str, Any] = {}
    pins: dict[str, Any] = {}
    waiting: list[str] = []
    progressing: dict[str, Readiness] = {}
    for planned in plan.workloads:
        workload = planned.workload
        choice = workload_image(plan, planned, lives)
        readiness = served_readiness(planned, choice, statuses[workload.branch], served.get(workload.name))
        if choice.image is None:
            waiting.append(workload.name)
        elif not readiness.is_ready:
            progressing[workload.name] = readiness
        entry: dict[str, Any] = {
            "type": workload.type,
            "branch": workload.branch,
            "url": f"https://{workload.host}",
            "image": choice.image,
            "imageSource": choice.source,
            "commit": choice.commit,
            "replicas": deployment_replicas(planned, choice),
            **readiness.to_json(),
        }
        if not planned.auto_sync and choice.image is not None:
            pins[pin_label(workload.name)] = GoodImage(choice.image, choice.commit).to_json()
        if workload.expires_at is not None:
            entry["expiresAt"] = builders.format_time(workload.expires_at)
        environments[workload.name] = entry

    builds = {}
    for branch, build in plan.builds.items():
        build_status = statuses[branch]
        builds[branch] = {
            "image": build.image_name if build.commit is not None else None,
            "tag": build.tag,
            "commit": build.commit,
            "state": build_status.state.value,
            "latestImage": build_status.latest_image,
            "message": build_status.message,
        }

    build_ready = build_condition({b: statuses[b] for b in plan.built()})
    not_ready = "; ".join(f"{name} ({r.reason}): {r.message}" for name, r in progressing.items())
    if waiting:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": WAITING_FOR_IMAGE,
            "message": f"no good image yet for: {', '.join(waiting)}"
            + (f"; not ready yet: {not_ready}" if progressing else ""),
        }
    elif progressing:
        ready = {
            "type": "Ready",
            "status": "False",
            "reason": "Progressing",
            "message": f"not ready yet: {not_ready}",
        }
    else:
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "EnvironmentsRunning",
            "message": f"{len(plan.workloads)} environment(s) on a good image, available, with a valid "
            "certificate",
        }

    requeue = [plan.previews.next_expiry_seconds(plan.now)]
    if any(statuses[b].state is BuildState.BUILDING for b in plan.built()):
        requeue.append(BUILD_REQUEUE_SECONDS)
    if progressing:
        requeue.append(PROGRESS_REQUEUE_SECONDS)
    hints = [r for r in requeue if r is not None]

    status: dict[str, Any] = {
        **from_condition(ready),
        "phase": _phase(waiting, progressing, statuses, plan),
        "conditions": [ready, build_ready],
        "repo": {"url": plan.git_url, "pollIntervalSeconds": plan.poll_interval_seconds},
        "lastGoodImages": {branch: image.to_json() for branch, image in sorted(good.items())},
        # What keeps pinned environments put across runs: keyed "@{<env>}", so the daemon records
        # it exactly like lastGoodImages, under "<project>/<key>" (= pin_key(project, env)).
        "pinnedImages": pins,
        "builds": builds,
        "environments": environments,
        "previews": {
            p.slug: {
                "branch": p.branch,
                "url": environments[p.slug]["url"],
                "firstSeen": builders.format_time(p.first_seen),
                "expiresAt": builders.format_time(p.expires_at),
            }
            for p in plan.previews.active
        },
        "expiredPreviews": sorted(p.branch for p in plan.previews.expired),
    }
    if hints:
        status["requeueAfterSeconds"] = min(hints)
    return status


def _phase(
    waiting: list[str],
    progressing: Mapping[str, Readiness],
    statuses: Mapping[str, BuildStatus],
    plan: ProjectPlan,
) -> str:
    if not waiting:
        return "Progressing" if progressing else "Running"
    branches = {w.workload.branch for w in plan.workloads if w.workload.name in waiting}
    states = {statuses[b].state for b in branches}
    if BuildState.FAILED in states:
        return "Failed"
    if BuildState.BUILDING in states:
        return "Building"
    return "Pending"


# --- a Project document in its stack -----------------------------------------------------------

CLUSTER_BUILDER_OPTION = "kapsaClusterBuilder"
DEFAULT_CLUSTER_BUILDER = "default"
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def cluster_builder(context: StackContext) -> str:
    """The kpack ClusterBuilder every Image uses: stack config ``driftless:kapsaClusterBuilder``."""
    name = context.settings.options.get(CLUSTER_BUILDER_OPTION) or DEFAULT_CLUSTER_BUILDER
    if len(name) > 253 or not _K8S_NAME.match(name):
        raise ValueError(
            f"config driftless:{CLUSTER_BUILDER_OPTION}: {name!r} is not a Kubernetes object name"
        )
    return name


def plan_document(document: Document, context: StackContext) -> tuple[ProjectPlan, RegistrySpec]:
    """A Project document's plan, and its Registry's spec, in the stack it is part of."""
    spec = spec_of(document, ProjectSpec)
    pool_document = context.documents.get("DomainPool", spec.domain_pool)
    registry_document = context.documents.get("Registry", spec.registry)
    # The loader already rejected a stack naming a missing one (ProjectSpec.references).
    assert pool_document is not None
    assert registry_document is not None
    registry = spec_of(registry_document, RegistrySpec)
    plan = plan_project(
        project=document.name,
        namespace=document.namespace,
        spec=spec,
        domain_pool=spec_of(pool_document, DomainPoolSpec),
        registry=registry,
        observations=context.observations,
        cluster_builder=cluster_builder(context),
    )
    return plan, registry
