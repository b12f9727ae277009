"""Seed 004's sequences, rendered over successive observations like the daemon would run them.

A fake kpack answers each kpack ``Image`` with a realistic status (``Ready`` True with a digest
image, or False with the build's message and the last successful image kept), a fake Deployment
controller and cert-manager answer each environment's Deployment and Certificate (available and
issued, unless a test says otherwise), and a fake daemon carries the Project's outputs into the
next run's observations (last good images, pins, preview first-seen times), so each test walks
through runs the way the daemon, kpack and the cluster drive them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pulumi.runtime import mocks

from components.kapsa.builders import DOCKER_CONFIG_TYPE
from components.kapsa.builders.plan import pin_key
from tests.components.kapsa.conftest import REPO
from tests.harness import RenderedGraph

IMAGE = "kubernetes:kpack.io/v1alpha2:Image"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
SECRET = "kubernetes:core/v1:Secret"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
START = datetime.fromisoformat("2026-11-21T12:00:00+00:00")


def built_image(tag: str, commit: str) -> str:
    """The digest reference kpack would report for a build of ``commit`` pushed to ``tag``."""
    repository = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
    return f"{repository}@sha256:{hashlib.sha256(f'{tag}@{commit}'.encode()).hexdigest()}"


MAIN_TAG = "harbor.corp.com/myapp/api"


@dataclass
class FakeKpack:
    """Builds every commit it is asked to, except broken ones and ones still building.

    The program writes each kpack Image, then reads it back (``namespace/name``) for its status.
    """

    broken: dict[str, str] = field(default_factory=dict)  # commit -> failure message
    building: set[str] = field(default_factory=set)
    latest: dict[str, str] = field(default_factory=dict)  # tag -> last successful image
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # namespace/name -> object

    def answer(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        if not args.resource_id:  # the program writes the Image (a read names the object)
            metadata = args.inputs["metadata"]
            self.written[f"{metadata['namespace']}/{metadata['name']}"] = dict(args.inputs)
            return {}
        written = self.written[args.resource_id]
        return {
            **written,
            "status": self.status(written["spec"]),
            "metadata": {**written["metadata"], "generation": 1},
        }

    def status(self, spec: dict[str, Any]) -> dict[str, Any]:
        tag, commit = spec["tag"], spec["source"]["git"]["revision"]
        status: dict[str, Any] = {"observedGeneration": 1}
        if commit in self.building:
            ready = {"type": "Ready", "status": "Unknown"}
        elif commit in self.broken:
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": "BuildFailed",
                "message": self.broken[commit],
            }
        else:
            self.latest[tag] = built_image(tag, commit)
            ready = {"type": "Ready", "status": "True"}
        if tag in self.latest:  # kpack keeps the last successful image through later failures
            status["latestImage"] = self.latest[tag]
        status["conditions"] = [ready, {"type": "BuilderReady", "status": "True"}]
        return status


@dataclass
class FakeCluster:
    """The Deployment controller and cert-manager, as far as the program reads them back.

    Every Deployment is available with all its replicas and every Certificate issued, except those
    a test names (``namespace/name``); the program writes each object, then reads it by that id.
    """

    unavailable: dict[str, str] = field(default_factory=dict)  # Deployment -> Available message
    uncertified: dict[str, str] = field(default_factory=dict)  # Certificate -> Ready=False message
    unissued: set[str] = field(default_factory=set)  # Certificates cert-manager has not reported on
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<kind> namespace/name" -> object

    def deployment(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        written = self._written("Deployment", args)
        if written is None:
            return {}
        reference, desired = args.resource_id, written["spec"]["replicas"]
        status: dict[str, Any] = {"observedGeneration": 1, "replicas": desired, "updatedReplicas": desired}
        if reference in self.unavailable:
            status["unavailableReplicas"] = desired
            available = {
                "type": "Available",
                "status": "False",
                "reason": "MinimumReplicasUnavailable",
                "message": self.unavailable[reference],
            }
        else:
            status.update(readyReplicas=desired, availableReplicas=desired)
            available = {
                "type": "Available",
                "status": "True",
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            }
        progressing = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
        status["conditions"] = [available, progressing]
        return {**written, "metadata": {**written["metadata"], "generation": 1}, "status": status}

    def certificate(self, args: mocks.MockResourceArgs) -> dict[str, Any]:
        written = self._written("Certificate", args)
        if written is None:
            return {}
        reference = args.resource_id
        live = {**written, "metadata": {**written["metadata"], "generation": 1}}
        if reference in self.unissued:
            return live
        if reference in self.uncertified:
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": "DoesNotExist",
                "message": self.uncertified[reference],
                "observedGeneration": 1,
            }
            conditions = [ready, {"type": "Issuing", "status": "True", "reason": "DoesNotExist"}]
            return {**live, "status": {"conditions": conditions}}
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "Certificate is up to date and has not expired",
            "observedGeneration": 1,
        }
        return {**live, "status": {"conditions": [ready], "notAfter": "2027-02-19T12:00:00Z"}}

    def _written(self, kind: str, args: mocks.MockResourceArgs) -> dict[str, Any] | None:
        """The object a read names; None (after keeping it) for a write."""
        if not args.resource_id:
            metadata = args.inputs["metadata"]
            self.written[f"{kind} {metadata['namespace']}/{metadata['name']}"] = dict(args.inputs)
            return None
        return self.written[f"{kind} {args.resource_id}"]


DOCKER_CONFIG = base64.b64encode(b'{"auths": {"harbor.corp.com": {"auth": "cm9ib3Q6aHVudGVyMg=="}}}').decode()


def secret_outputs(args: mocks.MockResourceArgs) -> dict[str, Any]:
    # A read of the registry's docker-registry Secret; a created Secret keeps its inputs.
    if not args.resource_id:
        return {}
    return {"type": DOCKER_CONFIG_TYPE, "data": {".dockerconfigjson": DOCKER_CONFIG}}


def outputs(
    kpack: FakeKpack, issuer_ready: str = "True", cluster: FakeCluster | None = None
) -> dict[str, Callable[..., Any]]:
    issuer = {
        "conditions": [
            {"type": "Ready", "status": issuer_ready, "message": "The ACME account was registered"}
        ]
    }
    cluster = cluster or FakeCluster()
    return {
        IMAGE: kpack.answer,
        SECRET: secret_outputs,
        ISSUER: lambda args: {"status": issuer},
        DEPLOYMENT: cluster.deployment,
        CERTIFICATE: cluster.certificate,
    }


@dataclass
class Daemon:
    """What the daemon carries from one run to the next, and the runs themselves."""

    render: Callable[..., RenderedGraph]
    documents: list[dict[str, Any]]
    kpack: FakeKpack = field(default_factory=FakeKpack)
    cluster: FakeCluster = field(default_factory=FakeCluster)
    now: datetime = START
    images: dict[str, Any] = field(default_factory=dict)
    previews: dict[str, Any] = field(default_factory=dict)

    def run(self, heads: dict[str, str], *, record: bool = True) -> RenderedGraph:
        observations = {
            "now": self.now.isoformat(),
            "git": {REPO: heads},
            "previews": self.previews,
            "images": self.images,
        }
        graph = self.render(
            self.documents, observations=observations, outputs=outputs(self.kpack, cluster=self.cluster)
        )
        assert graph.problems == [], graph.problems
        if record:
            status = graph.outputs()["Project/api"]
            # Both maps are recorded the same way: "<project>/<key>" -> image, never removed.
            self.images = {**self.images}
            for key, image in {**status["lastGoodImages"], **status["pinnedImages"]}.items():
                self.images[f"api/{key}"] = image
            self.previews = {
                f"api/{slug}": {"firstSeen": p["firstSeen"]} for slug, p in status["previews"].items()
            }
        return graph


def image_of(graph: RenderedGraph, environment: str) -> str:
    return graph.input(f"api/{environment}", "spec.template.spec.containers[0].image", DEPLOYMENT)


def replicas_of(graph: RenderedGraph, environment: str) -> int:
    return graph.input(f"api/{environment}", "spec.replicas", DEPLOYMENT)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def names(graph: RenderedGraph, type_token: str) -> set[str]:
    """Names of the objects of a type the program writes (reads of live objects left out)."""
    return {r.name for r in graph.of_type(type_token) if r.read is None}


def written(graph: RenderedGraph, type_token: str) -> list[Any]:
    return [r for r in graph.of_type(type_token) if r.read is None]


# --- 1. initial deployment ---------------------------------------------------------------------


def test_initial_deploy_builds_main_and_runs_every_environment_on_it(render, documents):
    graph = Daemon(render, documents).run({"main": "abc123d"})
    good = built_image(MAIN_TAG, "abc123d")

    namespace = graph.named("api/namespace", "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == "api"
    account = graph.named("api/service-account", "kubernetes:core/v1:ServiceAccount").inputs
    assert account["secrets"] == [{"name": "harbor-push-credentials"}]
    assert account["imagePullSecrets"] == [{"name": "harbor-push-credentials"}]

    (image,) = written(graph, IMAGE)
    assert image.inputs["spec"] == {
        "tag": MAIN_TAG,
        "serviceAccountName": "api",
        "builder": {"kind": "ClusterBuilder", "name": "default"},
        "source": {"git": {"url": REPO, "revision": "abc123d"}},
    }
    # Its build status is read back from the live object on every run, not remembered.
    assert graph.named("api/image/main/live", IMAGE).read == "api/main"
    assert (image_of(graph, "dev"), replicas_of(graph, "dev")) == (good, 1)
    assert (image_of(graph, "prod"), replicas_of(graph, "prod")) == (good, 3)

    status = graph.outputs()["Project/api"]
    assert status["lastGoodImages"] == {"main": {"image": good, "commit": "abc123d"}}
    assert condition(status, "BuildSucceeded")["status"] == "True"
    assert condition(status, "Ready")["status"] == "True"
    assert (status["ready"], status["reason"]) == ("True", "EnvironmentsRunning")
    assert status["phase"] == "Running"
    assert status["environments"]["dev"] == {
        "type": "permanent",
        "branch": "main",
        "url": "https://dev.api.apps.corp.com",
        "image": good,
        "imageSource": "latest",
        "commit": "abc123d",
        "replicas": 1,
        "ready": "True",
        "reason": "EnvironmentReady",
        "message": "Deployment available (1/1 replicas ready); "
        "Certificate 'dev-tls' issued, valid until 2027-02-19T12:00:00Z",
    }
    assert "requeueAfterSeconds" not in status  # nothing to wait for
    # Each environment's Deployment and Certificate are read back after they are written.
    assert graph.named("api/prod/live", DEPLOYMENT).read == "api/prod"
    assert graph.named("api/prod/live", CERTIFICATE).read == "api/prod-tls"
    assert graph.warnings == []  # every object had a schema, the kpack Image and Certificates included


def test_before_the_first_good_build_environments_exist_with_no_pods(render, documents):
    daemon = Daemon(render, documents, FakeKpack(building={"abc123d"}))
    graph = daemon.run({"main": "abc123d"})
    assert replicas_of(graph, "dev") == 0
    assert replicas_of(graph, "prod") == 0
    assert names(graph, INGRESS) == {"api/dev", "api/prod"}  # hosts and certificates come first
    status = graph.outputs()["Project/api"]
    assert status["phase"] == "Building"
    assert condition(status, "Ready")["status"] == "False"
    assert (status["ready"], status["reason"]) == ("False", "WaitingForImage")
    assert status["message"] == "no good image yet for: dev, prod"
    assert status["requeueAfterSeconds"] == 60
    dev = status["environments"]["dev"]
    assert (dev["ready"], dev["reason"]) == ("False", "WaitingForImage")
    assert dev["message"] == "no good image of branch 'main' yet (build Building)"

    daemon.kpack.building.clear()
    graph = daemon.run({"main": "abc123d"})
    assert (image_of(graph, "dev"), replicas_of(graph, "dev")) == (built_image(MAIN_TAG, "abc123d"), 1)


def test_without_an_observed_commit_nothing_is_built(render, documents):
    graph = Daemon(render, documents).run({})
    assert graph.of_type(IMAGE) == []  # neither written nor read
    assert replicas_of(graph, "dev") == 0
    assert graph.outputs()["Project/api"]["phase"] == "Pending"


def test_the_cluster_builder_comes_from_stack_config(render, documents):
    observations = {"now": START.isoformat(), "git": {REPO: {"main": "abc123d"}}}
    graph = render(documents, observations=observations, config={"kapsaClusterBuilder": "paketo-jammy"})
    (image,) = written(graph, IMAGE)
    assert image.inputs["spec"]["builder"] == {"kind": "ClusterBuilder", "name": "paketo-jammy"}


# --- 2. source update, auto-sync and promotion -------------------------------------------------


def test_a_new_commit_rolls_the_auto_sync_environment_and_not_the_pinned_one(render, documents, project):
    daemon = Daemon(render, documents)
    first, second = built_image(MAIN_TAG, "abc123d"), built_image(MAIN_TAG, "def456e")
    graph = daemon.run({"main": "abc123d"})
    assert image_of(graph, "dev") == image_of(graph, "prod") == first

    graph = daemon.run({"main": "def456e"})
    assert graph.input("api/image/main", "spec.source.git.revision", IMAGE) == "def456e"
    assert image_of(graph, "dev") == second
    assert image_of(graph, "prod") == first
    assert graph.outputs()["Project/api"]["lastGoodImages"]["main"] == {"image": second, "commit": "def456e"}

    # Runs later, with the new image recorded as main's last good one, prod is still pinned.
    assert daemon.images[pin_key("api", "prod")]["image"] == first
    for _ in range(2):
        graph = daemon.run({"main": "def456e"})
        assert image_of(graph, "prod") == first
        assert graph.outputs()["Project/api"]["environments"]["prod"]["imageSource"] == "pinned"

    # Promotion: the image to run is written into the pinned environment.
    project["spec"]["environments"][1]["image"] = second
    graph = daemon.run({"main": "def456e"})
    assert image_of(graph, "prod") == second
    prod = graph.outputs()["Project/api"]["environments"]["prod"]
    assert (prod["imageSource"], prod["commit"]) == ("promoted", "def456e")


def test_the_last_good_image_survives_into_later_runs(render, documents):
    daemon = Daemon(render, documents)
    daemon.run({"main": "abc123d"})
    # kpack's Image is gone (its status lost), the branch head unknown: the record still serves.
    graph = daemon.run({})
    assert image_of(graph, "dev") == built_image(MAIN_TAG, "abc123d")
    assert graph.outputs()["Project/api"]["environments"]["dev"]["imageSource"] == "recorded"


# --- 3 and 4. preview environments -------------------------------------------------------------


def test_a_feature_branch_gets_a_preview_until_it_is_deleted(render, documents):
    daemon = Daemon(render, documents)
    graph = daemon.run({"main": "abc123d"})
    assert names(graph, DEPLOYMENT) == {"api/dev", "api/prod"}

    graph = daemon.run({"main": "abc123d", "feature/new-api": "xyz789a"})
    assert names(graph, DEPLOYMENT) == {"api/dev", "api/prod", "api/feature-new-api"}
    preview = graph.named("api/feature-new-api", INGRESS).inputs
    assert preview["spec"]["rules"][0]["host"] == "feature-new-api.api.apps.corp.com"
    assert preview["metadata"]["labels"]["kapsa.dev/type"] == "preview"
    assert preview["metadata"]["labels"]["kapsa.dev/branch"] == "feature-new-api"
    branch_image = graph.named("api/image/feature-new-api", IMAGE).inputs["spec"]
    assert branch_image["source"]["git"]["revision"] == "xyz789a"
    assert branch_image["tag"] == "harbor.corp.com/myapp/api:feature-new-api"
    assert image_of(graph, "feature-new-api") == built_image(branch_image["tag"], "xyz789a")
    status = graph.outputs()["Project/api"]
    expires = (START + timedelta(hours=168)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["previews"]["feature-new-api"]["expiresAt"] == expires
    assert status["environments"]["feature-new-api"]["expiresAt"] == expires
    assert status["environments"]["feature-new-api"]["url"] == "https://feature-new-api.api.apps.corp.com"

    graph = daemon.run({"main": "abc123d"})  # merged and deleted
    assert names(graph, DEPLOYMENT) == {"api/dev", "api/prod"}
    assert names(graph, SERVICE) == {"api/dev", "api/prod"}
    assert names(graph, INGRESS) == {"api/dev", "api/prod"}
    assert names(graph, IMAGE) == {"api/image/main"}
    assert graph.outputs()["Project/api"]["previews"] == {}


def test_a_preview_is_removed_once_its_ttl_has_passed(render, documents, project):
    project["spec"]["previewEnvironments"]["ttlHours"] = 24
    daemon = Daemon(render, documents)
    heads = {"main": "abc123d", "feature/new-api": "xyz789a"}
    daemon.run(heads)  # first seen now

    daemon.now = START + timedelta(hours=23)
    graph = daemon.run(heads)
    assert "api/feature-new-api" in names(graph, DEPLOYMENT)
    # The daemon is asked back in time to remove it.
    assert graph.outputs()["Project/api"]["requeueAfterSeconds"] == 3600

    daemon.now = START + timedelta(hours=24)
    graph = daemon.run(heads)
    assert names(graph, DEPLOYMENT) == {"api/dev", "api/prod"}
    assert names(graph, IMAGE) == {"api/image/main"}
    status = graph.outputs()["Project/api"]
    assert status["previews"] == {}
    assert status["expiredPreviews"] == ["feature/new-api"]


def test_excluded_branches_get_no_preview(render, documents, project):
    project["spec"]["previewEnvironments"]["include"] = ["feature/*"]
    project["spec"]["previewEnvironments"]["exclude"] = ["feature/wip-*"]
    graph = Daemon(render, documents).run({"main": "1", "feature/a": "2", "feature/wip-b": "3", "fix/c": "4"})
    assert names(graph, DEPLOYMENT) == {"api/dev", "api/prod", "api/feature-a"}


def test_awkward_branch_names_get_valid_distinct_previews(render, documents):
    heads = {
        "main": "1",
        "feature/" + "very-long-branch-name-" * 5: "2",
        "feature/" + "very-long-branch-name-" * 5 + "v2": "3",
        "Fix/Ünïcode-Straße": "4",
        "fix/unicode-strasse": "5",
        "功能/登录": "6",
        "dev": "7",  # named like a permanent environment
    }
    graph = Daemon(render, documents).run(heads)  # the daemon asserts graph.problems == []
    previews = graph.outputs()["Project/api"]["previews"]
    assert sorted(p["branch"] for p in previews.values()) == sorted(set(heads) - {"main"})
    hosts = [r.inputs["spec"]["rules"][0]["host"] for r in graph.of_type(INGRESS)]
    assert len(hosts) == len(set(hosts)) == 2 + len(previews)
    for host in hosts:
        label = host.split(".")[0]
        assert len(label) <= 63
        assert label.isascii()
        assert label == label.lower()
    assert "dev.api.apps.corp.com" in hosts
    assert previews.keys().isdisjoint({"dev", "prod"})


# --- 7. build failure --------------------------------------------------------------------------


def test_a_failed_build_keeps_every_environment_on_its_last_good_image(render, documents):
    daemon = Daemon(render, documents)
    good = built_image(MAIN_TAG, "abc123d")
    daemon.run({"main": "abc123d"})

    daemon.kpack.broken["bad123f"] = "npm install failed: ERESOLVE unable to resolve dependency tree"
    for _ in range(2):  # the failure is stable across runs, the record kept
        graph = daemon.run({"main": "bad123f"})
        assert graph.input("api/image/main", "spec.source.git.revision", IMAGE) == "bad123f"
        assert image_of(graph, "dev") == good
        assert image_of(graph, "prod") == good
        status = graph.outputs()["Project/api"]
        build = condition(status, "BuildSucceeded")
        assert (build["status"], build["reason"]) == ("False", "BuildFailed")
        assert "npm install failed: ERESOLVE" in build["message"]
        assert status["lastGoodImages"]["main"] == {"image": good, "commit": "abc123d"}

    graph = daemon.run({"main": "fed987c"})  # the fix
    assert image_of(graph, "dev") == built_image(MAIN_TAG, "fed987c")
    assert image_of(graph, "prod") == good
    assert condition(graph.outputs()["Project/api"], "BuildSucceeded")["status"] == "True"


# --- environment readiness: Deployment available, Certificate issued ---------------------------


def test_an_unavailable_deployment_keeps_the_project_progressing_until_it_is_available(render, documents):
    daemon = Daemon(render, documents)
    daemon.cluster.unavailable["api/prod"] = "Deployment does not have minimum availability."
    graph = daemon.run({"main": "abc123d"})
    status = graph.outputs()["Project/api"]
    assert (status["ready"], status["reason"]) == ("False", "Progressing")
    assert condition(status, "Ready")["status"] == "False"
    assert status["message"] == (
        "not ready yet: prod (DeploymentUnavailable): Deployment unavailable: "
        "Deployment does not have minimum availability (0/3 replicas ready)"
    )
    assert status["phase"] == "Progressing"
    assert status["requeueAfterSeconds"] == 30  # the daemon looks again while it rolls out
    prod, dev = status["environments"]["prod"], status["environments"]["dev"]
    assert (prod["ready"], prod["reason"]) == ("False", "DeploymentUnavailable")
    assert (dev["ready"], dev["reason"]) == ("True", "EnvironmentReady")
    assert prod["image"] == built_image(MAIN_TAG, "abc123d")  # on its image; only not serving yet

    daemon.cluster.unavailable.clear()  # the pods became ready
    status = daemon.run({"main": "abc123d"}).outputs()["Project/api"]
    assert (status["ready"], status["reason"]) == ("True", "EnvironmentsRunning")
    assert status["environments"]["prod"]["ready"] == "True"
    assert "requeueAfterSeconds" not in status


def test_a_certificate_cert_manager_has_not_issued_keeps_its_environment_progressing(render, documents):
    daemon = Daemon(render, documents)
    daemon.cluster.uncertified["api/dev-tls"] = "Issuing certificate as Secret does not exist"
    daemon.cluster.unissued.add("api/feature-new-api-tls")
    graph = daemon.run({"main": "abc123d", "feature/new-api": "xyz789a"})
    status = graph.outputs()["Project/api"]
    assert (status["ready"], status["reason"]) == ("False", "Progressing")
    assert status["message"] == (
        "not ready yet: dev (CertificateNotReady): Certificate 'dev-tls' not ready: Issuing certificate "
        "as Secret does not exist; feature-new-api (CertificateNotIssued): Certificate "
        "'feature-new-api-tls' not issued yet, no status from cert-manager"
    )
    environments = status["environments"]
    assert (environments["dev"]["ready"], environments["dev"]["reason"]) == ("False", "CertificateNotReady")
    preview = environments["feature-new-api"]
    # cert-manager has said nothing yet: not ready, and not known to be failing either.
    assert (preview["ready"], preview["reason"]) == ("Unknown", "CertificateNotIssued")
    assert environments["prod"]["ready"] == "True"
    assert status["requeueAfterSeconds"] == 30

    daemon.cluster.uncertified.clear()
    daemon.cluster.unissued.clear()
    status = daemon.run({"main": "abc123d", "feature/new-api": "xyz789a"}).outputs()["Project/api"]
    assert (status["ready"], status["reason"]) == ("True", "EnvironmentsRunning")


def test_an_environment_waiting_for_its_first_image_is_reported_as_waiting_not_progressing(render, documents):
    # dev runs main (built); the preview's branch is still building, so its Deployment has no pods.
    daemon = Daemon(render, documents, FakeKpack(building={"xyz789a"}))
    daemon.cluster.unavailable["api/dev"] = "Deployment does not have minimum availability."
    graph = daemon.run({"main": "abc123d", "feature/new-api": "xyz789a"})
    status = graph.outputs()["Project/api"]
    assert replicas_of(graph, "feature-new-api") == 0
    assert (status["ready"], status["reason"]) == ("False", "WaitingForImage")
    assert status["message"] == (
        "no good image yet for: feature-new-api; not ready yet: dev (DeploymentUnavailable): "
        "Deployment unavailable: Deployment does not have minimum availability (0/1 replicas ready)"
    )
    environments = status["environments"]
    assert environments["feature-new-api"]["reason"] == "WaitingForImage"
    assert environments["dev"]["reason"] == "DeploymentUnavailable"  # still said per environment
    assert status["requeueAfterSeconds"] == 30


# --- hosts, TLS, secrets -----------------------------------------------------------------------


def test_every_ingress_serves_its_host_over_tls_from_a_certificate_of_the_pools_issuer(render, documents):
    graph = Daemon(render, documents).run({"main": "abc123d", "feature/new-api": "xyz789a"})
    ingresses = graph.of_type(INGRESS)
    assert len(ingresses) == 3
    certificates = {r.name: r.inputs for r in written(graph, CERTIFICATE)}
    assert certificates.keys() == {"api/dev", "api/prod", "api/feature-new-api"}
    for ingress in ingresses:
        spec = ingress.inputs["spec"]
        environment = ingress.inputs["metadata"]["name"]
        host = f"{environment}.api.apps.corp.com"
        assert spec["rules"][0]["host"] == host
        assert spec["tls"] == [{"hosts": [host], "secretName": f"{environment}-tls"}]
        # The program owns the Certificate; no annotation asks ingress-shim for a second one.
        annotations = ingress.inputs["metadata"].get("annotations", {})
        assert not any(key.startswith("cert-manager.io/") for key in annotations)
        certificate = certificates[ingress.name]
        assert certificate["metadata"]["name"] == f"{environment}-tls"
        assert certificate["metadata"]["namespace"] == "api"
        assert certificate["metadata"]["labels"]["kapsa.dev/environment"] == environment
        assert certificate["spec"] == {
            "secretName": f"{environment}-tls",
            "dnsNames": [host],
            "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt-prod"},
        }
    assert graph.warnings == []  # validated against cert-manager's Certificate CRD


def test_secret_refs_become_env_from_and_credentials_stay_secret(render, documents):
    graph = Daemon(render, documents).run({"main": "abc123d"})
    containers = graph.input("api/prod", "spec.template.spec.containers", DEPLOYMENT)
    assert containers[0]["envFrom"] == [{"secretRef": {"name": "api-secrets-prod"}}]
    copy = graph.named("api/registry-credentials", SECRET)
    assert copy.inputs["metadata"] == {
        **copy.inputs["metadata"],
        "namespace": "api",
        "name": "harbor-push-credentials",
    }
    assert copy.inputs["type"] == DOCKER_CONFIG_TYPE
    assert copy.inputs["data"] == "[secret]"
    rendered = json.dumps(graph.result.to_json())
    assert DOCKER_CONFIG not in rendered
    assert "cm9ib3Q6aHVudGVyMg" not in rendered
    source = graph.named("api/registry-credentials-source", SECRET)
    assert source.read == "default/harbor-push-credentials"


def _project_named(project: dict[str, Any], name: str, environments: list[str]) -> dict[str, Any]:
    spec = {**project["spec"], "environments": [{"name": e, "branch": "main"} for e in environments]}
    return {**project, "metadata": {"name": name}, "spec": spec}


def test_projects_whose_names_and_environments_overlap_keep_distinct_resources(render, documents, project):
    # "api" + "x-y" and "api-x" + "y": joined with '-', both would register Deployment "api-x-y".
    documents[2] = _project_named(project, "api", ["x-y"])
    documents.append(_project_named(project, "api-x", ["y"]))
    observations = {"now": START.isoformat(), "git": {REPO: {"main": "abc123d"}}}
    graph = render(documents, observations=observations, outputs=outputs(FakeKpack()))
    assert graph.problems == []
    assert names(graph, DEPLOYMENT) == {"api/x-y", "api-x/y"}


def test_a_preview_never_takes_the_resource_names_of_another_projects_environment(render, documents):
    # Branch "web/prod" previews as "web-prod" in Project api; Project api-web has environment prod.
    other = _project_named(documents[2], "api-web", ["prod"])
    graph = Daemon(render, [*documents, other]).run({"main": "abc123d", "web/prod": "bcd234e"})
    assert graph.problems == []
    assert {"api/web-prod", "api-web/prod"} <= names(graph, DEPLOYMENT)
    assert {"api/image/web-prod", "api-web/image/main"} <= names(graph, IMAGE)


def test_a_branch_named_like_a_build_read_keeps_its_own_image(render, documents):
    # Branch "main-live": its kpack Image and the read of main's Image were both "api-image-main-live".
    graph = Daemon(render, documents).run({"main": "abc123d", "main-live": "bcd234e"})
    assert graph.problems == []
    assert names(graph, IMAGE) == {"api/image/main", "api/image/main-live"}
    assert graph.named("api/image/main/live", IMAGE).read == "api/main"
    assert graph.named("api/image/main-live/live", IMAGE).read == "api/main-live"


def test_two_projects_in_one_namespace_are_rejected(render, documents, project):
    other = {**project, "metadata": {"name": "web", "namespace": "api"}}
    graph = render([*documents, other])
    (problem,) = graph.problems
    assert graph.resources == []  # rejected at load, before anything registers
    assert problem.endswith(
        "Project/web: metadata.namespace: namespace 'api' is already created by Project/api "
        "(line 16); a namespace can be created by one document only, since deleting that document "
        "deletes the namespace and everything in it: use another namespace, or set createNamespace: "
        "false to share it"
    )
    assert ".yaml:" in problem


def test_a_project_naming_a_missing_pool_renders_nothing(render, documents, project):
    project["spec"]["domainPool"] = "nowhere"
    graph = render(documents)
    assert graph.resources == []
    (problem,) = graph.problems
    assert "Project/api: spec.domainPool: DomainPool 'nowhere' is not defined in this stack" in problem


# --- DomainPool and Registry -------------------------------------------------------------------


def test_the_domain_pool_reads_its_cluster_issuer_and_reports_ready(render, documents):
    graph = render(documents[:1], outputs=outputs(FakeKpack()))
    issuer = graph.named("apps-pool/cluster-issuer", ISSUER)
    assert issuer.read == "letsencrypt-prod"
    status = graph.outputs()["DomainPool/apps-pool"]
    assert (status["ready"], status["reason"]) == ("True", "IssuerReady")
    assert condition(status, "Ready")["status"] == "True"
    assert status["baseDomain"] == "apps.corp.com"


def test_a_domain_pool_with_an_issuer_not_ready_says_so(render, documents):
    graph = render(documents[:1], outputs=outputs(FakeKpack(), issuer_ready="False"))
    status = graph.outputs()["DomainPool/apps-pool"]
    assert (status["ready"], status["reason"]) == ("False", "IssuerNotReady")
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "IssuerNotReady")
    assert "letsencrypt-prod" in ready["message"]
    assert status["requeueAfterSeconds"] > 0


def test_the_registry_reads_its_credentials_secret_by_name(render, documents):
    graph = render(documents[1:2], outputs=outputs(FakeKpack()))
    assert graph.named("harbor/credentials", SECRET).read == "default/harbor-push-credentials"
    status = graph.outputs()["Registry/harbor"]
    assert condition(status, "CredentialsFound")["status"] == "True"
    assert (status["ready"], status["reason"]) == ("True", "SecretFound")
    assert status["verified"] is False  # the daemon's network check decides
    assert condition(status, "Verified")["status"] == "Unknown"
    assert status["verify"] == {
        "server": "harbor.corp.com",
        "scheme": "https",
        "credentialsSecret": {"namespace": "default", "name": "harbor-push-credentials"},
    }


def test_a_registry_secret_of_the_wrong_type_is_reported(render, documents):
    graph = render(documents[1:2], outputs={SECRET: lambda args: {"type": "Opaque"}})
    status = graph.outputs()["Registry/harbor"]
    found = condition(status, "CredentialsFound")
    assert (found["status"], found["reason"]) == ("False", "WrongSecretType")
    assert (status["ready"], status["message"]) == ("False", found["message"])
