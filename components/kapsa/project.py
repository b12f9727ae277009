"""The ``driftless:kapsa:Project`` component: a repository built by kpack and deployed per branch.

Per project: a Namespace (none when ``createNamespace: false`` declares it external), a copy of
the Registry's docker-registry Secret, with ``repo.credentialsSecret`` a copy of the git
credentials annotated ``kpack.io/git``, and a ServiceAccount that kpack pushes and clones with and
pods pull with. Per branch some environment or preview runs (and whose head commit the daemon observed): a
kpack ``Image`` at that commit. Per environment and preview: a Deployment, a Service, an Ingress
and the cert-manager Certificate (from the DomainPool's ClusterIssuer) whose Secret it serves.

What exists is decided up front by :func:`components.kapsa.builders.plan.plan_project`; only the image each
environment runs depends on a live value (the kpack Image's status, read after ``up`` wrote the
Image), so the Deployment's image and replicas are Outputs and everything else is plain data.

The Certificate is written by the program rather than left to ingress-shim (an Ingress annotation)
so that it exists as soon as ``up`` has run and can be read back in the same run: a read of an
object that does not exist fails the whole ``up``, and ingress-shim creates its Certificate only
later. Each environment's Deployment and Certificate are read back after they are written, on
every run, and the Project is ready only when every environment is available and has its
certificate (:func:`components.kapsa.builders.plan.project_status`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.common.kubernetes import child
from components.common.live import read_live
from components.kapsa import builders
from components.kapsa.builders.plan import (
    PlannedWorkload,
    ProjectPlan,
    deployment_image,
    deployment_replicas,
    follows_build,
    project_status,
    workload_image,
)
from components.kapsa.names import child_name

TYPE_TOKEN = "driftless:kapsa:Project"


@dataclass(frozen=True)
class ProjectArgs:
    """A planned project and where the registry credentials it copies live."""

    plan: ProjectPlan
    credentials_namespace: str
    create_namespace: bool = True  # false: the namespace exists already and is only used
    warnings: tuple[str, ...] = ()  # shown by preview, up and render, never fatal


class Project(pulumi.ComponentResource):
    """A Kapsa Project (see the module docstring)."""

    status: pulumi.Output[dict[str, Any]]

    def __init__(self, name: str, args: ProjectArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE_TOKEN, name, None, opts)
        plan = args.plan

        created: list[pulumi.Resource] = []
        if args.create_namespace:
            namespace_object = builders.namespace(plan.namespace, plan.project)
            created.append(
                k8s.core.v1.Namespace(
                    child_name(name, "namespace"), metadata=namespace_object["metadata"], opts=child(self)
                )
            )
        in_namespace = child(self, depends_on=created)

        # Secrets are namespaced and kpack needs the push credentials beside the Image: copy them.
        # The data stays a Pulumi secret from the read to the copy.
        source = k8s.core.v1.Secret.get(
            child_name(name, "registry-credentials-source"),
            id=f"{args.credentials_namespace}/{plan.credentials_secret}",
            opts=child(self),
        )
        credentials_object = builders.registry_credentials(
            plan.namespace, plan.credentials_secret, plan.project, pulumi.Output.secret(source.data)
        )
        credentials = k8s.core.v1.Secret(
            child_name(name, "registry-credentials"),
            metadata=credentials_object["metadata"],
            type=credentials_object["type"],
            data=credentials_object["data"],
            opts=in_namespace,
        )
        secrets: list[pulumi.Resource] = [credentials]
        git = plan.git_credentials
        if git is not None:
            # kpack clones with the Secrets of the Image's ServiceAccount that carry a kpack.io/git
            # annotation for the repository's host: a copy beside the Image, annotated, data secret.
            git_source = k8s.core.v1.Secret.get(
                child_name(name, "git-credentials-source"), id=git.source, opts=child(self)
            )
            git_object = builders.git_credentials(
                plan.namespace,
                plan.project,
                git.kpack_git,
                git_source.type,
                pulumi.Output.secret(git_source.data),
            )
            secrets.append(
                k8s.core.v1.Secret(
                    child_name(name, "git-credentials"),
                    metadata=git_object["metadata"],
                    type=git_object["type"],
                    data=git_object["data"],
                    opts=in_namespace,
                )
            )
        for warning in args.warnings:
            pulumi.log.warn(warning)
        account_object = builders.service_account(
            plan.namespace,
            plan.service_account,
            plan.project,
            plan.credentials_secret,
            builders.GIT_CREDENTIALS_SECRET if git is not None else None,
        )
        account = k8s.core.v1.ServiceAccount(
            child_name(name, "service-account"),
            metadata=account_object["metadata"],
            secrets=account_object["secrets"],
            image_pull_secrets=account_object["imagePullSecrets"],
            opts=in_namespace,
        )

        lives: dict[str, pulumi.Output[Any]] = {}
        for branch, build in plan.built().items():
            assert build.commit is not None  # built() keeps only builds with an observed commit
            image_object = builders.kpack_image(
                name=build.image_name,
                namespace_name=plan.namespace,
                project=plan.project,
                branch=branch,
                branch_slug=build.image_name,
                tag=build.tag,
                git_url=plan.git_url,
                revision=build.commit,
                cluster_builder=plan.cluster_builder,
                service_account_name=plan.service_account,
            )
            image = k8s.apiextensions.CustomResource(
                child_name(name, "image", build.image_name),
                api_version=image_object["apiVersion"],
                kind=image_object["kind"],
                metadata=image_object["metadata"],
                spec=image_object["spec"],
                opts=child(self, depends_on=[*created, account, *secrets]),
            )
            lives[branch] = self._read_back(
                child_name(name, "image", build.image_name, "live"), image, image_object
            )

        served = {
            planned.workload.name: self._environment(name, plan, planned, lives, in_namespace)
            for planned in plan.workloads
        }
        self.status = pulumi.Output.all(_gathered(lives), _gathered(served)).apply(
            lambda parts: project_status(plan, parts[0], parts[1])
        )
        self.register_outputs({"status": self.status})

    def _read_back(
        self, resource_name: str, written: pulumi.CustomResource, written_object: Mapping[str, Any]
    ) -> pulumi.Output[dict[str, Any]]:
        """A written object's live ``{metadata, spec, status}`` (kpack Image, Deployment, Certificate),
        read afresh every run (:func:`components.common.live.read_live`) once the write is done."""
        reference = _reference(written_object)
        return read_live(
            resource_name,
            api_version=written_object["apiVersion"],
            kind=written_object["kind"],
            id=written.id.apply(lambda _: reference),
            opts=child(self, depends_on=[written]),
        )

    def _environment(
        self,
        name: str,
        plan: ProjectPlan,
        planned: PlannedWorkload,
        lives: Mapping[str, pulumi.Output[Any]],
        opts: pulumi.ResourceOptions,
    ) -> pulumi.Output[dict[str, Any]]:
        """Write one environment's objects; its live ``{"deployment": …, "certificate": …}``."""
        workload = planned.workload
        image: pulumi.Input[str]
        replicas: pulumi.Input[int]
        if follows_build(plan, planned):
            choice = lives[workload.branch].apply(
                lambda value: workload_image(plan, planned, {workload.branch: value})
            )
            image = choice.apply(lambda c: deployment_image(plan, planned, c))
            replicas = choice.apply(lambda c: deployment_replicas(planned, c))
        else:  # promoted or recorded images only: known without any live status, even in a preview
            known = workload_image(plan, planned, {})
            image = deployment_image(plan, planned, known)
            replicas = deployment_replicas(planned, known)
        objects = builders.environment_objects(
            plan.project,
            plan.namespace,
            workload,
            image=image,
            replicas=replicas,
            port=plan.port,
            service_account_name=plan.service_account,
            cluster_issuer=plan.cluster_issuer,
            ingress_class_name=plan.ingress_class_name,
        )
        deployment_object, service, ingress, certificate_object = objects
        resource_name = child_name(name, workload.name)
        deployment = k8s.apps.v1.Deployment(
            resource_name, metadata=deployment_object["metadata"], spec=deployment_object["spec"], opts=opts
        )
        k8s.core.v1.Service(resource_name, metadata=service["metadata"], spec=service["spec"], opts=opts)
        k8s.networking.v1.Ingress(
            resource_name, metadata=ingress["metadata"], spec=ingress["spec"], opts=opts
        )
        certificate = k8s.apiextensions.CustomResource(
            resource_name,
            api_version=certificate_object["apiVersion"],
            kind=certificate_object["kind"],
            metadata=certificate_object["metadata"],
            spec=certificate_object["spec"],
            opts=opts,
        )
        live_name = child_name(name, workload.name, "live")
        return pulumi.Output.all(
            deployment=self._read_back(live_name, deployment, deployment_object),
            certificate=self._read_back(live_name, certificate, certificate_object),
        )


def _reference(written_object: Mapping[str, Any]) -> str:
    """``<namespace>/<name>``: the id a read of a namespaced object goes by."""
    return f"{written_object['metadata']['namespace']}/{written_object['metadata']['name']}"


def _gathered(outputs: Mapping[str, pulumi.Output[Any]]) -> pulumi.Output[dict[str, Any]]:
    """One Output of a mapping of Outputs (of an empty mapping too)."""
    if not outputs:
        return pulumi.Output.from_input({})
    return pulumi.Output.all(**outputs)
